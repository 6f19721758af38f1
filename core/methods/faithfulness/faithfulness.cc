#include "core/methods/faithfulness/faithfulness.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/methods/classifier.h"
#include "core/methods/faithfulness/faithfulness_metrics.h"

namespace xai::core {
namespace {

constexpr int kBlurTaps = 11;
constexpr double kBlurSigma = 5.0;

// A perturbed input to forward: `top` pixels by `ranks` from one source, the rest from the
// other. ranks == nullptr: the input itself (top_from_input) or the blurred copy.
struct Row {
  const at::Tensor* ranks = nullptr;
  Perturbation perturbation;
};

// The rows of every metric for one ranking, appended to `rows`; returns where each metric's
// rows start.
std::vector<size_t> AppendMetricRows(const at::Tensor* ranks, int64_t pixels, int steps,
                                     std::vector<Row>* rows) {
  std::vector<size_t> starts;
  for (const FaithfulnessMetric* metric : FaithfulnessMetricTable()) {
    starts.push_back(rows->size());
    for (const Perturbation& p : metric->Perturbations(pixels, steps)) rows->push_back({ranks, p});
  }
  return starts;
}

// Each metric's score from the probabilities of its rows (from `starts`, as AppendMetricRows).
FaithfulnessScores ScoreRows(const std::vector<size_t>& starts, int64_t pixels, int steps,
                             const std::vector<float>& probabilities, float input, float blurred) {
  FaithfulnessScores scores;
  const auto& table = FaithfulnessMetricTable();
  for (size_t m = 0; m < table.size(); ++m) {
    const size_t count = table[m]->Perturbations(pixels, steps).size();
    const auto first = probabilities.begin() + static_cast<std::ptrdiff_t>(starts[m]);
    table[m]->Score(input, blurred,
                    std::vector<float>(first, first + static_cast<std::ptrdiff_t>(count)), &scores);
  }
  return scores;
}

}  // namespace

at::Tensor BlurredCopy(const at::Tensor& input) {
  std::vector<float> taps(kBlurTaps);
  double sum = 0;
  for (int i = 0; i < kBlurTaps; ++i) {
    const double d = i - kBlurTaps / 2;
    taps[i] = static_cast<float>(std::exp(-d * d / (2 * kBlurSigma * kBlurSigma)));
    sum += taps[i];
  }
  for (float& t : taps) t = static_cast<float>(t / sum);
  const int64_t channels = input.size(1);
  const at::Tensor kernel = at::tensor(taps, at::kFloat).to(input.device());
  // Separable: a column pass, then a row pass; the same as the 2-D kernel with zero padding.
  const at::Tensor column = kernel.view({1, 1, kBlurTaps, 1}).repeat({channels, 1, 1, 1});
  const at::Tensor row = kernel.view({1, 1, 1, kBlurTaps}).repeat({channels, 1, 1, 1});
  const at::Tensor x = input.to(at::kFloat);
  const std::vector<int64_t> unit = {1, 1};
  const std::vector<int64_t> column_padding = {kBlurTaps / 2, 0};
  const std::vector<int64_t> row_padding = {0, kBlurTaps / 2};
  const at::Tensor once = at::conv2d(x, column, at::Tensor(), unit, column_padding, unit, channels);
  return at::conv2d(once, row, at::Tensor(), unit, row_padding, unit, channels);
}

at::Tensor PixelRanks(const at::Tensor& map) {
  const at::Tensor values = map.detach().to(at::kCPU, at::kFloat).contiguous().view({-1});
  const float* v = values.data_ptr<float>();
  const int64_t n = values.numel();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] > v[b]; });
  at::Tensor ranks = at::empty({n}, at::kLong);
  int64_t* r = ranks.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) r[order[i]] = i;
  return ranks;
}

at::Tensor RandomPixelRanks(int64_t pixels) {
  std::mt19937 generator(0);
  at::Tensor ranks = at::arange(pixels, at::kLong);
  int64_t* r = ranks.data_ptr<int64_t>();
  for (int64_t i = pixels - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(generator() % static_cast<uint64_t>(i + 1));
    std::swap(r[i], r[j]);
  }
  return ranks;
}

