// The bundled demo model classifies freshly generated images (a seed it never saw).
#include <fstream>
#include <future>
#include <sstream>

#include <gtest/gtest.h>

#include "core/explainer.h"
#include "tests/core/test_paths.h"

namespace xai::core {
namespace {

TEST(DemoModelTest, ClassifiesFreshImagesAccurately) {
  ExplainerOptions options;
  options.model_repository = std::string(XAI_SOURCE_DIR) + "/models";
  auto explainer = Explainer::Create(options);
  ASSERT_TRUE(explainer.ok()) << explainer.status().ToString();
  (*explainer)->WaitUntilLoaded();

  std::ifstream boxes(std::string(XAI_DEMO_DIR) + "/boxes.csv");
  ASSERT_TRUE(boxes) << "run make_demo_images first";
  std::string line;
  std::getline(boxes, line);  // header
  int total = 0;
  int correct = 0;
  while (std::getline(boxes, line)) {
    std::istringstream fields(line);
    std::string file, label;
    std::getline(fields, file, ',');
    std::getline(fields, label, ',');
    const std::string bytes = xai::testing::ReadBytes(std::string(XAI_DEMO_DIR) + "/" + file);
    ClassifyRequest request;
    request.model = {"shapes", 0};
    request.image.kind = ImageRef::Kind::kEncoded;
    request.image.encoded = bytes;
    request.top_k = 1;
    std::promise<StatusOr<ClassifyResult>> done;
    (*explainer)->Classify(request, [&](StatusOr<ClassifyResult> r) { done.set_value(std::move(r)); });
    auto result = done.get_future().get();
    ASSERT_TRUE(result.ok()) << file << ": " << result.status().ToString();
    ++total;
    correct += result->classes[0].label == label;
  }
  ASSERT_GE(total, 100);
  const double accuracy = static_cast<double>(correct) / total;
  std::printf("demo model top-1 accuracy on %d fresh images: %.4f\n", total, accuracy);
  EXPECT_GE(accuracy, 0.95);
}

}  // namespace
}  // namespace xai::core
