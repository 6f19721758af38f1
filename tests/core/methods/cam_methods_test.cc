// The CAM method table: every wire method has a row, the served ones an implementation of
// their family, and names, numbers and the served list come from it.
#include "core/methods/cam/cam_methods.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

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

TEST(CamMethodTableTest, ServedMethodsAreThoseWithImplementations) {
  EXPECT_EQ(ServedCamMethodNames(),
            "GRAD_CAM, GRAD_CAM_PLUS_PLUS, XGRAD_CAM, HIRES_CAM, LAYER_CAM, EIGEN_CAM, "
            "EIGEN_GRAD_CAM, SCORE_CAM, ABLATION_CAM");
  for (int number = 1; number <= 9; ++number) {
    const CamMethod method = *CamMethodFromNumber(number);
    const CamMethodRow* row = FindCamMethod(method);
    EXPECT_EQ(IsServed(method), row->impl != nullptr) << number;
    if (row->impl != nullptr) {
      EXPECT_EQ(row->impl->family(), row->family) << number;
    }
    EXPECT_EQ(FindMapCamMethod(method) != nullptr, number <= 7) << number;
    if (number <= 7) {
      EXPECT_EQ(FindMapCamMethod(method)->needs_gradients(), method != CamMethod::kEigenCam);
    }
  }
  EXPECT_NE(FindPerturbationCamMethod(CamMethod::kScoreCam), nullptr);
  EXPECT_EQ(FindPerturbationCamMethod(CamMethod::kGradCam), nullptr);
  EXPECT_EQ(FindCamMethod(*CamMethodFromNumber(6))->family, CamFamily::kActivationOnly);
  EXPECT_EQ(FindCamMethod(*CamMethodFromNumber(8))->family, CamFamily::kPerturbation);
}

// ScoreCAM forwards each distinct mask once: equal channels share one, and every constant
// channel (zero or not) scales to the all-zero mask.
TEST(CamMethodTableTest, ScoreCamForwardsEachDistinctMaskOnce) {
  const PerturbationCamMethod& score = *FindPerturbationCamMethod(CamMethod::kScoreCam);
  const at::Tensor a =
      at::tensor({0.f, 0.f, 3.f, 3.f, 1.f, 2.f, 1.f, 2.f, 0.f, 0.f, 1.f, 4.f}).view({6, 1, 2});
  EXPECT_EQ(score.Representatives(a), (std::vector<int64_t>{0, 0, 2, 2, 0, 5}));
  // The masks: channel 2 ([1, 2]) scales to [0, 1] at the corners of a 2x3 input and
  // half-way between (align_corners); the zero channel's mask is zero.
  const at::Tensor x = at::ones({1, 1, 2, 3});
  const at::Tensor masked = score.Perturb(x, a, at::tensor({int64_t{2}, int64_t{0}}));
  ASSERT_EQ(masked.sizes(), (at::IntArrayRef{2, 1, 2, 3}));
  EXPECT_TRUE(at::allclose(masked[0][0], at::tensor({0.f, 0.5f, 1.f, 0.f, 0.5f, 1.f}).view({2, 3}),
                           1e-6, 1e-6));
  EXPECT_EQ(masked[1].abs().max().item<float>(), 0.f);
  // Weights: the softmax over channels of each target's scores.
  const at::Tensor w =
      score.Weights(at::tensor({0.f, 0.f, std::log(3.f), 0.f}).view({2, 2}), at::zeros({2}));
  EXPECT_TRUE(at::allclose(w, at::tensor({0.25f, 0.75f, 0.5f, 0.5f}).view({2, 2})));
}

TEST(CamMethodTableTest, GradCamWeightsChannelsByTheirMeanGradient) {
  // Two channels of 1x2: weights are the gradients' means, 1 and -1.
  const at::Tensor a = at::tensor({1.f, 2.f, 3.f, 5.f}).view({2, 1, 2});
  const at::Tensor g = at::tensor({0.5f, 1.5f, -1.f, -1.f}).view({2, 1, 2});
  const at::Tensor map = FindMapCamMethod(CamMethod::kGradCam)->Map(a, g);
  EXPECT_TRUE(at::allclose(map, at::tensor({1.f - 3.f, 2.f - 5.f}).view({1, 2})));
  const at::Tensor hires = FindMapCamMethod(CamMethod::kHiResCam)->Map(a, g);
  EXPECT_TRUE(at::allclose(hires, at::tensor({0.5f - 3.f, 3.f - 5.f}).view({1, 2})));
}

// Two channels over three pixels, the second twice the first: a = [[0, 1, 5], [0, 2, 10]].
// The centred pixels are [-2, -4], [-1, -2], [3, 6], all along (1, 2) / sqrt(5), so the
// projection is +-sqrt(5) * [-2, -1, 3], oriented so that its largest magnitude (pixel 2)
// is positive.
TEST(CamMethodTableTest, EigenCamProjectsOnTheFirstComponentWithItsSignOriented) {
  const at::Tensor a = at::tensor({0.f, 1.f, 5.f, 0.f, 2.f, 10.f}).view({2, 1, 3});
  const at::Tensor map = FindMapCamMethod(CamMethod::kEigenCam)->Map(a, at::Tensor());
  const float r5 = std::sqrt(5.f);
  EXPECT_TRUE(at::allclose(map, at::tensor({-2 * r5, -r5, 3 * r5}).view({1, 3}), 1e-5, 1e-5))
      << map;
  // The sign does not follow the input's: -a gives the same map.
  EXPECT_TRUE(
      at::allclose(FindMapCamMethod(CamMethod::kEigenCam)->Map(-a, at::Tensor()), map, 1e-5, 1e-5));
  // EIGEN_GRAD_CAM projects g * a; a batch gives each sample's own map.
  const at::Tensor g = at::full({2, 1, 3}, 2.f);
  const at::Tensor batch = at::stack({a, a.flip(-1)});
  const at::Tensor maps = FindMapCamMethod(CamMethod::kEigenGradCam)->Map(batch, at::stack({g, g}));
  EXPECT_TRUE(at::allclose(maps[0], 2 * map, 1e-4, 1e-4)) << maps;
  EXPECT_TRUE(at::allclose(maps[1], 2 * map.flip(-1), 1e-4, 1e-4)) << maps;
}

}  // namespace
}  // namespace xai::core
