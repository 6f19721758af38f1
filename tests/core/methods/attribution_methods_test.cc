// The pixel attribution methods (core/methods/attribution) on analytic functions whose
// gradients and integrals are known, with a gradient evaluator that counts its points:
// adaptive Integrated Gradients' levels, their reuse of earlier points, its stopping
// reasons; SmoothGrad's and GradientShap's draws. The methods on real models against the
// eager-PyTorch reference: core/requests/attribute_test.cc.
#include "core/methods/attribution/attribution_methods.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/methods/attribution/quadrature.h"
#include "core/methods/attribution/sampling.h"
#include "core/methods/attribution/xrai_regions.h"

namespace xai::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// f(x) = sum(w * tanh(k x)) over [1,2,4,4] inputs: smooth, but far from a polynomial, so
// that Integrated Gradients needs steps.
struct Analytic {
  at::Tensor w = at::linspace(-1.0, 2.0, 32, at::kDouble).view({1, 2, 4, 4});
  double k = 3.0;
  bool linear = false;  // f(x) = sum(w * x): a constant gradient
  int64_t points = 0;   // gradients evaluated

  at::Tensor F(const at::Tensor& x) const {
    const at::Tensor y = linear ? w * x : w * at::tanh(k * x);
    return y.flatten(1).sum(1);
  }
  at::Tensor G(const at::Tensor& x) const {
    if (linear) return w.expand_as(x).clone();
    const at::Tensor t = at::tanh(k * x);
    return w * k * (1 - t * t);
  }
  AttributionContext Context(const at::Tensor& input) {
    AttributionContext c;
    c.input = input;
    c.baselines = {at::zeros_like(input)};
    c.input_logit = F(input)[0].item<double>();
    c.gradients = [this](int64_t count, const PointsFn& make, const GradientsFn& consume) {
      for (int64_t begin = 0; begin < count; begin += 3) {  // batches of 3
        const int64_t n = std::min<int64_t>(3, count - begin);
        const at::Tensor p = make(begin, n);
        EXPECT_EQ(p.size(0), n);
        points += n;
        consume(begin, F(p), G(p));
      }
      return OkStatus();
    };
    c.logits = [this](const at::Tensor& p) -> StatusOr<at::Tensor> { return F(p); };
    c.seconds_left = [] { return std::numeric_limits<double>::infinity(); };
    return c;
  }
};

at::Tensor Input() { return at::linspace(-0.8, 1.1, 32, at::kDouble).view({1, 2, 4, 4}); }

double RelativeDifference(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

TEST(AttributionMethodsTest, AdaptiveLevelsNestWhereTheRuleAllows) {
  EXPECT_THAT(StepLevels(IntegrationRule::kGaussLegendre, 50, true), ElementsAre(8, 16, 32, 50));
  EXPECT_THAT(StepLevels(IntegrationRule::kRiemannLeft, 64, true), ElementsAre(8, 16, 32, 64));
  EXPECT_THAT(StepLevels(IntegrationRule::kRiemannRight, 50, true), ElementsAre(8, 16, 32));
  EXPECT_THAT(StepLevels(IntegrationRule::kRiemannMiddle, 100, true), ElementsAre(8, 24, 72));
  EXPECT_THAT(StepLevels(IntegrationRule::kRiemannTrapezoid, 40, true), ElementsAre(9, 17, 33));
  EXPECT_THAT(StepLevels(IntegrationRule::kGaussLegendre, 4, true), ElementsAre(4));
  EXPECT_THAT(StepLevels(IntegrationRule::kRiemannMiddle, 50, false), ElementsAre(50));
  EXPECT_TRUE(RuleNests(IntegrationRule::kRiemannTrapezoid));
  EXPECT_FALSE(RuleNests(IntegrationRule::kGaussLegendre));
}

// An error no level meets: every level runs, and the last equals fixed steps of its count,
// with each nested point evaluated once.
TEST(AttributionMethodsTest, AdaptiveLevelsReuseNestedPointsAndEqualFixedSteps) {
  struct Case {
    IntegrationRule rule;
    int cap;
    int last;
    int64_t points;  // evaluated by the adaptive run, one baseline
  };
  for (const Case& c : {Case{IntegrationRule::kGaussLegendre, 50, 50, 8 + 16 + 32 + 50},
                        Case{IntegrationRule::kRiemannLeft, 64, 64, 64},
                        Case{IntegrationRule::kRiemannRight, 32, 32, 32},
                        Case{IntegrationRule::kRiemannMiddle, 72, 72, 72},
                        Case{IntegrationRule::kRiemannTrapezoid, 33, 33, 33}}) {
    SCOPED_TRACE(std::string(IntegrationRuleName(c.rule)));
    Analytic adaptive_f, fixed_f;
    AttributionContext adaptive = adaptive_f.Context(Input());
    adaptive.rule = c.rule;
    adaptive.steps = c.cap;
    adaptive.max_approximation_error = 1e-12;
    auto a = IntegratedGradientsMethod().Attribute(adaptive);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a->steps, c.last);
    EXPECT_EQ(adaptive_f.points, c.points);
    EXPECT_FALSE(a->error_met);
    EXPECT_THAT(a->unmet_reason, HasSubstr("step cap"));
    AttributionContext fixed = fixed_f.Context(Input());
    fixed.rule = c.rule;
    fixed.steps = c.last;
    auto f = IntegratedGradientsMethod().Attribute(fixed);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(fixed_f.points, c.last);
    EXPECT_LT(RelativeDifference(a->attribution.to(at::kDouble), f->attribution.to(at::kDouble)),
              1e-6);
    EXPECT_NEAR(a->delta, f->delta, 1e-5);
  }
}

