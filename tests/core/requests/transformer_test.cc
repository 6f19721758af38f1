// Transformers and channels-last layers: every CAM method against pytorch-grad-cam's
// procedures with its reshape_transform (tools/transformer_reference.py) on small
// torchvision ViT, Swin, DeiT-style and non-square models; layouts in DescribeModel, an
// ambiguous layer refused with the config field, declared layouts in the config and per
// request, a default layer that cannot be used leaving the model serving, DecisionPath's
// refusal, and models that return a tuple, list or dict.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/explainer.h"
#include "tests/core/explainer_calls.h"
#include "tests/core/reference_methods.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr float kCamTolerance = 1e-4f;           // as the CNNs' (grad_cam_test.cc)
constexpr float kPerturbationTolerance = 1e-3f;  // likewise

std::string Dir() { return std::string(XAI_FIXTURE_DIR) + "/transformer_reference"; }

nlohmann::json Manifest() {
  std::ifstream file(Dir() + "/cases.json");
  EXPECT_TRUE(file) << "run make_transformer_reference first";
  return file ? nlohmann::json::parse(file) : nlohmann::json::object();
}

FeatureLayout LayoutNamed(const std::string& name) {
  if (name == "NCHW") return FeatureLayout::kNchw;
  if (name == "NHWC") return FeatureLayout::kNhwc;
  if (name == "TOKENS") return FeatureLayout::kTokens;
  return FeatureLayout::kNone;
}

using xai::testing::kReferenceMethodCount;
using xai::testing::kReferenceMethods;
using xai::testing::ReferenceMethod;

class TransformerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { explainer_ = xai::testing::StartExplainer(Dir()).release(); }
  static void TearDownTestSuite() { delete explainer_; }
  static Explainer* explainer_;
};
Explainer* TransformerTest::explainer_ = nullptr;

// What ExpectReferenceMaps compared.
struct Compared {
  int maps = 0;                       // (case, method, target) triples
  std::map<std::string, int> models;  // per model
  int perturbed = 0;                  // SCORE_CAM and ABLATION_CAM maps
  int aug_smoothed = 0;
};

