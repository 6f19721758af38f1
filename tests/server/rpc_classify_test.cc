// Classify through a real server: PyTorch's probabilities for a tensor and an encoded image,
// and concurrent calls.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "tests/server/server_fixture.h"

namespace xai::server {
namespace {

class ClassifyRpcTest : public ServerFixture {};

TEST_F(ClassifyRpcTest, ClassifyMatchesPyTorchForTensorAndEncodedInput) {
  const std::string dir = xai::testing::ReferenceDir();
  xai::v1::ClassifyRequest tensor_request;
  tensor_request.mutable_model()->set_name("resnet18");
  auto* tensor = tensor_request.mutable_image()->mutable_tensor();
  for (int64_t d : {3, 224, 224}) tensor->add_shape(d);
  tensor->set_data(xai::testing::ReadBytes(dir + "/input_0.bin"));
  const auto encoded_request = Request("resnet18", xai::testing::ReadBytes(dir + "/image.png"));

  for (const auto& [request, reference] :
       {std::pair{tensor_request, dir + "/resnet18_0.bin"},
        std::pair{encoded_request, dir + "/resnet18_image.bin"}}) {
    xai::v1::ClassifyResponse response;
    const grpc::Status status = Classify(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const std::vector<float> expected = xai::testing::ReadFloats(reference);
    ASSERT_EQ(response.classes_size(), 5);
    EXPECT_EQ(response.model().name(), "resnet18");
    EXPECT_EQ(response.model().version(), 1);
    const int best =
        static_cast<int>(std::max_element(expected.begin(), expected.end()) - expected.begin());
    EXPECT_EQ(response.classes(0).index(), best);
    for (const auto& c : response.classes()) {
      EXPECT_NEAR(c.probability(), expected[c.index()], 1e-4);
      EXPECT_EQ(c.label(), "class_" + std::to_string(c.index()));
    }
  }
}

TEST_F(ClassifyRpcTest, ConcurrentCallsAllSucceed) {
  const std::string png = Png(40, 30);
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < 16; ++i) {
    calls.push_back(std::async(std::launch::async, [&] {
      xai::v1::ClassifyResponse response;
      return Classify(Request(i % 2 ? "tiny" : "resnet18_scripted", png), &response);
    }));
  }
  for (auto& call : calls) EXPECT_TRUE(call.get().ok());
}

}  // namespace
}  // namespace xai::server