TEST(AttributionMethodsTest, AdaptiveStopsAtTheFirstLevelThatMeetsTheError) {
  Analytic f;
  f.k = 12;  // sharp enough that 8 steps miss 5%
  AttributionContext c = f.Context(Input());
  c.steps = 256;
  c.max_approximation_error = 0.05;
  c.baselines.push_back(at::full_like(c.input, -0.5));  // two baselines: one level each
  auto a = IntegratedGradientsMethod().Attribute(c);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->error_met);
  EXPECT_TRUE(a->unmet_reason.empty());
  const double gap = a->logit - a->baseline_logit;
  EXPECT_LE(std::abs(a->delta) / std::abs(gap), 0.05);
  // The first level that met it: the level before did not.
  const std::vector<int> levels = StepLevels(IntegrationRule::kGaussLegendre, 256, true);
  ASSERT_GT(a->steps, levels[0]) << "the function is too easy to test raising steps";
  Analytic g;
  g.k = f.k;
  AttributionContext before = g.Context(Input());
  before.baselines = c.baselines;
  before.steps = a->steps / 2;
  auto b = IntegratedGradientsMethod().Attribute(before);
  ASSERT_TRUE(b.ok());
  EXPECT_GT(std::abs(b->delta) / std::abs(gap), 0.05);
}

TEST(AttributionMethodsTest, AdaptiveStopsWhenTheNextLevelWouldMissTheDeadline) {
  Analytic f;
  AttributionContext c = f.Context(Input());
  c.steps = 256;
  c.max_approximation_error = 1e-9;
  c.seconds_left = [] { return 0.0; };
  auto a = IntegratedGradientsMethod().Attribute(c);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->steps, kAdaptiveFirstSteps);
  EXPECT_FALSE(a->error_met);
  EXPECT_THAT(a->unmet_reason, HasSubstr("deadline"));
}

TEST(AttributionMethodsTest, AdaptiveDoesNotChaseAnErrorWithoutAGap) {
  Analytic f;
  f.w = at::ones({1, 2, 4, 4}, at::kDouble);
  // Odd f and a baseline of -x: f(x) - f(baseline) = 2 f(x); with x summing to zero under
  // an odd f, a gap of 0.
  const at::Tensor x = at::cat(
      {at::full({1, 1, 4, 4}, 0.3, at::kDouble), at::full({1, 1, 4, 4}, -0.3, at::kDouble)}, 1);
  AttributionContext c = f.Context(x);
  c.baselines = {-x};
  c.steps = 256;
  c.max_approximation_error = 0.05;
  auto a = IntegratedGradientsMethod().Attribute(c);
  ASSERT_TRUE(a.ok());
  EXPECT_NEAR(a->logit - a->baseline_logit, 0.0, 1e-12);
  EXPECT_EQ(a->steps, kAdaptiveFirstSteps);
  EXPECT_THAT(a->unmet_reason, HasSubstr("below 0.05"));
}

