#include "core/image/image_preprocessor.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/image/image_header.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

std::string Encode(const cv::Mat& image, const std::string& ext) {
  std::vector<uchar> buffer;
  EXPECT_TRUE(cv::imencode(ext, image, buffer));
  return std::string(buffer.begin(), buffer.end());
}

xai::v1::InputSpec Spec(int h, int w) {
  xai::v1::InputSpec spec;
  spec.set_height(h);
  spec.set_width(w);
  return spec;
}

const ImagePreprocessor kPreprocessor(ImagePreprocessorOptions{});

TEST(ImageHeaderTest, ReadsTheSizeOfEveryFormat) {
  const cv::Mat image(37, 53, CV_8UC3, cv::Scalar(10, 20, 30));
  for (const char* ext : {".png", ".jpg", ".bmp", ".webp", ".tiff", ".ppm"}) {
    const auto header = ReadImageHeader(Encode(image, ext));
    ASSERT_TRUE(header.has_value()) << ext;
    EXPECT_EQ(header->width, 53) << ext;
    EXPECT_EQ(header->height, 37) << ext;
  }
  EXPECT_FALSE(ReadImageHeader("not an image").has_value());
}

TEST(ImagePreprocessorTest, NormalisesHandComputedPixels) {
  // BGR pixels on disk; the model wants RGB, (x/255 - mean) / std.
  cv::Mat image(1, 2, CV_8UC3);
  image.at<cv::Vec3b>(0, 0) = cv::Vec3b(0, 128, 255);  // B, G, R
  image.at<cv::Vec3b>(0, 1) = cv::Vec3b(51, 102, 204);
  xai::v1::InputSpec spec = Spec(1, 2);
  for (float m : {0.5f, 0.25f, 0.0f}) spec.add_mean(m);
  for (float s : {0.5f, 0.25f, 2.0f}) spec.add_std(s);
  auto out = kPreprocessor.Preprocess(Encode(image, ".png"), spec);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const at::Tensor& t = out->input;
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{1, 3, 1, 2}));
  auto v = [&](int c, int x) { return t.index({0, c, 0, x}).item<float>(); };
  EXPECT_NEAR(v(0, 0), (255 / 255.0 - 0.5) / 0.5, 1e-6);    // R of pixel 0
  EXPECT_NEAR(v(1, 0), (128 / 255.0 - 0.25) / 0.25, 1e-6);  // G
  EXPECT_NEAR(v(2, 0), (0 / 255.0 - 0.0) / 2.0, 1e-6);      // B
  EXPECT_NEAR(v(0, 1), (204 / 255.0 - 0.5) / 0.5, 1e-6);
  EXPECT_NEAR(v(2, 1), (51 / 255.0) / 2.0, 1e-6);
}

TEST(ImagePreprocessorTest, ColorOrdersGrayRgbaAndSixteenBit) {
  cv::Mat bgra(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 7));  // alpha is dropped
  xai::v1::InputSpec bgr = Spec(2, 2);
  bgr.set_color_order(xai::v1::BGR);
  auto out = kPreprocessor.Preprocess(Encode(bgra, ".png"), bgr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_NEAR(out->input.index({0, 0, 0, 0}).item<float>(), 10 / 255.0, 1e-6);
  EXPECT_NEAR(out->input.index({0, 2, 1, 1}).item<float>(), 30 / 255.0, 1e-6);

  cv::Mat gray16(2, 2, CV_16UC1, cv::Scalar(65535));
  auto rgb = kPreprocessor.Preprocess(Encode(gray16, ".png"), Spec(2, 2));
  ASSERT_TRUE(rgb.ok()) << rgb.status().ToString();
  EXPECT_EQ(rgb->input.size(1), 3);
  EXPECT_NEAR(rgb->input.min().item<float>(), 1.0, 1e-6);

  xai::v1::InputSpec gray = Spec(2, 2);
  gray.set_color_order(xai::v1::GRAY);
  cv::Mat color(2, 2, CV_8UC3, cv::Scalar(0, 0, 255));  // pure red
  auto g = kPreprocessor.Preprocess(Encode(color, ".bmp"), gray);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->input.size(1), 1);
  EXPECT_NEAR(g->input.index({0, 0, 0, 0}).item<float>(), 76 / 255.0, 1.5 / 255);  // 0.299 * 255
}

TEST(ImagePreprocessorTest, TheInputOwnsItsPixelsForEveryChannelCount) {
  for (const auto order : {xai::v1::GRAY, xai::v1::RGB}) {
    xai::v1::InputSpec spec = Spec(64, 64);
    spec.set_color_order(order);
    auto first = kPreprocessor.Preprocess(
        Encode(cv::Mat(64, 64, CV_8UC3, cv::Scalar(0, 0, 255)), ".png"), spec);
    ASSERT_TRUE(first.ok());
    const at::Tensor before = first->input.clone();
    // Work that reuses freed memory, as the next request's would.
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(
          kPreprocessor
              .Preprocess(Encode(cv::Mat(64, 64, CV_8UC3, cv::Scalar(255, 9, 0)), ".png"), spec)
              .ok());
    }
    EXPECT_TRUE(first->input.equal(before)) << "the input still points into a freed cv::Mat";
  }
}

