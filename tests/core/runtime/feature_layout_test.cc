// Layer layouts: inference from shapes (torchvision's and timm's transformers, CNNs), the
// ambiguous cases refused with the field that resolves them, declarations, the recommended
// transformer layer, and the [B,C,H,W] view the CAM methods compute on and its inverse.
#include "core/runtime/feature_layout.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/methods/cam/cam.h"

namespace xai::core {
namespace {

using ::testing::HasSubstr;

LayerLayout Layout(FeatureLayout kind, int64_t prefix, int64_t h, int64_t w, int64_t c) {
  return {kind, prefix, h, w, c};
}

TEST(FeatureLayoutTest, ConvolutionalMapsAreNchw) {
  for (const auto& [shape, type] : std::vector<std::pair<std::vector<int64_t>, std::string>>{
           {{1, 512, 7, 7}, "Sequential"},   // resnet18's layer4
           {{1, 64, 56, 56}, "BasicBlock"},  // its layer1
           {{1, 2048, 8, 8}, "InceptionE"},  // inception_v3 at 299
           {{1, 768, 7, 7}, "Permute"},      // swin_t's permute before the pooling
           {{1, 512, 1, 1}, "AdaptiveAvgPool2d"}}) {
    const LayoutInference got =
        InferLayout(shape, type, shape[1] == 2048 ? 299 : 224, shape[1] == 2048 ? 299 : 224);
    EXPECT_EQ(got.layout.kind, FeatureLayout::kNchw) << got.note;
    EXPECT_EQ(got.layout.channels, shape[1]);
    EXPECT_EQ(got.layout.height, shape[2]);
    EXPECT_THAT(got.note, HasSubstr("inferred"));
  }
}

// swin_t's features.7 and its blocks' norms: [B, 7, 7, 768] is never 7 channels of 7x768.
TEST(FeatureLayoutTest, ChannelsLastIsNeverReadAsNchw) {
  for (const std::string type : {"Sequential", "LayerNorm", "SwinTransformerBlock"}) {
    const LayoutInference got = InferLayout({1, 7, 7, 768}, type, 224, 224);
    EXPECT_EQ(got.layout, Layout(FeatureLayout::kNhwc, 0, 7, 7, 768)) << type << ": " << got.note;
  }
  EXPECT_EQ(InferLayout({1, 56, 56, 96}, "Sequential", 224, 224).layout,
            Layout(FeatureLayout::kNhwc, 0, 56, 56, 96));
  // A 64x64 Swin fixture's first stage: 16x16 grid, 24 channels.
  EXPECT_EQ(InferLayout({1, 16, 16, 24}, "Sequential", 64, 64).layout,
            Layout(FeatureLayout::kNhwc, 0, 16, 16, 24));
}

TEST(FeatureLayoutTest, TokensWithTheirPrefix) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t height, width;
    LayerLayout expected;
  };
  const Case cases[] = {
      {{1, 197, 768}, 224, 224, Layout(FeatureLayout::kTokens, 1, 14, 14, 768)},  // vit_b_16
      {{1, 50, 768}, 224, 224, Layout(FeatureLayout::kTokens, 1, 7, 7, 768)},     // vit_b_32
      {{1, 198, 384}, 224, 224, Layout(FeatureLayout::kTokens, 2, 14, 14, 384)},  // DeiT, distilled
      {{1, 201, 768}, 224, 224, Layout(FeatureLayout::kTokens, 5, 14, 14, 768)},  // 4 registers
      {{1, 49, 768}, 224, 224, Layout(FeatureLayout::kTokens, 0, 7, 7, 768)},     // timm's Swin
      {{1, 577, 768}, 384, 384, Layout(FeatureLayout::kTokens, 1, 24, 24, 768)},  // ViT at 384
      {{1, 73, 32}, 48, 96, Layout(FeatureLayout::kTokens, 1, 6, 12, 32)},        // non-square
      {{1, 289, 64}, 384, 192, Layout(FeatureLayout::kTokens, 1, 24, 12, 64)},
      {{1, 65, 32}, 64, 64, Layout(FeatureLayout::kTokens, 1, 8, 8, 32)},
  };
  for (const Case& c : cases) {
    const LayoutInference got = InferLayout(c.shape, "LayerNorm", c.height, c.width);
    EXPECT_EQ(got.layout, c.expected) << got.layout.ToString() << ": " << got.note;
    EXPECT_FALSE(got.ambiguous);
  }
  EXPECT_EQ(Layout(FeatureLayout::kTokens, 1, 14, 14, 768).ToString(),
            "TOKENS (1 prefix token, 14x14 grid, 768 channels)");
}

