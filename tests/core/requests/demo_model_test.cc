// The bundled demo model classifies freshly generated images (a seed it never saw).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/explainer.h"
#include "tests/core/explainer_calls.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

struct DemoImage {
  std::string file;
  std::string label;
  int x0, y0, x1, y1;  // the object's box, x1 and y1 exclusive
};

// An explainer serving the bundled demo repository, loaded.
std::unique_ptr<Explainer> StartDemoExplainer() {
  ExplainerOptions options;
  options.model_repository = std::string(XAI_SOURCE_DIR) + "/models";
  auto explainer = Explainer::Create(options);
  EXPECT_TRUE(explainer.ok()) << explainer.status().ToString();
  if (!explainer.ok()) return nullptr;
  (*explainer)->WaitUntilLoaded();
  return std::move(*explainer);
}

std::vector<DemoImage> ReadDemoImages() {
  std::vector<DemoImage> images;
  std::ifstream boxes(std::string(XAI_DEMO_DIR) + "/boxes.csv");
  std::string line;
  std::getline(boxes, line);  // header
  while (std::getline(boxes, line)) {
    std::istringstream fields(line);
    DemoImage image;
    std::string x0, y0, x1, y1;
    std::getline(fields, image.file, ',');
    std::getline(fields, image.label, ',');
    std::getline(fields, x0, ',');
    std::getline(fields, y0, ',');
    std::getline(fields, x1, ',');
    std::getline(fields, y1, ',');
    image.x0 = std::stoi(x0), image.y0 = std::stoi(y0), image.x1 = std::stoi(x1),
    image.y1 = std::stoi(y1);
    images.push_back(image);
  }
  return images;
}

TEST(DemoModelTest, ClassifiesFreshImagesAccurately) {
  auto explainer = StartDemoExplainer();
  ASSERT_NE(explainer, nullptr);

  int total = 0;
  int correct = 0;
  for (const DemoImage& image : ReadDemoImages()) {
    const std::string& file = image.file;
    const std::string& label = image.label;
    const std::string bytes = xai::testing::ReadBytes(std::string(XAI_DEMO_DIR) + "/" + file);
    ClassifyRequest request;
    request.model = {"shapes", 0};
    request.image.kind = ImageRef::Kind::kEncoded;
    request.image.encoded = bytes;
    request.top_k = 1;
    auto result = xai::testing::ClassifyAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << file << ": " << result.status().ToString();
    ++total;
    correct += result->classes[0].label == label;
  }
  ASSERT_GE(total, 500) << "run make_demo_images first";
  const double accuracy = static_cast<double>(correct) / total;
  std::printf("demo model top-1 accuracy on %d fresh images: %.4f\n", total, accuracy);
  EXPECT_GE(accuracy, 0.95);
}

}  // namespace
}  // namespace xai::core

namespace xai::core {
namespace {

// The pointing game: the Grad-CAM peak of the predicted class, mapped back to the image,
// lies inside the object's box.
TEST(DemoModelTest, GradCamPeaksInsideTheObject) {
  auto explainer = StartDemoExplainer();
  ASSERT_NE(explainer, nullptr);
  int total = 0;
  int hits = 0;
  for (const DemoImage& image : ReadDemoImages()) {
    const std::string bytes = xai::testing::ReadBytes(std::string(XAI_DEMO_DIR) + "/" + image.file);
    GradCamRequest request;
    request.model = {"shapes", 0};
    request.image.kind = ImageRef::Kind::kEncoded;
    request.image.encoded = bytes;
    auto result = xai::testing::GradCamAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << image.file << ": " << result.status().ToString();
    const FloatTensor& cam = result->explanations[0].cam;
    const int64_t height = cam.shape[0], width = cam.shape[1];
    // The peak: the centre of the pixels at the maximum (upsampling makes plateaus).
    const float peak = *std::max_element(cam.data.begin(), cam.data.end());
    double u = 0, v = 0;
    int count = 0;
    for (int64_t i = 0; i < height * width; ++i) {
      if (cam.data[i] != peak) continue;
      u += static_cast<double>(i % width), v += static_cast<double>(i / width), ++count;
    }
    u /= count, v /= count;
    // STRETCH: model pixel centre u lies at original x = (u + 0.5) * W / w - 0.5.
    const double x = (u + 0.5) * 128 / width - 0.5;
    const double y = (v + 0.5) * 128 / height - 0.5;
    ++total;
    hits += x >= image.x0 - 0.5 && x < image.x1 - 0.5 && y >= image.y0 - 0.5 && y < image.y1 - 0.5;
  }
  ASSERT_GE(total, 500);
  const double rate = static_cast<double>(hits) / total;
  std::printf("pointing game: Grad-CAM peak inside the box for %d of %d fresh images (%.4f)\n",
              hits, total, rate);
  EXPECT_GE(rate, 0.95);
}

}  // namespace
}  // namespace xai::core

