#include "core/image/overlay.h"

#include <algorithm>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace xai::core {

std::optional<int> ColormapByName(const std::string& name) {
  static const std::map<std::string, int> kColormaps = {
      {"", cv::COLORMAP_JET},
      {"jet", cv::COLORMAP_JET},
      {"autumn", cv::COLORMAP_AUTUMN},
      {"bone", cv::COLORMAP_BONE},
      {"winter", cv::COLORMAP_WINTER},
      {"rainbow", cv::COLORMAP_RAINBOW},
      {"ocean", cv::COLORMAP_OCEAN},
      {"summer", cv::COLORMAP_SUMMER},
      {"spring", cv::COLORMAP_SPRING},
      {"cool", cv::COLORMAP_COOL},
      {"hsv", cv::COLORMAP_HSV},
      {"pink", cv::COLORMAP_PINK},
      {"hot", cv::COLORMAP_HOT},
      {"parula", cv::COLORMAP_PARULA},
      {"magma", cv::COLORMAP_MAGMA},
      {"inferno", cv::COLORMAP_INFERNO},
      {"plasma", cv::COLORMAP_PLASMA},
      {"viridis", cv::COLORMAP_VIRIDIS},
      {"cividis", cv::COLORMAP_CIVIDIS},
      {"twilight", cv::COLORMAP_TWILIGHT},
      {"twilight_shifted", cv::COLORMAP_TWILIGHT_SHIFTED},
      {"turbo", cv::COLORMAP_TURBO},
      {"deepgreen", cv::COLORMAP_DEEPGREEN},
  };
  const auto it = kColormaps.find(name);
  if (it == kColormaps.end()) return std::nullopt;
  return it->second;
}

cv::Mat CamToOriginal(const cv::Mat& cam, const InputGeometry& g) {
  // Original pixel centre x lies at resized x_r = (x + 0.5) * rw / ow - 0.5, i.e. at model
  // input u = x_r - crop_x: an affine map from destination to source pixels.
  const double ax = static_cast<double>(g.resized_width) / g.original_width;
  const double ay = static_cast<double>(g.resized_height) / g.original_height;
  const cv::Matx23d to_input(ax, 0, 0.5 * ax - 0.5 - g.crop_x,  //
                             0, ay, 0.5 * ay - 0.5 - g.crop_y);
  cv::Mat out;
  cv::warpAffine(cam, out, to_input, cv::Size(g.original_width, g.original_height),
                 cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  if (g.crop_x == 0 && g.crop_y == 0) return out;
  // Outside the crop the model saw nothing: no evidence there.
  for (int y = 0; y < out.rows; ++y) {
    const double v = (y + 0.5) * ay - 0.5 - g.crop_y;
    float* row = out.ptr<float>(y);
    for (int x = 0; x < out.cols; ++x) {
      const double u = (x + 0.5) * ax - 0.5 - g.crop_x;
      if (u < -0.5 || v < -0.5 || u >= cam.cols - 0.5 || v >= cam.rows - 0.5) row[x] = 0;
    }
  }
  return out;
}

StatusOr<std::string> RenderOverlayPng(const cv::Mat& image_bgr, const cv::Mat& cam,
                                       const OverlayStyle& style) {
  // np.uint8(255 * cam): truncation, not rounding.
  cv::Mat cam8(cam.size(), CV_8U);
  for (int y = 0; y < cam.rows; ++y) {
    const float* src = cam.ptr<float>(y);
    uchar* dst = cam8.ptr<uchar>(y);
    for (int x = 0; x < cam.cols; ++x) {
      const float v = 255.0f * src[x];
      dst[x] = static_cast<uchar>(v <= 0 ? 0 : v >= 255 ? 255 : static_cast<int>(v));
    }
  }
  cv::Mat heatmap;
  cv::applyColorMap(cam8, heatmap, style.colormap);

  // (1 - w) * heatmap / 255 + w * image / 255 in float32, in numpy's order of operations,
  // then divided by its maximum and truncated to 8 bits.
  const float w = style.image_weight;
  cv::Mat blended(heatmap.size(), CV_32FC3);
  float max = 0;
  for (int y = 0; y < heatmap.rows; ++y) {
    const uchar* h = heatmap.ptr<uchar>(y);
    const uchar* im = image_bgr.ptr<uchar>(y);
    float* out = blended.ptr<float>(y);
    for (int i = 0; i < heatmap.cols * 3; ++i) {
      out[i] = (1.0f - w) * (h[i] / 255.0f) + w * (im[i] / 255.0f);
      max = std::max(max, out[i]);
    }
  }
  cv::Mat result(blended.size(), CV_8UC3);
  for (int y = 0; y < blended.rows; ++y) {
    const float* src = blended.ptr<float>(y);
    uchar* dst = result.ptr<uchar>(y);
    for (int i = 0; i < blended.cols * 3; ++i) {
      const float v = max > 0 ? 255.0f * (src[i] / max) : 0.0f;
      dst[i] = static_cast<uchar>(v >= 255 ? 255 : v <= 0 ? 0 : static_cast<int>(v));
    }
  }
  std::vector<uchar> png;
  if (!cv::imencode(".png", result, png, {cv::IMWRITE_PNG_COMPRESSION, style.png_compression})) {
    return InternalError("PNG encoding of the overlay failed");
  }
  return std::string(png.begin(), png.end());
}

}  // namespace xai::core