TEST(AttributionMethodsTest, NormalNoiseIsStandardAndAFunctionOfSeedAndSampleOnly) {
  const at::Tensor like = at::zeros({1, 3, 100, 100});
  const at::Tensor a = NormalNoise(like, 7, 3);
  EXPECT_TRUE(at::equal(a, NormalNoise(like, 7, 3)));
  EXPECT_FALSE(at::equal(a, NormalNoise(like, 7, 4)));
  EXPECT_FALSE(at::equal(a, NormalNoise(like, 8, 3)));
  EXPECT_NEAR(a.mean().item<double>(), 0.0, 0.02);
  EXPECT_NEAR(a.std().item<double>(), 1.0, 0.02);
  const double u = UniformDraw(7, 3, DrawStream::kAlpha);
  EXPECT_EQ(u, UniformDraw(7, 3, DrawStream::kAlpha));
  EXPECT_NE(u, UniformDraw(7, 3, DrawStream::kBaseline));
  EXPECT_GE(u, 0.0);
  EXPECT_LT(u, 1.0);
}

TEST(AttributionMethodsTest, SmoothGradWithoutNoiseIsTheMethodItSmooths) {
  for (const AttributionMethod of :
       {AttributionMethod::kSaliency, AttributionMethod::kInputXGradient,
        AttributionMethod::kIntegratedGradients}) {
    SCOPED_TRACE(std::string(AttributionMethodName(of)));
    Analytic f, g;
    AttributionContext smooth = f.Context(Input());
    smooth.smoothed = of;
    smooth.samples = 4;
    smooth.noise_sigma = 0;
    smooth.steps = 16;
    auto s = SmoothGradMethod().Attribute(smooth);
    ASSERT_TRUE(s.ok());
    AttributionContext plain = g.Context(Input());
    plain.steps = 16;
    auto p = FindAttributionMethod(of)->Attribute(plain);
    ASSERT_TRUE(p.ok());
    EXPECT_LT(RelativeDifference(s->attribution.to(at::kDouble), p->attribution.to(at::kDouble)),
              1e-6);
    EXPECT_EQ(f.points, 4 * g.points);  // each sample evaluated
  }
}

TEST(AttributionMethodsTest, SmoothGradAveragesNoisyCopiesRepeatablyBySeed) {
  auto run = [](uint64_t seed, int samples) {
    Analytic f;
    AttributionContext c = f.Context(Input());
    c.samples = samples;
    c.noise_sigma = 0.3;
    c.seed = seed;
    return SmoothGradMethod().Attribute(c)->attribution;
  };
  EXPECT_TRUE(at::equal(run(5, 7), run(5, 7)));
  EXPECT_FALSE(at::equal(run(5, 7), run(6, 7)));
  // The mean of |gradient| at x + noise: its expectation over many samples, by quadrature of
  // the Gaussian per element (the elements are independent).
  Analytic f;
  const at::Tensor z = at::linspace(-6, 6, 2001, at::kDouble);
  const at::Tensor density = at::exp(-z * z / 2) / std::sqrt(2 * M_PI) * (z[1] - z[0]);
  const at::Tensor x = Input().flatten().unsqueeze(1) + 0.3 * z.unsqueeze(0);  // [32, 2001]
  const at::Tensor w = f.w.flatten().unsqueeze(1);
  const at::Tensor t = at::tanh(f.k * x);
  const at::Tensor expected = ((w * f.k * (1 - t * t)).abs() * density).sum(1);
  const at::Tensor estimate = run(1, 1024).to(at::kDouble).flatten();
  EXPECT_LT(RelativeDifference(estimate, expected), 0.05);
}

TEST(AttributionMethodsTest, GradientShapOfALinearFunctionIsExact) {
  // A constant gradient w: every sample gives (x - b) * w whatever its alpha.
  Analytic f;
  f.linear = true;
  AttributionContext c = f.Context(Input());
  c.samples = 9;
  auto one = GradientShapMethod().Attribute(c);
  ASSERT_TRUE(one.ok());
  EXPECT_LT(RelativeDifference(one->attribution.to(at::kDouble), (Input()[0] * f.w[0])), 1e-6);
  EXPECT_EQ(f.points, 9);
  // Two baselines: each sample draws one, so the answer is (x - mix) * w with mix a mean of
  // the draws: between the two, and repeatable by seed.
  c.baselines = {at::zeros_like(c.input), at::full_like(c.input, 1.0)};
  c.samples = 400;
  auto two = GradientShapMethod().Attribute(c);
  ASSERT_TRUE(two.ok());
  const at::Tensor mix = Input()[0] - two->attribution.to(at::kDouble) / f.w[0];
  EXPECT_NEAR(mix.mean().item<double>(), 0.5, 0.1);
  EXPECT_LT((mix - mix.mean()).abs().max().item<double>(), 1e-4);  // one mix for all
  auto again = GradientShapMethod().Attribute(c);
  EXPECT_TRUE(at::equal(two->attribution, again->attribution));
}