TEST(ImagePreprocessorTest, StretchAndCenterCropGeometry) {
  cv::Mat wide(100, 200, CV_8UC3, cv::Scalar(0, 0, 0));
  wide.colRange(50, 150).setTo(cv::Scalar(255, 255, 255));  // white centre half
  xai::v1::InputSpec spec = Spec(50, 50);
  spec.set_resize(xai::v1::SHORTER_SIDE_CENTER_CROP);
  auto crop = kPreprocessor.Preprocess(Encode(wide, ".png"), spec);
  ASSERT_TRUE(crop.ok());
  const InputGeometry& g = crop->geometry;
  EXPECT_EQ(g.resized_width, 100);
  EXPECT_EQ(g.resized_height, 50);
  EXPECT_EQ(g.crop_x, 25);
  EXPECT_EQ(g.crop_y, 0);
  EXPECT_NEAR(crop->input.min().item<float>(), 1.0, 1e-6);  // only the white centre is left
  EXPECT_NEAR(g.OriginalX(0), 50.5, 1e-9);  // resized 25.5 -> original 51 - 0.5: covers 50..51
  EXPECT_NEAR(g.OriginalY(49), 98.5, 1e-9);

  auto stretch = kPreprocessor.Preprocess(Encode(wide, ".png"), Spec(50, 50));
  ASSERT_TRUE(stretch.ok());
  EXPECT_NEAR(stretch->input.index({0, 0, 0, 0}).item<float>(), 0.0, 1e-6);  // black edge kept
  EXPECT_NEAR(stretch->geometry.OriginalX(0), 1.5, 1e-9);
}

TEST(ImagePreprocessorTest, RefusesOversizedImagesFromTheHeader) {
  // A PNG header that claims 10000 x 10000 pixels, and nothing behind it: the limit
  // must answer from the header alone.
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x27\x10\0\0\x27\x10\x08\x02\0\0\0", 29);
  auto out = kPreprocessor.Preprocess(png, Spec(4, 4));
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("10000x10000"));
  EXPECT_THAT(out.status().message(), HasSubstr("limit of 50000000 pixels"));
  // Found by image_fuzz: sides near 2^32, whose product overflowed before the check.
  std::string huge("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\xac\x01\x8c\x08\xf8\xde\xb0\x2e\x08\x02\0\0\0",
                   29);
  out = kPreprocessor.Preprocess(huge, Spec(4, 4));
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("a side over the limit"));

  ImagePreprocessor small(ImagePreprocessorOptions{100});
  auto refused = small.Preprocess(Encode(cv::Mat(11, 10, CV_8UC3), ".jpg"), Spec(4, 4));
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
}

// Writes `value` little-endian into `bytes` at `offset` (`size` bytes).
void PutLittleEndian(std::string* bytes, size_t offset, uint32_t value, int size) {
  for (int i = 0; i < size; ++i)
    (*bytes)[offset + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

TEST(ImagePreprocessorTest, DecompressionBombsAreRefusedFromTheirHeaders) {
  const cv::Mat small(8, 8, CV_8UC3, cv::Scalar(1, 2, 3));
  // A lossy WebP whose frame header claims 16383 x 16383 (268 M pixels).
  std::vector<uchar> lossy;
  ASSERT_TRUE(cv::imencode(".webp", small, lossy, {cv::IMWRITE_WEBP_QUALITY, 80}));
  std::string webp(lossy.begin(), lossy.end());
  ASSERT_EQ(webp.substr(12, 4), "VP8 ");
  PutLittleEndian(&webp, 26, 16383, 2);
  PutLittleEndian(&webp, 28, 16383, 2);
  auto refused = kPreprocessor.Preprocess(webp, Spec(4, 4));
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("16383x16383"));
  // A TIFF whose first directory claims 100000 x 100000.
  std::string tiff = Encode(small, ".tiff");
  ASSERT_EQ(tiff.substr(0, 4), std::string("II*\0", 4));
  const uint32_t ifd = static_cast<uint8_t>(tiff[4]) | static_cast<uint8_t>(tiff[5]) << 8 |
                       static_cast<uint8_t>(tiff[6]) << 16 |
                       static_cast<uint32_t>(static_cast<uint8_t>(tiff[7])) << 24;
  const int entries = static_cast<uint8_t>(tiff[ifd]) | static_cast<uint8_t>(tiff[ifd + 1]) << 8;
  for (int e = 0; e < entries; ++e) {
    const size_t at = ifd + 2 + 12 * e;
    const int tag = static_cast<uint8_t>(tiff[at]) | static_cast<uint8_t>(tiff[at + 1]) << 8;
    if (tag == 256 || tag == 257) {  // ImageWidth, ImageLength, as LONG
      PutLittleEndian(&tiff, at + 2, 4, 2);
      PutLittleEndian(&tiff, at + 4, 1, 4);
      PutLittleEndian(&tiff, at + 8, 100000, 4);
    }
  }
  refused = kPreprocessor.Preprocess(tiff, Spec(4, 4));
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("100000x100000"));
  // A PNG strip of 20000 x 1: few pixels, one side over the limit.
  std::string strip("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x4e\x20\0\0\0\x01\x08\x02\0\0\0", 29);
  refused = kPreprocessor.Preprocess(strip, Spec(4, 4));
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("a side over the limit of 16384"));
}

