#include "core/repository/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace xai::core {
namespace {

using ::testing::HasSubstr;

xai::v1::ModelConfig Parse(const std::string& text) {
  auto config = ParseModelConfig(text, "m/config.pbtxt");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? *config : xai::v1::ModelConfig();
}

TEST(ModelConfigTest, ParsesTheMinimalConfigOfTheApi) {
  const auto config = Parse(
      "input { height: 224 width: 224 mean: [0.485, 0.456, 0.406] std: [0.229, 0.224, 0.225] }\n"
      "default_cam_layer: \"layer4\"\n"
      "default_path_layers: [\"layer1\", \"layer2\", \"layer3\", \"layer4\"]\n");
  EXPECT_EQ(config.input().height(), 224);
  EXPECT_EQ(config.input().color_order(), xai::v1::RGB);
  EXPECT_EQ(config.input().resize(), xai::v1::STRETCH);
  EXPECT_EQ(config.default_path_layers_size(), 4);
  EXPECT_FALSE(config.has_dynamic_batching());
  EXPECT_TRUE(ValidateModelConfig(config).ok());
}

TEST(ModelConfigTest, ParsesTritonStyleBatchingAndPrecision) {
  const auto config = Parse(
      "input { height: 224 width: 224 }\n"
      "instance_group { count: 2 devices: [\"cuda\"] }\n"
      "dynamic_batching { max_batch_size: 8 max_queue_delay_us: 2000 }\n"
      "max_queue_size: 64\n"
      "precision: FP16\n");
  EXPECT_EQ(config.dynamic_batching().max_batch_size(), 8);
  EXPECT_EQ(config.dynamic_batching().max_queue_delay_us(), 2000);
  EXPECT_EQ(config.max_queue_size(), 64);
  EXPECT_EQ(config.precision(), xai::v1::FP16);
  EXPECT_TRUE(ValidateModelConfig(config).ok());
}

TEST(ModelConfigTest, SyntaxErrorsQuoteFileLineAndColumn) {
  const auto config = ParseModelConfig("input {\n  heigth: 3\n}\n", "m/config.pbtxt");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("m/config.pbtxt:2:"));
  EXPECT_THAT(config.status().message(), HasSubstr("heigth"));
}

TEST(ModelConfigTest, UnknownEnumNameIsASchemaError) {
  const auto config = ParseModelConfig("input { height: 1 width: 1 color_order: CMYK }", "c");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("CMYK"));
}

TEST(ModelConfigTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadModelConfig("/nonexistent/config.pbtxt").status().code(), StatusCode::kNotFound);
}