TEST(FeatureLayoutTest, AmbiguousShapesAreRefusedWithTheFieldThatResolvesThem) {
  // [1,8,8,8] at 64x64: 8 channels on 8x8 either way round; a ReLU says nothing.
  const LayoutInference square = InferLayout({1, 8, 8, 8}, "ReLU", 64, 64);
  EXPECT_FALSE(square.layout.resolved());
  EXPECT_TRUE(square.ambiguous);
  EXPECT_TRUE(square.wants_second_probe);
  EXPECT_THAT(square.note, HasSubstr("ambiguous: [1, 8, 8, 8] reads as NCHW"));
  EXPECT_THAT(square.note, HasSubstr("cam_layers { layer:"));
  EXPECT_THAT(square.note, HasSubstr("layer_layouts"));
  // Where PyTorch fixes the layout, the type decides.
  EXPECT_EQ(InferLayout({1, 8, 8, 8}, "Conv2d", 64, 64).layout.kind, FeatureLayout::kNchw);
  EXPECT_EQ(InferLayout({1, 8, 8, 8}, "LayerNorm", 64, 64).layout.kind, FeatureLayout::kNhwc);
  // 17 tokens of a 64x64 input: 1 + 4x4 (stride 16) or 8 + 3x3 (stride 21): the stride that
  // divides the input decides.
  EXPECT_EQ(InferLayout({1, 17, 32}, "LayerNorm", 64, 64).layout,
            Layout(FeatureLayout::kTokens, 1, 4, 4, 32));
  // 5 tokens of a 64x64 input: 1 + 2x2 (stride 32) or 4 + 1x1 (stride 64), both exact.
  const LayoutInference tokens = InferLayout({1, 5, 32}, "LayerNorm", 64, 64);
  EXPECT_TRUE(tokens.ambiguous) << tokens.layout.ToString();
  EXPECT_THAT(tokens.note, HasSubstr("5 tokens read as"));
  EXPECT_THAT(tokens.note, HasSubstr("prefix_tokens"));
}

TEST(FeatureLayoutTest, WhatIsNoFeatureMap) {
  EXPECT_THAT(InferLayout({1, 1000}, "Linear", 224, 224).note, HasSubstr("2-D output"));
  EXPECT_THAT(InferLayout({}, "MultiheadAttention", 224, 224).note,
              HasSubstr("does not return one tensor"));
  EXPECT_FALSE(InferLayout({1, 3, 500, 500}, "Upsample", 224, 224).layout.resolved());
  EXPECT_FALSE(InferLayout({1, 1000, 768}, "Linear", 224, 224).layout.resolved());
}

TEST(FeatureLayoutTest, ASecondProbeDecidesBetweenNchwAndNhwc) {
  EXPECT_EQ(InferFromSecondProbe({1, 32, 32, 32}, {1, 32, 64, 64}).layout,
            Layout(FeatureLayout::kNchw, 0, 32, 32, 32));
  EXPECT_EQ(InferFromSecondProbe({1, 32, 32, 32}, {1, 64, 64, 32}).layout,
            Layout(FeatureLayout::kNhwc, 0, 32, 32, 32));
  const LayoutInference failed = InferFromSecondProbe({1, 32, 32, 32}, {});
  EXPECT_TRUE(failed.ambiguous);
  EXPECT_THAT(failed.note, HasSubstr("does not run at another input size"));
  EXPECT_TRUE(InferFromSecondProbe({1, 32, 32, 32}, {1, 32, 32, 32}).ambiguous);
}

