#include "core/image/overlay.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "zlib.h"

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

namespace {

// uint8(255 * v) with truncation, as numpy, for v of `values` (CV_32F).
cv::Mat Truncated8(const cv::Mat& values) {
  cv::Mat out(values.size(), CV_8U);
  for (int y = 0; y < values.rows; ++y) {
    const float* src = values.ptr<float>(y);
    uchar* dst = out.ptr<uchar>(y);
    for (int x = 0; x < values.cols; ++x) {
      const float v = 255.0f * src[x];
      dst[x] = static_cast<uchar>(v <= 0 ? 0 : v >= 255 ? 255 : static_cast<int>(v));
    }
  }
  return out;
}

// (1 - w) * heatmap / 255 + w * image / 255 in float32, in numpy's order of operations,
// then divided by its maximum and truncated to 8 bits.
cv::Mat Blend(const cv::Mat& heatmap, const cv::Mat& image_bgr, float w) {
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
  return result;
}

// The PNG of `image`, with `description` (when not empty) as its tEXt "Description" chunk,
// before IEND, where image viewers and `exiftool` show it.
StatusOr<std::string> EncodePng(const cv::Mat& image, int compression,
                                const std::string& description) {
  std::vector<uchar> png;
  if (!cv::imencode(".png", image, png, {cv::IMWRITE_PNG_COMPRESSION, compression})) {
    return InternalError("PNG encoding of the overlay failed");
  }
  std::string out(png.begin(), png.end());
  constexpr size_t kIend = 12;  // length, "IEND", CRC
  if (description.empty() || out.size() < kIend) return out;
  // tEXt is Latin-1 with no NUL: anything else becomes '?'.
  std::string text = "tEXtDescription";
  text.push_back('\0');
  for (const char c : description) {
    const auto u = static_cast<unsigned char>(c);
    text.push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  const uint32_t length = static_cast<uint32_t>(text.size() - 4);
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
  std::string chunk;
  const auto big_endian = [&chunk](uint32_t word) {
    for (int shift = 24; shift >= 0; shift -= 8) chunk.push_back(static_cast<char>(word >> shift));
  };
  big_endian(length);
  chunk += text;
  big_endian(crc);
  out.insert(out.size() - kIend, chunk);
  return out;
}

// Blue (-1) through white (0) to red (1), indexed by uint8(255 * (v + 1) / 2): BGR.
cv::Mat BlueWhiteRed() {
  cv::Mat lut(256, 1, CV_8UC3);
  for (int i = 0; i < 256; ++i) {
    const double t = i / 255.0;  // 0: blue, 0.5: white, 1: red
    const auto up = static_cast<uchar>(std::lround(255 * std::min(1.0, 2 * t)));
    const auto down = static_cast<uchar>(std::lround(255 * std::min(1.0, 2 * (1 - t))));
    lut.at<cv::Vec3b>(i) = cv::Vec3b(down, std::min(up, down), up);
  }
  return lut;
}

}  // namespace

StatusOr<std::string> RenderOverlayPng(const cv::Mat& image_bgr, const cv::Mat& cam,
                                       const OverlayStyle& style) {
  cv::Mat heatmap;
  cv::applyColorMap(Truncated8(cam), heatmap, style.colormap);
  return EncodePng(Blend(heatmap, image_bgr, style.image_weight), style.png_compression,
                   style.description);
}

float Percentile(std::vector<float> values, float percentile) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double position = percentile / 100.0 * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return static_cast<float>(values[below] + fraction * (values[above] - values[below]));
}

cv::Mat ScaleAttribution(const cv::Mat& map, AttributionPolarity polarity, float lower_percentile,
                         float upper_percentile) {
  cv::Mat magnitude(map.size(), CV_32F);
  for (int y = 0; y < map.rows; ++y) {
    const float* v = map.ptr<float>(y);
    float* m = magnitude.ptr<float>(y);
    for (int x = 0; x < map.cols; ++x) {
      m[x] = polarity == AttributionPolarity::kPositive   ? std::max(v[x], 0.0f)
             : polarity == AttributionPolarity::kNegative ? std::max(-v[x], 0.0f)
                                                          : std::abs(v[x]);
    }
  }
  std::vector<float> values(magnitude.begin<float>(), magnitude.end<float>());
  const float lower = Percentile(values, lower_percentile);
  const float upper = Percentile(std::move(values), upper_percentile);
  cv::Mat out(map.size(), CV_32F);
  for (int y = 0; y < map.rows; ++y) {
    const float* v = map.ptr<float>(y);
    const float* m = magnitude.ptr<float>(y);
    float* o = out.ptr<float>(y);
    for (int x = 0; x < map.cols; ++x) {
      float s = upper > lower ? (m[x] - lower) / (upper - lower) : (m[x] > lower ? 1.0f : 0.0f);
      s = std::clamp(s, 0.0f, 1.0f);
      o[x] = polarity == AttributionPolarity::kBoth && v[x] < 0 ? -s : s;
    }
  }
  return out;
}

StatusOr<std::string> RenderAttributionPng(const cv::Mat& image_bgr, const cv::Mat& scaled,
                                           const AttributionStyle& style,
                                           const std::vector<cv::Mat>& outlines) {
  cv::Mat result;
  if (style.kind == AttributionOverlayKind::kMaskedImage) {
    cv::Mat strength = cv::abs(scaled);
    cv::Mat strength3;
    cv::cvtColor(strength, strength3, cv::COLOR_GRAY2BGR);
    cv::Mat image;
    image_bgr.convertTo(image, CV_32FC3);
    cv::Mat masked = image.mul(strength3);
    masked.convertTo(result, CV_8UC3);
  } else {
    cv::Mat heatmap;
    const bool both = style.polarity == AttributionPolarity::kBoth;
    // [-1, 1] to [0, 1] for the colormap when signed.
    const cv::Mat levels = Truncated8(both ? (scaled + 1.0f) * 0.5f : scaled);
    if (style.colormap) {
      cv::applyColorMap(levels, heatmap, *style.colormap);
    } else if (both) {
      static const cv::Mat lut = BlueWhiteRed();
      cv::applyColorMap(levels, heatmap, lut);
    } else {
      cv::applyColorMap(levels, heatmap, cv::COLORMAP_JET);
    }
    cv::Mat base = image_bgr;
    if (style.kind == AttributionOverlayKind::kOverGrayscale) {
      cv::Mat gray;
      cv::cvtColor(image_bgr, gray, cv::COLOR_BGR2GRAY);
      cv::cvtColor(gray, base, cv::COLOR_GRAY2BGR);
    }
    result = Blend(heatmap, base, style.image_weight);
  }
  static const cv::Scalar kColors[] = {
      {255, 255, 255}, {0, 255, 255}, {255, 255, 0}, {255, 0, 255}, {0, 255, 0}};
  for (size_t i = 0; i < outlines.size(); ++i) {
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(outlines[i], contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
    cv::drawContours(result, contours, -1, kColors[i % 5], 2);
  }
  return EncodePng(result, style.png_compression, style.description);
}

}  // namespace xai::core
