#include "core/image/path_diagram.h"

#include <algorithm>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace xai::core {
namespace {

constexpr int kTile = 64;        // pixels per tile side
constexpr int kRowGap = 26;      // room under a tile for its label
constexpr int kColumnGap = 120;  // room between columns for the edges
constexpr int kMargin = 24;
constexpr int kHeader = 40;
const cv::Scalar kBackground(255, 255, 255);
const cv::Scalar kInk(40, 40, 40);
const cv::Scalar kEdge(150, 150, 150);
const cv::Scalar kHighlight(40, 40, 220);  // red, BGR

// The image as every tile's background: grey, tile-sized, halfway to white.
cv::Mat FadedTile(const cv::Mat& image) {
  if (image.empty()) return cv::Mat(kTile, kTile, CV_8UC3, kBackground);
  cv::Mat grey, faded;
  cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
  cv::cvtColor(grey, faded, cv::COLOR_GRAY2BGR);
  cv::resize(faded, faded, cv::Size(kTile, kTile), 0, 0, cv::INTER_AREA);
  faded.convertTo(faded, CV_8UC3, 0.5, 127.5);
  return faded;
}

// The tile of one node: its activation map (normalised by its maximum, JET) over `faded`.
cv::Mat Tile(const cv::Mat& faded, const cv::Mat& map) {
  if (map.empty()) return faded.clone();
  cv::Mat m;
  cv::resize(map, m, cv::Size(kTile, kTile), 0, 0, cv::INTER_LINEAR);
  double max_value = 0;
  cv::minMaxLoc(m, nullptr, &max_value);
  m = cv::max(m, 0.0);
  if (max_value > 0) m /= max_value;
  cv::Mat heat8;
  m.convertTo(heat8, CV_8U, 255.0);
  cv::Mat heat;
  cv::applyColorMap(heat8, heat, cv::COLORMAP_JET);
  cv::Mat tile;
  cv::addWeighted(heat, 0.6, faded, 0.4, 0.0, tile);
  return tile;
}

void Text(cv::Mat& canvas, const std::string& text, cv::Point at, double scale,
          const cv::Scalar& colour) {
  cv::putText(canvas, text, at, cv::FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv::LINE_AA);
}

}  // namespace

