// The DecisionPath diagram: layers as columns, each critical channel as a tile showing its
// activation map over a faded copy of the image, edges drawn with width by weight, the
// best chain highlighted, and the class at the end. Plain OpenCV; no LibTorch.
#ifndef XAI_CORE_IMAGE_PATH_DIAGRAM_H_
#define XAI_CORE_IMAGE_PATH_DIAGRAM_H_

#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "core/methods/path/path_types.h"

namespace xai::core {

struct DiagramNode {
  int layer = 0;  // column
  int channel = 0;
  float share = 0;  // of the layer's positive relevance, shown under the tile
  cv::Mat map;      // the channel's activation, CV_32F, any size
};

struct DiagramSpec {
  cv::Mat image;                    // the model's input as 8-bit BGR
  std::vector<std::string> layers;  // column titles
  std::vector<DiagramNode> nodes;   // per layer in the order to draw, top to bottom
  std::vector<PathEdge> edges;
  std::vector<int> best_chain;  // one channel per layer; empty: none highlighted
  std::string class_text;       // e.g. "star (class 3), p = 0.97"
};

// Tiles per column at most; the rest of a column is summarised as "+N more".
inline constexpr int kDiagramTilesPerLayer = 12;
// Lighter edges are left out of the picture (not of the response), except the best chain's.
inline constexpr float kDiagramMinEdgeWeight = 0.05f;

// The diagram as PNG bytes. INTERNAL if encoding fails.
StatusOr<std::string> RenderPathDiagramPng(const DiagramSpec& spec);

}  // namespace xai::core

#endif  // XAI_CORE_IMAGE_PATH_DIAGRAM_H_