// Every case of the manifest in `dir` (tools/transformer_reference.py's cases.json), every
// method its maps hold, against the server's answers; and the layouts the server resolved.
Compared ExpectReferenceMaps(Explainer& explainer, const std::string& dir,
                             const nlohmann::json& manifest) {
  Compared compared;
  for (const auto& c : manifest["cases"]) {
    const std::string model = c["model"].get<std::string>();
    const std::string input = xai::testing::ReadBytes(dir + "/" + c["input"].get<std::string>());
    const auto shape = c["input_shape"].get<std::vector<int64_t>>();
    const auto targets = c["targets"].get<std::vector<int>>();
    const auto layers = c["layers"].get<std::vector<std::string>>();
    const bool declared = c["declared"].get<bool>();
    // The layouts the server must have resolved (or, declared, takes from the request).
    auto description = explainer.DescribeModel({model, 0});
    EXPECT_TRUE(description.ok()) << description.status().ToString();
    if (!description.ok()) continue;
    for (size_t l = 0; l < layers.size() && !declared; ++l) {
      const auto& expected = c["layouts"][l];
      const auto found = std::find_if(description->layers.begin(), description->layers.end(),
                                      [&](const LayerInfo& i) { return i.path == layers[l]; });
      EXPECT_NE(found, description->layers.end()) << layers[l];
      if (found == description->layers.end()) continue;
      EXPECT_EQ(found->layout.kind, LayoutNamed(expected["layout"].get<std::string>()))
          << layers[l] << ": " << found->layout_note;
      EXPECT_EQ(found->layout.prefix_tokens, expected["prefix_tokens"].get<int64_t>()) << layers[l];
      EXPECT_EQ(found->layout.height, expected["grid_height"].get<int64_t>()) << layers[l];
      EXPECT_EQ(found->layout.width, expected["grid_width"].get<int64_t>()) << layers[l];
      EXPECT_THAT(found->layout_note, HasSubstr("inferred")) << layers[l];
    }
    for (int v = 0; v < 2 * kReferenceMethodCount; ++v) {
      const ReferenceMethod& m = kReferenceMethods[v % kReferenceMethodCount];
      const bool aug = v >= kReferenceMethodCount;
      const std::string name = std::string(m.name) + (aug ? "+aug_smooth" : "");
      if (!c["maps"].contains(name)) continue;
      SCOPED_TRACE(c["name"].get<std::string>() + " " + name);
      GradCamRequest request;
      request.model = {model, 0};
      request.image = xai::testing::TensorImage(input, shape);
      request.layers = layers;
      request.target_classes = targets;
      request.method = m.method;
      request.eigen_smooth = m.eigen_smooth;
      request.aug_smooth = aug;
      if (declared) {
        for (size_t l = 0; l < layers.size(); ++l) {
          const auto& d = c["layouts"][l];
          LayoutDeclaration layout{LayoutNamed(d["layout"].get<std::string>()),
                                   d["prefix_tokens"].get<int64_t>()};
          request.layer_layouts.push_back({layers[l], layout});
        }
      }
      auto result = xai::testing::GradCamAndWait(explainer, request);
      EXPECT_TRUE(result.ok()) << result.status().ToString();
      if (!result.ok()) continue;
      EXPECT_EQ(result->explanations.size(), targets.size());
      const auto& maps = c["maps"][name];
      const std::vector<float> cams =
          xai::testing::ReadFloats(dir + "/" + maps["cam"].get<std::string>());
      const std::vector<float> raws =
          xai::testing::ReadFloats(dir + "/" + maps["raw"].get<std::string>());
      const auto raw_shape = maps["raw_shape"].get<std::vector<int64_t>>();
      const size_t cam_size = shape[2] * shape[3];
      const size_t raw_size = raw_shape[0] * raw_shape[1];
      EXPECT_EQ(cams.size(), targets.size() * cam_size);
      const float tolerance = m.perturbation ? kPerturbationTolerance : kCamTolerance;
      for (size_t t = 0; t < targets.size() && t < result->explanations.size(); ++t) {
        const CamExplanation& e = result->explanations[t];
        EXPECT_EQ(e.target_class, targets[t]);
        EXPECT_EQ(e.cam.shape, (std::vector<int64_t>{shape[2], shape[3]}));
        EXPECT_EQ(e.raw.shape, raw_shape);  // the grid: never channels read as space
        if (e.cam.data.size() != cam_size || e.raw.data.size() != raw_size) continue;
        float cam_error = 0;
        for (size_t i = 0; i < cam_size; ++i) {
          cam_error = std::max(cam_error, std::abs(e.cam.data[i] - cams[t * cam_size + i]));
        }
        EXPECT_LE(cam_error, tolerance) << "target " << targets[t];
        float raw_error = 0;
        float raw_max = 0;
        for (size_t i = 0; i < raw_size; ++i) {
          raw_error = std::max(raw_error, std::abs(e.raw.data[i] - raws[t * raw_size + i]));
          raw_max = std::max(raw_max, std::abs(raws[t * raw_size + i]));
        }
        // Relative to the map's own scale: transformers' raw maps can be small (1e-3).
        EXPECT_LE(raw_error, tolerance * raw_max) << "target " << targets[t];
        EXPECT_GT(raw_max, 0) << "a degenerate reference proves nothing";
        ++compared.maps;
        ++compared.models[model];
      }
      compared.perturbed += m.perturbation;
      compared.aug_smoothed += aug;
    }
    if (c.contains("faithfulness")) {
      const auto& f = c["faithfulness"];
      GradCamRequest request;
      request.model = {model, 0};
      request.image = xai::testing::TensorImage(input, shape);
      request.layers = layers;
      request.target_classes = targets;
      request.metrics = {true, f["steps"].get<int>(), false};
      auto result = xai::testing::GradCamAndWait(explainer, request);
      EXPECT_TRUE(result.ok()) << result.status().ToString();
      for (size_t t = 0; result.ok() && t < targets.size(); ++t) {
        EXPECT_TRUE(result->explanations[t].metrics.has_value());
        if (!result->explanations[t].metrics) continue;
        const FaithfulnessResult& got = *result->explanations[t].metrics;
        const auto& want = f["scores"][t];
        EXPECT_NEAR(got.probability, want["probability"].get<double>(), 1e-4);
        EXPECT_NEAR(got.map.deletion_auc, want["deletion_auc"].get<double>(), 1e-3);
        EXPECT_NEAR(got.map.insertion_auc, want["insertion_auc"].get<double>(), 1e-3);
        // The top 20% is a rank threshold: a pixel within the maps' tolerance of it may
        // swap in or out (vit_tokens' second target has two within 1e-5 of it), and one
        // pixel of this 64 x 64 ViT's input moves its probability by about 1e-3.
        EXPECT_NEAR(got.map.top20_probability, want["top20_probability"].get<double>(), 3e-3);
      }
    }
  }
  return compared;
}