StatusOr<std::string> RenderPathDiagramPng(const DiagramSpec& spec) {
  const int layers = static_cast<int>(spec.layers.size());
  // Which nodes are drawn, per column, and where.
  auto on_chain = [&](int l, int channel) {
    return static_cast<int>(spec.best_chain.size()) == layers && spec.best_chain[l] == channel;
  };
  // The first tiles of each column in the given order; the best chain's node always, in
  // place of the last one when it comes later.
  std::vector<std::vector<const DiagramNode*>> columns(layers);
  std::vector<int> hidden(layers, 0);
  for (const DiagramNode& node : spec.nodes) {
    if (node.layer < 0 || node.layer >= layers) continue;
    auto& column = columns[node.layer];
    if (static_cast<int>(column.size()) < kDiagramTilesPerLayer) {
      column.push_back(&node);
      continue;
    }
    ++hidden[node.layer];
    if (on_chain(node.layer, node.channel)) column.back() = &node;
  }
  size_t rows = 1;
  for (const auto& column : columns) rows = std::max(rows, column.size());
  const int column_height = static_cast<int>(rows) * (kTile + kRowGap);
  const int image_side = std::min(column_height, 2 * kTile);
  const int x0 = kMargin + image_side + kColumnGap;  // the first layer's column
  const int class_width = 300;
  auto column_x = [&](int l) { return x0 + l * (kTile + kColumnGap); };
  const int class_x = (layers > 0 ? column_x(layers - 1) + kTile : x0) + 50;
  const int width = class_x + class_width;
  const int height = kHeader + column_height + kRowGap + kMargin;
  cv::Mat canvas(height, width, CV_8UC3, kBackground);

  auto tile_y = [&](int row, int count) {
    const int used = count * (kTile + kRowGap);
    return kHeader + (column_height - used) / 2 + row * (kTile + kRowGap);
  };
  std::map<std::pair<int, int>, cv::Point> position;  // (layer, channel) -> tile's top left
  for (int l = 0; l < layers; ++l) {
    const int count = static_cast<int>(columns[l].size());
    for (int r = 0; r < count; ++r)
      position[{l, columns[l][r]->channel}] = {column_x(l), tile_y(r, count)};
  }
  // The input, then the edges below the tiles.
  const int image_y = kHeader + (column_height - image_side) / 2;
  if (!spec.image.empty()) {
    cv::Mat image;
    cv::resize(spec.image, image, cv::Size(image_side, image_side), 0, 0, cv::INTER_AREA);
    image.copyTo(canvas(cv::Rect(kMargin, image_y, image_side, image_side)));
  }
  Text(canvas, "input", {kMargin, kHeader - 14}, 0.5, kInk);
  std::vector<const PathEdge*> edges;
  for (const PathEdge& e : spec.edges) edges.push_back(&e);
  std::stable_sort(edges.begin(), edges.end(), [&](const PathEdge* a, const PathEdge* b) {
    const bool ha = on_chain(a->layer, a->from_channel) && on_chain(a->layer + 1, a->to_channel);
    const bool hb = on_chain(b->layer, b->from_channel) && on_chain(b->layer + 1, b->to_channel);
    return ha != hb ? hb : a->weight < b->weight;  // the heaviest and the chain on top
  });
  for (const PathEdge* e : edges) {
    const auto from = position.find({e->layer, e->from_channel});
    const auto to = position.find({e->layer + 1, e->to_channel});
    if (from == position.end() || to == position.end()) continue;
    const bool highlighted =
        on_chain(e->layer, e->from_channel) && on_chain(e->layer + 1, e->to_channel);
    if (!highlighted && e->weight < kDiagramMinEdgeWeight) continue;
    const int thickness = 1 + static_cast<int>(std::clamp(e->weight, 0.0f, 1.0f) * 7);
    cv::line(canvas, from->second + cv::Point(kTile, kTile / 2),
             to->second + cv::Point(0, kTile / 2), highlighted ? kHighlight : kEdge,
             highlighted ? thickness + 1 : thickness, cv::LINE_AA);
  }
  // The first layer's channels all see the input.
  if (layers > 0 && !columns[0].empty()) {
    const cv::Point from(kMargin + image_side, image_y + image_side / 2);
    for (const DiagramNode* node : columns[0]) {
      const cv::Point to = position[{0, node->channel}] + cv::Point(0, kTile / 2);
      cv::line(canvas, from, to, on_chain(0, node->channel) ? kHighlight : kEdge, 1, cv::LINE_AA);
    }
  }

  // Tiles, their labels, the column titles.
  const cv::Mat faded = FadedTile(spec.image);
  for (int l = 0; l < layers; ++l) {
    Text(canvas, spec.layers[l], {column_x(l), kHeader - 14}, 0.5, kInk);
    for (const DiagramNode* node : columns[l]) {
      const cv::Point at = position[{l, node->channel}];
      Tile(faded, node->map).copyTo(canvas(cv::Rect(at.x, at.y, kTile, kTile)));
      const bool highlighted = on_chain(l, node->channel);
      cv::rectangle(canvas, cv::Rect(at.x - 1, at.y - 1, kTile + 2, kTile + 2),
                    highlighted ? kHighlight : kInk, highlighted ? 3 : 1);
      char label[48];
      std::snprintf(label, sizeof(label), "c%d %.0f%%", node->channel, 100.0f * node->share);
      Text(canvas, label, {at.x, at.y + kTile + 16}, 0.42, highlighted ? kHighlight : kInk);
    }
    if (hidden[l] > 0) {
      const int count = static_cast<int>(columns[l].size());
      Text(canvas, "+" + std::to_string(hidden[l]) + " more",
           {column_x(l), tile_y(count, count) + 12}, 0.42, kInk);
    }
  }
  // The class at the end, reached from the best chain's last channel.
  const int class_y = kHeader + column_height / 2;
  if (layers > 0 && static_cast<int>(spec.best_chain.size()) == layers) {
    const auto last = position.find({layers - 1, spec.best_chain.back()});
    if (last != position.end()) {
      cv::arrowedLine(canvas, last->second + cv::Point(kTile, kTile / 2), {class_x - 8, class_y},
                      kHighlight, 2, cv::LINE_AA, 0, 0.05);
    }
  }
  Text(canvas, spec.class_text, {class_x, class_y + 5}, 0.55, kInk);

  std::vector<uchar> png;
  if (!cv::imencode(".png", canvas, png, {cv::IMWRITE_PNG_COMPRESSION, 3})) {
    return InternalError("cannot encode the decision path diagram as PNG");
  }
  return std::string(png.begin(), png.end());
}

}  // namespace xai::core