TEST(FeatureLayoutTest, DeclarationsMustFitTheShape) {
  const auto tokens = [](int64_t prefix, int64_t h, int64_t w) {
    return LayoutDeclaration{FeatureLayout::kTokens, prefix, h, w};
  };
  EXPECT_EQ(*ApplyDeclaration({1, 66, 32}, tokens(2, 0, 0), 64, 64),
            Layout(FeatureLayout::kTokens, 2, 8, 8, 32));
  EXPECT_EQ(*ApplyDeclaration({1, 73, 32}, tokens(1, 6, 12), 48, 96),
            Layout(FeatureLayout::kTokens, 1, 6, 12, 32));
  EXPECT_EQ(*ApplyDeclaration({1, 8, 8, 8}, {FeatureLayout::kNhwc}, 64, 64),
            Layout(FeatureLayout::kNhwc, 0, 8, 8, 8));
  EXPECT_EQ(*ApplyDeclaration({1, 8, 8, 8}, {FeatureLayout::kNchw}, 64, 64),
            Layout(FeatureLayout::kNchw, 0, 8, 8, 8));
  const auto error = [](const std::vector<int64_t>& shape, const LayoutDeclaration& d) {
    const StatusOr<LayerLayout> got = ApplyDeclaration(shape, d, 64, 64);
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    return got.status().message();
  };
  EXPECT_THAT(error({1, 66, 32}, tokens(1, 8, 8)),
              HasSubstr("holds 64 tokens, but the layer has 65"));
  EXPECT_THAT(error({1, 66, 32}, tokens(66, 0, 0)), HasSubstr("leaves no grid"));
  EXPECT_THAT(error({1, 8, 8, 8}, tokens(1, 0, 0)), HasSubstr("TOKENS needs a 3-D output"));
  EXPECT_THAT(error({1, 66, 32}, {FeatureLayout::kNhwc}), HasSubstr("NHWC needs a 4-D output"));
  EXPECT_THAT(error({1, 66, 32}, tokens(1, 8, 0)), HasSubstr("both grid_height and grid_width"));
  EXPECT_THAT(error({1, 8, 8, 8}, {FeatureLayout::kNchw, 1}), HasSubstr("TOKENS only"));
  EXPECT_THAT(error({1, 66, 32}, tokens(-1, 0, 0)), HasSubstr(">= 0"));
  EXPECT_THAT(error({1, 60, 32}, tokens(1, 0, 0)), HasSubstr("set grid_height and grid_width"));
  LayoutDeclaration unknown;
  unknown.unknown_kind = 7;
  EXPECT_THAT(error({1, 8, 8, 8}, unknown), HasSubstr("layout 7 is not a FeatureLayout"));
}

LayerInfo Layer(const std::string& path, const std::string& type, const LayerLayout& layout,
                int completion) {
  LayerInfo info;
  info.path = path;
  info.type = type;
  info.layout = layout;
  info.completion_order = completion;
  return info;
}