TEST_F(TransformerTest, EveryMethodMatchesPytorchGradCamWithItsReshapeTransform) {
  ASSERT_TRUE(explainer_ != nullptr);
  const Compared compared = ExpectReferenceMaps(*explainer_, Dir(), Manifest());
  // Every architecture, every method on each; the perturbation methods and aug_smooth on
  // several of them.
  for (const char* model :
       {"vit_traced", "vit_scripted", "swin_scripted", "deit_traced", "vit_nonsquare_traced"}) {
    EXPECT_GE(compared.models.count(model) ? compared.models.at(model) : 0, kReferenceMethodCount)
        << model;
  }
  EXPECT_GE(compared.perturbed, 3 * 5);
  EXPECT_GE(compared.aug_smoothed, 7 * 3);
}

// Full-size torchvision models exported the usual way (vit_b_16 traced, swin_t scripted,
// convnext_tiny traced; tools/transformer_reference.py --full-size): they load, Classify
// equals eager softmax and the CAM methods equal pytorch-grad-cam's at the recommended
// layers.
TEST(FullSizeTransformerTest, LoadClassifyAndExplainAsEagerPyTorch) {
  const std::string dir = std::string(XAI_FIXTURE_DIR) + "/full_size_reference";
  std::ifstream file(dir + "/cases.json");
  ASSERT_TRUE(file) << "run make_full_size_reference first";
  const nlohmann::json manifest = nlohmann::json::parse(file);
  auto explainer = xai::testing::StartExplainer(dir);
  ASSERT_TRUE(explainer != nullptr);
  int classified = 0;
  for (const auto& c : manifest["classify"]) {
    const std::string model = c["model"].get<std::string>();
    SCOPED_TRACE(model);
    const std::string input = xai::testing::ReadBytes(dir + "/" + c["input"].get<std::string>());
    const std::vector<float> probabilities =
        xai::testing::ReadFloats(dir + "/" + c["probabilities"].get<std::string>());
    ClassifyRequest request;
    request.model = {model, 0};
    request.image = xai::testing::TensorImage(input, c["input_shape"].get<std::vector<int64_t>>());
    request.top_k = 10;
    auto result = xai::testing::ClassifyAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    ASSERT_EQ(result->classes.size(), 10u);
    for (const LabeledScore& score : result->classes) {
      EXPECT_NEAR(score.probability, probabilities[score.index], 1e-6) << score.index;
    }
    ++classified;
  }
  EXPECT_EQ(classified, 3);
  const Compared compared = ExpectReferenceMaps(*explainer, dir, manifest);
  for (const char* model : {"vit_b_16_traced", "swin_t_scripted", "convnext_tiny_traced"}) {
    EXPECT_GE(compared.models.count(model) ? compared.models.at(model) : 0, 1) << model;
  }
}

