// The CAM method table: every wire method has a row, the served ones an implementation of
// their family, and names, numbers and the served list come from it.
#include "core/methods/cam/cam_methods.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace xai::core {
namespace {

TEST(CamMethodTableTest, EveryWireMethodHasARowWithItsName) {
  const char* names[] = {"GRAD_CAM",  "GRAD_CAM_PLUS_PLUS", "XGRAD_CAM", "HIRES_CAM",   "LAYER_CAM",
                         "EIGEN_CAM", "EIGEN_GRAD_CAM",     "SCORE_CAM", "ABLATION_CAM"};
  for (int number = 1; number <= 9; ++number) {
    const std::optional<CamMethod> method = CamMethodFromNumber(number);
    ASSERT_TRUE(method.has_value()) << number;
    EXPECT_EQ(static_cast<int>(*method), number);
    ASSERT_NE(FindCamMethod(*method), nullptr) << number;
    EXPECT_EQ(CamMethodName(*method), names[number - 1]);
  }
  EXPECT_FALSE(CamMethodFromNumber(0).has_value());
  EXPECT_FALSE(CamMethodFromNumber(10).has_value());
  EXPECT_FALSE(CamMethodFromNumber(-1).has_value());
  EXPECT_EQ(CamMethodName(static_cast<CamMethod>(42)), "UNKNOWN");
}

TEST(CamMethodTableTest, ServedMethodsAreTheGradientFamilyWithImplementations) {
  EXPECT_EQ(ServedCamMethodNames(),
            "GRAD_CAM, GRAD_CAM_PLUS_PLUS, XGRAD_CAM, HIRES_CAM, LAYER_CAM");
  for (int number = 1; number <= 9; ++number) {
    const CamMethod method = *CamMethodFromNumber(number);
    const CamMethodRow* row = FindCamMethod(method);
    EXPECT_EQ(IsServed(method), row->impl != nullptr) << number;
    if (row->impl != nullptr) {
      EXPECT_EQ(row->impl->family(), row->family) << number;
    }
    EXPECT_EQ(FindGradientCamMethod(method) != nullptr, number <= 5) << number;
  }
  EXPECT_EQ(FindCamMethod(*CamMethodFromNumber(6))->family, CamFamily::kActivationOnly);
  EXPECT_EQ(FindCamMethod(*CamMethodFromNumber(8))->family, CamFamily::kPerturbation);
}

TEST(CamMethodTableTest, GradCamWeightsChannelsByTheirMeanGradient) {
  // Two channels of 1x2: weights are the gradients' means, 1 and -1.
  const at::Tensor a = at::tensor({1.f, 2.f, 3.f, 5.f}).view({2, 1, 2});
  const at::Tensor g = at::tensor({0.5f, 1.5f, -1.f, -1.f}).view({2, 1, 2});
  const at::Tensor map = FindGradientCamMethod(CamMethod::kGradCam)->Map(a, g);
  EXPECT_TRUE(at::allclose(map, at::tensor({1.f - 3.f, 2.f - 5.f}).view({1, 2})));
  const at::Tensor hires = FindGradientCamMethod(CamMethod::kHiResCam)->Map(a, g);
  EXPECT_TRUE(at::allclose(hires, at::tensor({0.5f - 3.f, 3.f - 5.f}).view({1, 2})));
}

}  // namespace
}  // namespace xai::core