StatusOr<std::vector<FaithfulnessResult>> ScoreMaps(ModelPool::Handle& instance,
                                                    const at::Tensor& input,
                                                    const std::vector<ScoredMap>& maps,
                                                    const FaithfulnessSpec& spec) {
  const at::Tensor x = input.detach().to(at::kCPU, at::kFloat).contiguous();
  const int64_t height = x.size(2), width = x.size(3), pixels = height * width;
  const at::Tensor blurred = BlurredCopy(x);
  const int steps = std::max(1, spec.steps);

  // Rows 0 and 1: the input and the blurred copy; then every map's rows, and the random
  // map's once (its inputs do not depend on the target).
  std::vector<Row> rows = {{nullptr, {0, true}}, {nullptr, {0, false}}};
  std::vector<at::Tensor> ranks;
  ranks.reserve(maps.size() + 1);
  for (const ScoredMap& m : maps) {
    if (m.map.dim() != 2 || m.map.size(0) != height || m.map.size(1) != width) {
      return InternalError("a map to score is not [" + std::to_string(height) + "," +
                           std::to_string(width) + "]");
    }
    ranks.push_back(PixelRanks(m.map));
  }
  if (spec.random_baseline) ranks.push_back(RandomPixelRanks(pixels));
  std::vector<std::vector<size_t>> starts;
  for (const at::Tensor& r : ranks) starts.push_back(AppendMetricRows(&r, pixels, steps, &rows));

  // The rows' class probabilities, forwarded in batches.
  std::vector<at::Tensor> probabilities;
  const int64_t batch = std::max(1, spec.batch_size);
  const at::Tensor flat_x = x.view({1, -1, pixels});
  const at::Tensor flat_blurred = blurred.view({1, -1, pixels});
  for (size_t begin = 0; begin < rows.size(); begin += static_cast<size_t>(batch)) {
    if (spec.interrupted) XAI_RETURN_IF_ERROR(spec.interrupted());
    const size_t end = std::min(rows.size(), begin + static_cast<size_t>(batch));
    std::vector<at::Tensor> inputs;
    for (size_t i = begin; i < end; ++i) {
      const Row& row = rows[i];
      if (row.ranks == nullptr) {
        inputs.push_back(row.perturbation.top_from_input ? flat_x[0] : flat_blurred[0]);
        continue;
      }
      const at::Tensor top = row.ranks->lt(row.perturbation.top).view({1, pixels});
      inputs.push_back(row.perturbation.top_from_input
                           ? at::where(top, flat_x[0], flat_blurred[0])
                           : at::where(top, flat_blurred[0], flat_x[0]));
    }
    const at::Tensor stacked = at::stack(inputs).view({-1, x.size(1), height, width});
    XAI_ASSIGN_OR_RETURN(const at::Tensor logits,
                         ForwardLogits(instance, stacked, /*frozen=*/true));
    if (!at::isfinite(logits).all().item<bool>()) {
      return InternalError("the model returned NaN or infinite logits for a perturbed input");
    }
    probabilities.push_back(at::softmax(logits, 1));
  }
  const at::Tensor all = at::cat(probabilities, 0).contiguous();  // [rows, classes]

  const auto column = [&all](int target) {
    const at::Tensor c = all.select(1, target).contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  std::vector<FaithfulnessResult> results;
  results.reserve(maps.size());
  for (size_t m = 0; m < maps.size(); ++m) {
    const std::vector<float> p = column(maps[m].target);
    // Filled in place: moving a local one in made GCC 14 warn, wrongly, that its optional
    // `random` may be used uninitialized (-Wmaybe-uninitialized, in the unity build).
    FaithfulnessResult& result = results.emplace_back();
    result.probability = p[0];
    result.blurred_probability = p[1];
    result.map = ScoreRows(starts[m], pixels, steps, p, p[0], p[1]);
    if (spec.random_baseline) {
      result.random = ScoreRows(starts.back(), pixels, steps, p, p[0], p[1]);
    }
  }
  return results;
}

}  // namespace xai::core
