#include "core/runtime/input_tensor.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace xai::core {
namespace {

using ::testing::HasSubstr;

std::string Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

TEST(InputTensorTest, AcceptsChwAndBatchOfOne) {
  const std::vector<float> values = {1, 2, 3, 4, 5, 6};
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{1, 2, 3}, {1, 1, 2, 3}}) {
    auto t = InputFromTensorBytes(shape, Bytes(values), {1, 2, 3});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->sizes(), (std::vector<int64_t>{1, 1, 2, 3}));
    EXPECT_FLOAT_EQ(t->index({0, 0, 1, 2}).item<float>(), 6);
  }
}

TEST(InputTensorTest, WrongShapeNamesTheField) {
  auto t = InputFromTensorBytes({3, 2, 1}, Bytes({1, 2, 3, 4, 5, 6}), {1, 2, 3});
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("image.tensor.shape must be [1, 2, 3]"));
  EXPECT_THAT(t.status().message(), HasSubstr("got [3, 2, 1]"));
  EXPECT_EQ(InputFromTensorBytes({2, 1, 2, 3}, Bytes({}), {1, 2, 3}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(InputTensorTest, WrongByteCount) {
  auto t = InputFromTensorBytes({1, 2, 3}, Bytes({1, 2, 3, 4, 5}), {1, 2, 3});
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("image.tensor.data has 20 bytes, expected 24"));
}

TEST(InputTensorTest, RejectsNanAndInfinity) {
  auto nan = InputFromTensorBytes({1, 1, 2}, Bytes({0, std::nanf("")}), {1, 1, 2});
  EXPECT_EQ(nan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(nan.status().message(), HasSubstr("element 1 is NaN"));
  auto inf = InputFromTensorBytes({1, 1, 2}, Bytes({std::numeric_limits<float>::infinity(), 0}),
                                  {1, 1, 2});
  EXPECT_THAT(inf.status().message(), HasSubstr("element 0 is infinite"));
}

}  // namespace
}  // namespace xai::core