struct BadCase {
  const char* name;  // the test's name
  const char* text;
  const char* message;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfigTest, NamesTheFieldAndTheValue) {
  const Status status = ValidateModelConfig(Parse(GetParam().text));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, BadConfigTest,
    ::testing::Values(
        BadCase{"NoInput", "", "input is required"},
        BadCase{"ZeroHeight", "input { width: 4 }", "input.height must be in [1, 8192], got 0"},
        BadCase{"HugeWidth", "input { height: 4 width: 9000 }",
                "input.width must be in [1, 8192], got 9000"},
        BadCase{"BadColorOrder", "input { height: 4 width: 4 color_order: 7 }",
                "input.color_order must be RGB, BGR or GRAY, got 7"},
        BadCase{"BadResize", "input { height: 4 width: 4 resize: 9 }",
                "input.resize must be STRETCH or"},
        BadCase{"MeanCount", "input { height: 4 width: 4 mean: [0.5, 0.5] }",
                "input.mean must have 0 or 3 values"},
        BadCase{"GrayMeanCount",
                "input { height: 4 width: 4 color_order: GRAY mean: [0.5, 0.5, 0.5] }",
                "input.mean must have 0 or 1 values"},
        BadCase{"ZeroStd", "input { height: 4 width: 4 std: [0.5, 0, 0.5] }",
                "input.std[1] must be finite and > 0, got 0"},
        BadCase{"NanMean", "input { height: 4 width: 4 mean: [0.5, nan, 0.5] }",
                "input.mean[1] must be finite"},
        BadCase{"PathInName", "name: \"../etc\" input { height: 4 width: 4 }",
                "name \"../etc\" must be"},
        BadCase{"LabelsOutsideDir", "labels_file: \"../x.txt\" input { height: 4 width: 4 }",
                "labels_file \"../x.txt\" must be a file name"},
        BadCase{"BadCamLayer", "default_cam_layer: \"layer4..1\" input { height: 4 width: 4 }",
                "default_cam_layer \"layer4..1\" is not a module path"},
        BadCase{"EmptyPathLayer", "default_path_layers: [\"a\", \"\"] input { height: 4 width: 4 }",
                "default_path_layers[1] \"\" is not a module path"},
        BadCase{"NegativeCount", "input { height: 4 width: 4 } instance_group { count: -1 }",
                "instance_group[0].count must be in [0, 64] (0: 1), got -1"},
        BadCase{"UnknownDevice",
                "input { height: 4 width: 4 } instance_group { count: 1 devices: [\"tpu\"] }",
                "instance_group[0].devices[0] \"tpu\" must be"},
        BadCase{"ZeroBatch",
                "input { height: 4 width: 4 } dynamic_batching { max_queue_delay_us: 100 }",
                "dynamic_batching.max_batch_size must be in [1, 1024], got 0"},
        BadCase{"NegativeDelay",
                "input { height: 4 width: 4 } dynamic_batching { max_batch_size: 4 "
                "max_queue_delay_us: -1 }",
                "dynamic_batching.max_queue_delay_us must be in [0, 10000000], got -1"},
        BadCase{
            "NegativeQueue", "input { height: 4 width: 4 } max_queue_size: -5",
            "max_queue_size must be in [0, 1048576] (0: the server's --queue-capacity), got -5"},
        BadCase{"BadPrecision", "input { height: 4 width: 4 } precision: 7",
                "precision must be FP32, FP16 or BF16, got 7"},
        BadCase{"CamLayerPath",
                "input { height: 4 width: 4 } cam_layers { layer: \"a..b\" layout: NHWC }",
                "cam_layers[0].layer \"a..b\" is not a module path"},
        BadCase{"CamLayerTwice",
                "input { height: 4 width: 4 } cam_layers { layer: \"a\" layout: NHWC } "
                "cam_layers { layer: \"a\" layout: NCHW }",
                "cam_layers[1].layer \"a\" is declared twice"},
        BadCase{"CamLayerPrefixOnNhwc",
                "input { height: 4 width: 4 } cam_layers { layer: \"a\" layout: NHWC "
                "prefix_tokens: 1 }",
                "cam_layers[0]: prefix_tokens, grid_height and grid_width apply to TOKENS only"},
        BadCase{"CamLayerHalfAGrid",
                "input { height: 4 width: 4 } cam_layers { layer: \"a\" layout: TOKENS "
                "grid_height: 2 }",
                "cam_layers[0]: set both grid_height and grid_width, or neither"},
        BadCase{"CamLayerUnknownLayout",
                "input { height: 4 width: 4 } cam_layers { layer: \"a\" layout: 9 }",
                "cam_layers[0]: layout 9 is not a FeatureLayout"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(ModelNameTest, RejectsPathCharacters) {
  EXPECT_TRUE(IsValidModelName("resnet18_v2.1-a"));
  EXPECT_FALSE(IsValidModelName(""));
  EXPECT_FALSE(IsValidModelName(".."));
  EXPECT_FALSE(IsValidModelName("a/b"));
  EXPECT_FALSE(IsValidModelName("a\\b"));
  EXPECT_FALSE(IsValidModelName(std::string(129, 'a')));
}

TEST(ModulePathTest, AcceptsPyTorchPaths) {
  EXPECT_TRUE(IsValidModulePath("layer4"));
  EXPECT_TRUE(IsValidModulePath("features.7.0"));
  EXPECT_FALSE(IsValidModulePath(""));
  EXPECT_FALSE(IsValidModulePath(".layer4"));
  EXPECT_FALSE(IsValidModulePath("layer4."));
  EXPECT_FALSE(IsValidModulePath("layer 4"));
}

}  // namespace
}  // namespace xai::core