TEST(ImagePreprocessorTest, FormatsWithoutAKnownHeaderAreNotDecoded) {
  // Sun raster: OpenCV decodes it, but callers get only the formats the header check knows.
  std::vector<uchar> buffer;
  ASSERT_TRUE(cv::imencode(".ras", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), buffer));
  ASSERT_FALSE(cv::imdecode(buffer, cv::IMREAD_UNCHANGED).empty());
  auto refused = kPreprocessor.Preprocess(std::string(buffer.begin(), buffer.end()), Spec(4, 4));
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("is not a PNG, JPEG, BMP, WebP, TIFF or PNM image"));
}

// OpenCV picks its decoder by its own signature checks, in its own order: bytes whose header
// we read as one format, but which OpenCV's decoder for that format turns down, went on to a
// later decoder. The image fuzzer found a WebP header that libwebp rejects with "DICM" at
// byte 128: OpenCV wrote it to a temporary file for GDCM, whose parser aborted the process.
TEST(ImagePreprocessorTest, BytesOpenCvWouldHandToAnotherDecoderAreRefused) {
  const std::string found_by_fuzzer = [] {
    const unsigned char bytes[] = {
        0x52, 0x49, 0x46, 0x46, 0x66, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38,
        0x20, 0x60, 0x00, 0x00, 0x00, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x08, 0x00, 0x08, 0x00,
        0x02, 0xc0, 0x4c, 0x25, 0xa0, 0x02, 0x74, 0x30, 0x45, 0x81, 0x68, 0xe6, 0x4f, 0x71, 0xc0,
        0x00, 0xfe, 0x2f, 0xca, 0x6b, 0x9b, 0x2e, 0x54, 0x72, 0xe9, 0xff, 0x16, 0x20, 0x08, 0x05,
        0x2c, 0x5b, 0xca, 0xe0, 0xfc, 0xe2, 0x86, 0x3f, 0x88, 0x2f, 0x19, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xe0, 0x12, 0xe6, 0x97, 0x38, 0x20, 0x60, 0x00, 0x00, 0x00, 0x10, 0x02,
        0x00, 0x9d, 0x01, 0x2a, 0x08, 0x00, 0x08, 0x00, 0x02, 0xc0, 0x4c, 0x8f, 0x3c, 0x24, 0x58,
        0x68, 0x4e, 0x24, 0x2e, 0x86, 0x9c, 0xc8, 0x62, 0x47, 0xff, 0x27, 0x26, 0x59, 0xa0, 0xee,
        0x24, 0x5d, 0x2d, 0x27, 0xe7, 0x3f, 0xdb, 0xe5, 0x44, 0x49, 0x43, 0x4d, 0x81, 0xa0, 0x00};
    return std::string(reinterpret_cast<const char*>(bytes), sizeof(bytes));
  }();
  ASSERT_EQ(found_by_fuzzer.substr(128, 4), "DICM");
  EXPECT_FALSE(ReadImageHeader(found_by_fuzzer).has_value());
  auto refused = kPreprocessor.Preprocess(found_by_fuzzer, Spec(4, 4));
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);

  // A good PNG with "DICM" written at byte 128 (inside its pixel data): refused before
  // OpenCV sees it, whichever decoder would claim it.
  cv::Mat noise(32, 32, CV_8UC3);
  cv::randu(noise, 0, 255);
  std::string png = Encode(noise, ".png");
  ASSERT_GT(png.size(), 140u);
  png.replace(128, 4, "DICM");
  ASSERT_TRUE(ReadImageHeader(png).has_value());
  refused = kPreprocessor.Preprocess(png, Spec(4, 4));
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("DICOM signature at byte 128"));
  png = Encode(noise, ".png");
  png.replace(140, 4, "DTED");
  EXPECT_THAT(kPreprocessor.Preprocess(png, Spec(4, 4)).status().message(),
              HasSubstr("DTED signature at byte 140"));

  // PNM needs white space after its magic number, as OpenCV's PxM decoder does.
  EXPECT_TRUE(ReadImageHeader("P6 4 4 255\n").has_value());
  EXPECT_FALSE(ReadImageHeader("P6#4 4 255\n").has_value());
}

TEST(ImagePreprocessorTest, UndecodableAndEmptyBytes) {
  EXPECT_EQ(kPreprocessor.Preprocess("", Spec(4, 4)).status().code(), StatusCode::kInvalidArgument);
  auto garbage = kPreprocessor.Preprocess("definitely not an image", Spec(4, 4));
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(garbage.status().message(), HasSubstr("image.encoded"));
  std::string truncated = Encode(cv::Mat(20, 20, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
  truncated.resize(40);
  EXPECT_EQ(kPreprocessor.Preprocess(truncated, Spec(4, 4)).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace xai::core