namespace xai::core {
namespace {

// Faithfulness (docs/METHODS.md): on 100 fresh images, removing the pixels Grad-CAM ranks
// first lowers the predicted class's probability sooner than removing a random map's, and
// revealing them raises it sooner: Grad-CAM's deletion AUC is lower, its insertion AUC higher.
TEST(DemoModelTest, GradCamIsMoreFaithfulThanARandomMap) {
  auto explainer = StartDemoExplainer();
  ASSERT_NE(explainer, nullptr);
  std::vector<DemoImage> images = ReadDemoImages();
  ASSERT_GE(images.size(), 100u);
  images.resize(100);
  double deletion = 0, insertion = 0, random_deletion = 0, random_insertion = 0;
  int deletion_wins = 0, insertion_wins = 0;
  for (const DemoImage& image : images) {
    // The request borrows the bytes (ImageRef): they outlive the call.
    const std::string bytes = xai::testing::ReadBytes(std::string(XAI_DEMO_DIR) + "/" + image.file);
    GradCamRequest request;
    request.model = {"shapes", 0};
    request.image.kind = ImageRef::Kind::kEncoded;
    request.image.encoded = bytes;
    request.metrics = {true, 0, true};
    auto result = xai::testing::GradCamAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << image.file << ": " << result.status().ToString();
    const auto& metrics = result->explanations[0].metrics;
    ASSERT_TRUE(metrics.has_value() && metrics->random.has_value());
    ASSERT_EQ(metrics->map.deletion_curve.size(), 17u);  // the default 16 steps
    EXPECT_EQ(metrics->map.deletion_curve.front(), metrics->probability);
    EXPECT_EQ(metrics->map.insertion_curve.front(), metrics->blurred_probability);
    deletion += metrics->map.deletion_auc, insertion += metrics->map.insertion_auc;
    random_deletion += metrics->random->deletion_auc;
    random_insertion += metrics->random->insertion_auc;
    deletion_wins += metrics->map.deletion_auc < metrics->random->deletion_auc;
    insertion_wins += metrics->map.insertion_auc > metrics->random->insertion_auc;
  }
  const double n = static_cast<double>(images.size());
  std::printf(
      "faithfulness on %d fresh images, Grad-CAM vs a random map: deletion AUC %.4f vs %.4f "
      "(lower for %d), insertion AUC %.4f vs %.4f (higher for %d)\n",
      static_cast<int>(images.size()), deletion / n, random_deletion / n, deletion_wins,
      insertion / n, random_insertion / n, insertion_wins);
  EXPECT_LT(deletion / n, random_deletion / n);
  EXPECT_GT(insertion / n, random_insertion / n);
}

}  // namespace
}  // namespace xai::core