TEST_F(TransformerTest, DescribeModelKnowsTransformers) {
  auto vit = explainer_->DescribeModel({"vit_traced", 0});
  ASSERT_TRUE(vit.ok()) << vit.status().ToString();
  EXPECT_EQ(vit->recommended_cam_layer, "encoder.layers.encoder_layer_1.ln_1");
  EXPECT_EQ(vit->default_cam_layer, "encoder.layers.encoder_layer_1.ln_1");
  EXPECT_EQ(vit->default_cam_layer_problem, "");
  EXPECT_TRUE(vit->default_path_layers.empty());
  EXPECT_THAT(vit->default_path_layers_problem, HasSubstr("DecisionPath"));
  EXPECT_EQ(vit->output, "tensor");
  for (const LayerInfo& layer : vit->layers) {
    if (layer.path == "encoder.layers.encoder_layer_0.ln_1") {
      EXPECT_EQ(layer.layout.ToString(), "TOKENS (1 prefix token, 8x8 grid, 32 channels)");
      EXPECT_EQ(layer.layout_note,
                "inferred: 65 tokens = 1 prefix + a 8x8 grid of the 64x64 input");
    }
    if (layer.path == "conv_proj") {
      EXPECT_EQ(layer.layout.kind, FeatureLayout::kNchw);
    }
    if (layer.path == "heads") {
      EXPECT_FALSE(layer.is_feature_map());
    }
  }
  auto swin = explainer_->DescribeModel({"swin_scripted", 0});
  ASSERT_TRUE(swin.ok()) << swin.status().ToString();
  EXPECT_EQ(swin->recommended_cam_layer, "features.3.1.norm1");
  int channels_last = 0;
  for (const LayerInfo& layer : swin->layers) {
    // [1, 8, 8, 48] and [1, 16, 16, 24]: never 8 channels of 8x48.
    if (layer.output_shape.size() == 4 && layer.output_shape[3] > layer.output_shape[2] &&
        layer.output_shape[1] == layer.output_shape[2]) {
      EXPECT_EQ(layer.layout.kind, FeatureLayout::kNhwc) << layer.path << ": " << layer.layout_note;
      EXPECT_EQ(layer.layout.channels, layer.output_shape[3]) << layer.path;
      ++channels_last;
    }
  }
  EXPECT_GE(channels_last, 6);
  auto deit = explainer_->DescribeModel({"deit_traced", 0});
  ASSERT_TRUE(deit.ok()) << deit.status().ToString();
  for (const LayerInfo& layer : deit->layers) {
    if (layer.path == deit->recommended_cam_layer) {
      EXPECT_EQ(layer.layout.prefix_tokens, 2);  // class and distillation tokens
    }
  }
  EXPECT_EQ(deit->recommended_cam_layer, "encoder.layers.encoder_layer_1.ln_1");
}

// A GradCAM request without layers on a transformer explains the recommended layer.
TEST_F(TransformerTest, TheDefaultLayerOfATransformerIsTheRecommendedOne) {
  const std::string input(4 * 3 * 64 * 64, '\0');
  GradCamRequest request;
  request.model = {"vit_traced", 0};
  request.image = xai::testing::TensorImage(input, {1, 3, 64, 64});
  auto result = xai::testing::GradCamAndWait(*explainer_, request);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->explanations[0].raw.shape, (std::vector<int64_t>{8, 8}));
}

TEST_F(TransformerTest, AnAmbiguousLayerIsRefusedWithTheFieldThatResolvesIt) {
  const nlohmann::json manifest = Manifest();
  const auto& ambiguous = manifest["ambiguous"];
  const std::string model = ambiguous["model"].get<std::string>();
  const std::string layer = ambiguous["layer"].get<std::string>();
  const std::string input(4 * 3 * 64 * 64, '\0');
  GradCamRequest request;
  request.model = {model, 0};
  request.image = xai::testing::TensorImage(input, {1, 3, 64, 64});
  request.layers = {layer};
  auto refused = xai::testing::GradCamAndWait(*explainer_, request);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("layer \"" + layer + "\""));
  EXPECT_THAT(refused.status().message(), HasSubstr("[1, 8, 8, 8]"));
  EXPECT_THAT(refused.status().message(), HasSubstr("ambiguous"));
  EXPECT_THAT(refused.status().message(), HasSubstr("cam_layers { layer: \"" + layer + "\""));
  auto description = explainer_->DescribeModel({model, 0});
  ASSERT_TRUE(description.ok());
  for (const LayerInfo& info : description->layers) {
    if (info.path == layer) {
      EXPECT_FALSE(info.is_feature_map());
      EXPECT_THAT(info.layout_note, HasSubstr("does not run at another input size"));
    }
  }
  // Declared per call, either way round: each is honoured as declared.
  for (const FeatureLayout kind : {FeatureLayout::kNchw, FeatureLayout::kNhwc}) {
    request.layer_layouts = {{layer, LayoutDeclaration{kind}}};
    auto result = xai::testing::GradCamAndWait(*explainer_, request);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->explanations[0].raw.shape, (std::vector<int64_t>{8, 8}));
  }
  // Declarations that do not fit, or name no requested layer.
  request.layer_layouts = {{layer, LayoutDeclaration{FeatureLayout::kTokens, 1}}};
  auto bad = xai::testing::GradCamAndWait(*explainer_, request);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("layer_layouts[0] for layer \"" + layer + "\": TOKENS needs a 3-D output"));
  request.layer_layouts = {{"fc", LayoutDeclaration{FeatureLayout::kNchw}}};
  bad = xai::testing::GradCamAndWait(*explainer_, request);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("not one of the request's layers"));
}