TEST(AttributionMethodsTest, GradientShapApproachesIntegratedGradientsInExpectation) {
  Analytic f, g;
  AttributionContext c = f.Context(Input());
  c.samples = 4096;
  auto shap = GradientShapMethod().Attribute(c);
  ASSERT_TRUE(shap.ok());
  AttributionContext ig = g.Context(Input());
  ig.steps = 64;
  auto exact = IntegratedGradientsMethod().Attribute(ig);
  ASSERT_TRUE(exact.ok());
  EXPECT_LT(
      RelativeDifference(shap->attribution.to(at::kDouble), exact->attribution.to(at::kDouble)),
      0.05);
}

// Three regions over a 10 x 10 attribution: the greedy order, the gains per added pixel, the
// dropped region that adds too little, and the uncovered rest with its own mean.
TEST(AttributionMethodsTest, XraiTakesTheRegionWithTheHighestGainPerAddedPixel) {
  at::Tensor attribution = at::zeros({10, 10});
  attribution.narrow(0, 0, 5).narrow(1, 0, 5).fill_(4.0);  // top-left quadrant: 4
  attribution.narrow(0, 0, 5).narrow(1, 5, 5).fill_(1.0);  // top-right: 1
  attribution.narrow(0, 5, 5).fill_(-1.0);                 // bottom half: -1
  at::Tensor masks = at::zeros({4, 10, 10}, at::kBool);
  masks[0].narrow(0, 0, 5).fill_(true);                  // top half: mean 2.5
  masks[1].narrow(0, 0, 5).narrow(1, 0, 5).fill_(true);  // top-left: mean 4
  masks[2].narrow(0, 0, 6).narrow(1, 0, 5).fill_(true);  // top-left + a row: 4 new 5
  masks[3].narrow(0, 8, 2).narrow(1, 0, 2).fill_(true);  // 4 pixels: too few
  const XraiRanking r = RankRegions(masks, attribution, 5);
  // Top-left (4) first; then the top half adds the top-right (gain 1, 25 pixels) over region
  // 2's one new row of 5 pixels at -1; then region 2's row; region 3 adds 4 < 5: dropped.
  EXPECT_THAT(r.order, ElementsAre(1, 0, 2));
  EXPECT_THAT(r.gains, ElementsAre(4.0f, 1.0f, -1.0f));
  EXPECT_THAT(r.added, ElementsAre(25, 25, 5));
  EXPECT_EQ(r.uncovered, 45);
  EXPECT_FLOAT_EQ(r.map[0][0].item<float>(), 4.0f);
  EXPECT_FLOAT_EQ(r.map[0][9].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(r.map[5][0].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(r.map[9][9].item<float>(), -1.0f);  // the rest: its mean, -1
  EXPECT_NEAR(r.map.sum().item<double>(), attribution.sum().item<double>(), 1e-4);
}

TEST(AttributionMethodsTest, XraiMapRanksOverlappingRegionsByWhatTheyAdd) {
  // Random attribution, random rectangles: each taken region's gain is the mean over the
  // pixels it added, the map holds it there, and every pixel gets a finite value.
  const at::Tensor attribution = at::randn({32, 32}, at::TensorOptions().dtype(at::kFloat));
  at::Tensor masks = at::zeros({40, 32, 32}, at::kBool);
  for (int m = 0; m < 40; ++m) {
    const int y = (m * 7) % 24, x = (m * 11) % 24, h = 4 + m % 9, w = 4 + (m * 3) % 9;
    masks[m].narrow(0, y, std::min(h, 32 - y)).narrow(1, x, std::min(w, 32 - x)).fill_(true);
  }
  const XraiRanking r = RankRegions(masks, attribution, 3);
  ASSERT_FALSE(r.order.empty());
  at::Tensor covered = at::zeros({32, 32}, at::kBool);
  for (size_t i = 0; i < r.order.size(); ++i) {
    const at::Tensor added = masks[r.order[i]].logical_and(covered.logical_not());
    EXPECT_EQ(added.sum().item<int64_t>(), r.added[i]);
    EXPECT_GE(r.added[i], 3);
    EXPECT_NEAR(attribution.masked_select(added).mean().item<float>(), r.gains[i], 1e-5);
    EXPECT_TRUE(at::all(r.map.masked_select(added) == r.gains[i]).item<bool>());
    covered = covered.logical_or(masks[r.order[i]]);
  }
  EXPECT_TRUE(at::isfinite(r.map).all().item<bool>());
  EXPECT_NEAR(r.map.sum().item<double>(), attribution.sum().item<double>(), 1e-3);
}

}  // namespace
}  // namespace xai::core