namespace xai::core {
namespace {

// XRAI on 100 fresh images: the top 20% of pixels by its map (the highest-ranked regions)
// fall inside the object's box far more often than 20% of pixels taken at random would (the
// box's share of the image).
TEST(DemoModelTest, XraiTopRegionsFallOnTheObject) {
  auto explainer = StartDemoExplainer();
  ASSERT_NE(explainer, nullptr);
  const std::vector<DemoImage> images = ReadDemoImages();
  ASSERT_GE(images.size(), 100u);
  double inside_sum = 0, chance_sum = 0;
  int above_chance = 0;
  for (size_t i = 0; i < 100; ++i) {
    const DemoImage& image = images[i];
    const std::string bytes = xai::testing::ReadBytes(std::string(XAI_DEMO_DIR) + "/" + image.file);
    AttributeRequest request;
    request.model = {"shapes", 0};
    request.image.kind = ImageRef::Kind::kEncoded;
    request.image.encoded = bytes;
    request.method = AttributionMethod::kXrai;
    request.steps = 16;
    auto result = xai::testing::AttributeAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << image.file << ": " << result.status().ToString();
    const FloatTensor& map = result->attributions[0].map;
    const int64_t height = map.shape[0], width = map.shape[1];
    std::vector<int64_t> order(static_cast<size_t>(height * width));
    for (size_t p = 0; p < order.size(); ++p) order[p] = static_cast<int64_t>(p);
    std::stable_sort(order.begin(), order.end(),
                     [&map](int64_t a, int64_t b) { return map.data[a] > map.data[b]; });
    const size_t top = order.size() / 5;
    int inside = 0;
    for (size_t k = 0; k < top; ++k) {
      // STRETCH: model pixel centre u lies at original x = (u + 0.5) * W / w - 0.5.
      const double x = (static_cast<double>(order[k] % width) + 0.5) * 128 / width - 0.5;
      const double y = (static_cast<double>(order[k] / width) + 0.5) * 128 / height - 0.5;
      inside +=
          x >= image.x0 - 0.5 && x < image.x1 - 0.5 && y >= image.y0 - 0.5 && y < image.y1 - 0.5;
    }
    const double fraction = static_cast<double>(inside) / static_cast<double>(top);
    const double chance =
        static_cast<double>((image.x1 - image.x0) * (image.y1 - image.y0)) / (128.0 * 128.0);
    inside_sum += fraction;
    chance_sum += chance;
    above_chance += fraction > chance;
  }
  std::printf(
      "XRAI, 100 fresh images: %.1f%% of the top-20%% pixels inside the object's box "
      "(a random 20%%: %.1f%%); above chance on %d of 100\n",
      inside_sum, chance_sum, above_chance);
  EXPECT_GE(inside_sum, 2 * chance_sum);
  EXPECT_GE(above_chance, 90);
}

}  // namespace
}  // namespace xai::core

namespace xai::core {
namespace {

// The faithfulness metrics on attributions: Integrated Gradients' maps of 30 fresh images
// rank pixels better than a random map (deletion lower, insertion higher, on average).
TEST(DemoModelTest, IntegratedGradientsIsMoreFaithfulThanARandomMap) {
  auto explainer = StartDemoExplainer();
  ASSERT_NE(explainer, nullptr);
  const std::vector<DemoImage> images = ReadDemoImages();
  double deletion = 0, insertion = 0, random_deletion = 0, random_insertion = 0;
  const int count = 30;
  for (int i = 0; i < count; ++i) {
    const std::string bytes =
        xai::testing::ReadBytes(std::string(XAI_DEMO_DIR) + "/" + images[i].file);
    AttributeRequest request;
    request.model = {"shapes", 0};
    request.image.kind = ImageRef::Kind::kEncoded;
    request.image.encoded = bytes;
    request.steps = 16;
    request.baselines = {static_cast<int>(BaselineKind::kBlack)};
    request.metrics = {true, 16, true};
    auto result = xai::testing::AttributeAndWait(*explainer, request);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const FaithfulnessResult& m = *result->attributions[0].metrics;
    deletion += m.map.deletion_auc / count;
    insertion += m.map.insertion_auc / count;
    random_deletion += m.random->deletion_auc / count;
    random_insertion += m.random->insertion_auc / count;
  }
  std::printf(
      "Integrated Gradients (16 steps, black baseline), %d fresh images: deletion AUC "
      "%.4f vs %.4f for a random map, insertion AUC %.4f vs %.4f\n",
      count, deletion, random_deletion, insertion, random_insertion);
  EXPECT_LT(deletion, random_deletion);
  EXPECT_GT(insertion, random_insertion);
}

}  // namespace
}  // namespace xai::core