TEST_F(TransformerTest, DecisionPathRefusesTokenLayers) {
  const std::string input(4 * 3 * 64 * 64, '\0');
  DecisionPathRequest request;
  request.model = {"vit_traced", 0};
  request.image = xai::testing::TensorImage(input, {1, 3, 64, 64});
  auto no_default = xai::testing::DecisionPathAndWait(*explainer_, request);
  EXPECT_EQ(no_default.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_default.status().message(), HasSubstr("no default path layers"));
  request.layers = {"encoder.layers.encoder_layer_0.ln_1", "encoder.layers.encoder_layer_1.ln_1"};
  auto refused = xai::testing::DecisionPathAndWait(*explainer_, request);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("is TOKENS (1 prefix token, 8x8 grid, 32 channels): DecisionPath follows "
                        "the channels of convolutional NCHW feature maps"));
}

TEST_F(TransformerTest, ModelsThatReturnATupleListOrDictAreServed) {
  const nlohmann::json manifest = Manifest();
  const std::map<std::string, std::string> notes = {
      {"tuple_output", "tuple element 0 (the first, by default)"},
      {"dict_output", "dict key 'logits'"},
      {"dict_scores_output", "dict key 'scores'"},
      {"list_output", "list element 1"}};
  int served = 0;
  for (const auto& o : manifest["outputs"]) {
    const std::string model = o["model"].get<std::string>();
    SCOPED_TRACE(model);
    auto description = explainer_->DescribeModel({model, 0});
    ASSERT_TRUE(description.ok()) << description.status().ToString();
    EXPECT_EQ(description->output, notes.at(model));
    const std::string input = xai::testing::ReadBytes(Dir() + "/" + o["input"].get<std::string>());
    const std::vector<float> logits =
        xai::testing::ReadFloats(Dir() + "/" + o["logits"].get<std::string>());
    ClassifyRequest classify;
    classify.model = {model, 0};
    classify.image = xai::testing::TensorImage(input, o["input_shape"].get<std::vector<int64_t>>());
    classify.top_k = static_cast<int>(logits.size());
    auto classes = xai::testing::ClassifyAndWait(*explainer_, classify);
    ASSERT_TRUE(classes.ok()) << classes.status().ToString();
    ASSERT_EQ(classes->classes.size(), logits.size());
    for (const LabeledScore& score : classes->classes) {
      EXPECT_NEAR(score.logit, logits[score.index], 1e-5) << score.index;
    }
    GradCamRequest explain;
    explain.model = {model, 0};
    explain.image = classify.image;
    auto cam = xai::testing::GradCamAndWait(*explainer_, explain);
    EXPECT_TRUE(cam.ok()) << cam.status().ToString();
    ++served;
  }
  EXPECT_EQ(served, 4);
}

// A repository of one model, made from a fixture's file and a config.
class ConfiguredModelTest : public ::testing::Test {
 protected:
  void TearDown() override {
    explainer_.reset();
    if (!root_.empty()) fs::remove_all(root_);
  }