TEST(FeatureLayoutTest, TheRecommendedLayerIsTheLastBlocksFirstNorm) {
  const LayerLayout tokens = Layout(FeatureLayout::kTokens, 1, 14, 14, 768);
  // torchvision's ViT: each encoder block has ln_1 and ln_2; the encoder's final ln is alone.
  std::vector<LayerInfo> vit = {
      Layer("conv_proj", "Conv2d", Layout(FeatureLayout::kNchw, 0, 14, 14, 768), 0),
      Layer("encoder.layers.encoder_layer_0.ln_1", "LayerNorm", tokens, 1),
      Layer("encoder.layers.encoder_layer_0.ln_2", "LayerNorm", tokens, 3),
      Layer("encoder.layers.encoder_layer_1.ln_1", "LayerNorm", tokens, 5),
      Layer("encoder.layers.encoder_layer_1.ln_2", "LayerNorm", tokens, 7),
      Layer("encoder.ln", "LayerNorm", tokens, 9)};
  EXPECT_EQ(RecommendedCamLayer(vit), "encoder.layers.encoder_layer_1.ln_1");
  const LayerLayout nhwc = Layout(FeatureLayout::kNhwc, 0, 7, 7, 768);
  std::vector<LayerInfo> swin = {Layer("features.7.0.norm1", "LayerNorm", nhwc, 1),
                                 Layer("features.7.0.norm2", "LayerNorm", nhwc, 2),
                                 Layer("features.7.1.norm1", "LayerNorm", nhwc, 3),
                                 Layer("features.7.1.norm2", "LayerNorm", nhwc, 4),
                                 Layer("norm", "LayerNorm", nhwc, 5)};
  EXPECT_EQ(RecommendedCamLayer(swin), "features.7.1.norm1");
  // ConvNeXt: one LayerNorm per block, inside its Sequential: no transformer blocks.
  std::vector<LayerInfo> convnext = {Layer("features.7.2.block.2", "LayerNorm", nhwc, 1),
                                     Layer("features.7.2.block.3", "Linear", nhwc, 2)};
  EXPECT_EQ(RecommendedCamLayer(convnext), "");
}

TEST(FeatureLayoutTest, TheViewIsPytorchGradCamsReshapeTransformAndGoesBack) {
  const at::Tensor tokens = at::randn({2, 1 + 3 * 4, 5});
  const LayerLayout layout = Layout(FeatureLayout::kTokens, 1, 3, 4, 5);
  const at::Tensor view = FeatureMapView(tokens, layout);
  // pytorch-grad-cam's ViT example: tensor[:, 1:, :].reshape(B, h, w, C), then C first.
  const at::Tensor expected =
      tokens.narrow(1, 1, 12).reshape({2, 3, 4, 5}).transpose(2, 3).transpose(1, 2);
  EXPECT_TRUE(at::equal(view, expected));
  // Perturbed copies of sample 1 go back with its class token unchanged.
  at::Tensor perturbed = view.narrow(0, 1, 1).repeat({3, 1, 1, 1}).clone();
  perturbed.select(1, 2).fill_(-7);
  const at::Tensor back = FromFeatureMapView(perturbed, layout, tokens.narrow(0, 1, 1));
  ASSERT_EQ(back.sizes(), (std::vector<int64_t>{3, 13, 5}));
  for (int64_t n = 0; n < 3; ++n) {
    EXPECT_TRUE(at::equal(back[n][0], tokens[1][0]));  // the class token
    EXPECT_TRUE(at::equal(back[n].narrow(0, 1, 12).select(1, 2), at::full({12}, -7.0f)));
    EXPECT_TRUE(
        at::equal(back[n].narrow(0, 1, 12).select(1, 0), tokens[1].narrow(0, 1, 12).select(1, 0)));
  }
  const at::Tensor nhwc = at::randn({2, 3, 4, 5});
  const LayerLayout channels_last = Layout(FeatureLayout::kNhwc, 0, 3, 4, 5);
  EXPECT_TRUE(at::equal(FeatureMapView(nhwc, channels_last), nhwc.permute({0, 3, 1, 2})));
  EXPECT_TRUE(at::equal(
      FromFeatureMapView(FeatureMapView(nhwc, channels_last), channels_last, nhwc), nhwc));
  EXPECT_THROW(FeatureMapView(at::randn({2, 14, 5}), layout), c10::Error);
}

}  // namespace
}  // namespace xai::core
