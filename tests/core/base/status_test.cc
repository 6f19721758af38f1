#include "core/base/status.h"

#include <gtest/gtest.h>

namespace xai::core {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("x must be even, got " + std::to_string(x));
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  XAI_ASSIGN_OR_RETURN(int half, Half(x));
  return Half(half);
}

TEST(StatusTest, CodesAndMessages) {
  EXPECT_TRUE(OkStatus().ok());
  const Status s = NotFoundError("no model");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: no model");
  EXPECT_EQ(s.WithContext("model 'a' v1").message(), "model 'a' v1: no model");
  EXPECT_EQ(static_cast<int>(StatusCode::kResourceExhausted), 8);  // gRPC's number
}

TEST(StatusTest, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  const auto odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "x must be even, got 3");
}

}  // namespace
}  // namespace xai::core