  void Start(const std::string& fixture, const std::string& config) {
    root_ = fs::path(::testing::TempDir()) /
            ("xai_transformer_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "m" / "1");
    fs::copy_file(fs::path(Dir()) / fixture / "1" / "model.pt", root_ / "m" / "1" / "model.pt");
    std::ofstream(root_ / "m" / "config.pbtxt") << config;
    explainer_ = xai::testing::StartExplainer(root_.string());
    ASSERT_TRUE(explainer_ != nullptr);
  }

  ModelVersionStatus State() const {
    const std::vector<ModelVersionStatus> models = explainer_->ListModels();
    return models.empty() ? ModelVersionStatus{} : models[0];
  }

  fs::path root_;
  std::unique_ptr<Explainer> explainer_;
};

TEST_F(ConfiguredModelTest, ABadDefaultCamLayerLeavesTheModelServing) {
  for (const std::string& bad : {std::string("heads"), std::string("encoder.nope")}) {
    SCOPED_TRACE(bad);
    Start("vit_traced", "input { height: 64 width: 64 }\ndefault_cam_layer: \"" + bad + "\"\n");
    EXPECT_EQ(State().state, ModelState::kReady) << State().reason;
    const std::string input(4 * 3 * 64 * 64, '\0');
    ClassifyRequest classify;
    classify.model = {"m", 0};
    classify.image = xai::testing::TensorImage(input, {1, 3, 64, 64});
    EXPECT_TRUE(xai::testing::ClassifyAndWait(*explainer_, classify).ok());
    auto description = explainer_->DescribeModel({"m", 0});
    ASSERT_TRUE(description.ok());
    EXPECT_EQ(description->default_cam_layer, "");
    EXPECT_THAT(description->default_cam_layer_problem, HasSubstr("default_cam_layer"));
    EXPECT_THAT(description->default_cam_layer_problem, HasSubstr(bad));
    GradCamRequest request;
    request.model = {"m", 0};
    request.image = classify.image;
    auto refused = xai::testing::GradCamAndWait(*explainer_, request);
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_THAT(refused.status().message(), HasSubstr("has no default CAM layer"));
    EXPECT_THAT(refused.status().message(), HasSubstr(bad));
    request.layers = {"encoder.layers.encoder_layer_1.ln_1"};
    auto named = xai::testing::GradCamAndWait(*explainer_, request);
    EXPECT_TRUE(named.ok()) << named.status().ToString();
    TearDown();
  }
}

TEST_F(ConfiguredModelTest, LayoutsDeclaredInTheConfig) {
  const nlohmann::json manifest = Manifest();
  const std::string layer = manifest["ambiguous"]["layer"].get<std::string>();
  Start("ambiguous_traced", "input { height: 64 width: 64 }\ncam_layers { layer: \"" + layer +
                                "\" layout: NHWC }\ncam_layers { layer: \"fc\" layout: TOKENS "
                                "prefix_tokens: 1 }\n");
  EXPECT_EQ(State().state, ModelState::kReady) << State().reason;
  auto description = explainer_->DescribeModel({"m", 0});
  ASSERT_TRUE(description.ok());
  int checked = 0;
  for (const LayerInfo& info : description->layers) {
    if (info.path == layer) {
      EXPECT_EQ(info.layout.kind, FeatureLayout::kNhwc);
      EXPECT_EQ(info.layout_note, "declared in config.pbtxt (cam_layers[0])");
      ++checked;
    }
    if (info.path == "fc") {  // a declaration that does not fit blocks nothing else
      EXPECT_FALSE(info.is_feature_map());
      EXPECT_THAT(info.layout_note, HasSubstr("cam_layers[1] in config.pbtxt does not fit the "
                                              "layer: TOKENS needs a 3-D output"));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2);
}

TEST_F(ConfiguredModelTest, AnOutputThatHoldsNoLogitsFailsTheLoadNamingTheField) {
  Start("tuple_output", "input { height: 32 width: 32 }\noutput: \"7\"\n");
  EXPECT_EQ(State().state, ModelState::kFailed);
  EXPECT_THAT(State().reason, HasSubstr("forward returns a tuple of 2, no element 7"));
  EXPECT_THAT(State().reason, HasSubstr("set output in config.pbtxt"));
}

}  // namespace
}  // namespace xai::core
