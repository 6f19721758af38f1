#include "core/methods/path/decision_path.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "core/methods/classifier.h"
#include "core/runtime/compute_pool.h"
#include "core/runtime/execution.h"
#include "core/runtime/layer_capture.h"
#include "core/runtime/torch_errors.h"

namespace xai::core {

std::vector<int> CoveringSet(const std::vector<float>& weights, float threshold, int cap) {
  std::vector<int> order;
  double positive = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] > 0) {
      order.push_back(static_cast<int>(i));
      positive += weights[i];
    }
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return weights[a] > weights[b]; });
  // "Reaches" up to float rounding: weights that sum to exactly the threshold on paper
  // must not need one more channel.
  const double target = threshold * positive * (1 - 1e-6);
  std::vector<int> out;
  double covered = 0;
  for (int i : order) {
    if (static_cast<int>(out.size()) >= cap || covered >= target) break;
    out.push_back(i);
    covered += weights[i];
  }
  return out;
}

namespace {

// Better first: higher score, then lexicographically smaller channels.
bool Better(const PathChainResult& a, const PathChainResult& b) {
  if (a.log_score != b.log_score) return a.log_score > b.log_score;
  return a.channels < b.channels;
}

void KeepBest(std::vector<PathChainResult>& chains, int k) {
  std::sort(chains.begin(), chains.end(), Better);
  if (static_cast<int>(chains.size()) > k) chains.resize(k);
}

}  // namespace

std::vector<PathChainResult> BestChains(const PathGraph& graph, int k) {
  const size_t n = graph.sets.size();
  if (n == 0 || k <= 0 || graph.sets.back().size() != graph.last_log_share.size()) return {};
  // best[j]: the k best chains over layers l..n-1 that start at sets[l][j].
  std::vector<std::vector<PathChainResult>> best(graph.sets.back().size());
  for (size_t j = 0; j < best.size(); ++j) {
    best[j].push_back({{graph.sets.back()[j]}, graph.last_log_share[j]});
  }
  for (size_t l = n - 1; l-- > 0;) {
    const std::vector<int>& deeper = graph.sets[l + 1];
    std::vector<std::vector<PathChainResult>> next(graph.sets[l].size());
    for (size_t i = 0; i < graph.sets[l].size(); ++i) {
      const int from = graph.sets[l][i];
      for (size_t j = 0; j < deeper.size(); ++j) {
        const auto edge = graph.edges[l].find({from, deeper[j]});
        if (edge == graph.edges[l].end() || !(edge->second > 0)) continue;
        const double step = std::log(edge->second);
        for (const PathChainResult& suffix : best[j]) {
          PathChainResult chain;
          chain.channels.reserve(suffix.channels.size() + 1);
          chain.channels.push_back(from);
          chain.channels.insert(chain.channels.end(), suffix.channels.begin(),
                                suffix.channels.end());
          chain.log_score = suffix.log_score + step;
          next[i].push_back(std::move(chain));
        }
      }
      KeepBest(next[i], k);
    }
    best = std::move(next);
  }
  std::vector<PathChainResult> out;
  for (auto& chains : best) out.insert(out.end(), chains.begin(), chains.end());
  KeepBest(out, k);
  return out;
}

namespace {

// sum_hw a * g per sample (row) and channel, [B,C] float32 on the CPU; `a` and `g`
// broadcast over the batch dimension.
at::Tensor RowChannelSums(const at::Tensor& a, const at::Tensor& g) {
  return (a.detach().to(at::kFloat) * g.to(at::kFloat)).sum({2, 3}).to(at::kCPU).contiguous();
}

// Row `r` of RowChannelSums' result.
std::vector<float> Row(const at::Tensor& sums, int64_t r) {
  const float* row = sums.data_ptr<float>() + r * sums.size(1);
  return std::vector<float>(row, row + sums.size(1));
}

// sum_hw a * g per channel of sample 0.
std::vector<float> ChannelSums(const at::Tensor& a, const at::Tensor& g) {
  return Row(RowChannelSums(a, g), 0);
}

double PositiveSum(const std::vector<float>& values) {
  double total = 0;
  for (float v : values) total += v > 0 ? v : 0;
  return total;
}

// Runs work(0) ... work(count - 1): on a CPU instance, on the calling thread and the
// compute pool's free helpers (sized to the cores LibTorch's intra-op threads leave idle);
// on a GPU, or without a pool, on this thread only, whose current stream is the
// instance's. OK, or INTERNAL with the first exception. The calls are independent
// backwards over a retained graph, which the autograd engine allows from several threads
// at once; each result goes to its own slot, so the order of completion changes nothing.
Status ForEachConcurrently(size_t count, ComputePool* compute,
                           const std::function<void(size_t)>& work) {
  // The pool knows no LibTorch: messages are made readable here.
  const std::function<void(size_t)> readable = [&work](size_t k) {
    try {
      work(k);
    } catch (const std::exception& e) {
      throw std::runtime_error(ExceptionMessage(e));
    }
  };
  const Status status = ComputePool::ForEachWith(compute, count, readable);
  if (!status.ok()) return InternalError("DecisionPath failed: " + status.message());
  return OkStatus();
}

// The contributions of a transition's critical channels `upper` (of layer l+1) to the
// channels of layer l, as one backward of a batch: `stage`, the module whose output is
// layer l+1, run alone on K copies of layer l's captured output `lower` ([1,C,h,w]), row
// k seeded with channel upper[k] of layer l+1's gradient `upper_grad`. Nullopt when the
// stage does not reproduce the captured `upper_act` from `lower` alone (it reads other
// values too, or another layer's output), for the caller to fall back.
std::optional<std::vector<std::vector<float>>> BatchedContributions(torch::jit::Module& stage,
                                                                    const at::Tensor& lower,
                                                                    const at::Tensor& upper_act,
                                                                    const at::Tensor& upper_grad,
                                                                    const std::vector<int>& upper) {
  const int64_t k = static_cast<int64_t>(upper.size());
  const at::Tensor x = lower.detach().expand({k, -1, -1, -1}).contiguous().requires_grad_(true);
  at::Tensor y;
  try {
    const c10::IValue output = stage.forward({x});
    if (!output.isTensor()) return std::nullopt;
    y = output.toTensor();
  } catch (const std::exception&) {
    return std::nullopt;  // e.g. the stage expects another layer's shape
  }
  if (y.dim() != upper_act.dim() || y.size(0) != k ||
      y.sizes().slice(1) != upper_act.sizes().slice(1) || !y.requires_grad()) {
    return std::nullopt;
  }
  // Row 0 is the captured input: it must give the captured output, up to the rounding of
  // a batched kernel (looser under reduced precision).
  const at::Tensor expected = upper_act.detach()[0].to(at::kFloat);
  const double scale = expected.abs().max().item<double>();
  const double tolerance = (y.scalar_type() == at::kFloat ? 1e-4 : 1e-2) * std::max(scale, 1e-6);
  if ((y.detach()[0].to(at::kFloat) - expected).abs().max().item<double>() > tolerance) {
    return std::nullopt;
  }
  at::Tensor one_hot = at::zeros({k, upper_grad.size(1)}, at::kFloat);
  auto cells = one_hot.accessor<float, 2>();
  for (int64_t r = 0; r < k; ++r) cells[r][upper[r]] = 1.0f;
  const at::Tensor seed =
      (one_hot.to(y.device()).view({k, -1, 1, 1}) * upper_grad.to(at::kFloat)).to(y.scalar_type());
  const std::vector<at::Tensor> g = torch::autograd::grad({y}, {x}, {seed}, /*retain_graph=*/false,
                                                          /*create_graph=*/false,
                                                          /*allow_unused=*/true);
  std::vector<std::vector<float>> out(k);
  if (!g[0].defined()) return out;  // no channel of layer l reaches these: all empty
  const at::Tensor sums = RowChannelSums(lower, g[0]);
  for (int64_t r = 0; r < k; ++r) out[r] = Row(sums, r);
  return out;
}

}  // namespace

StatusOr<DecisionPathOutput> RunDecisionPath(ModelPool::Handle& instance, const at::Tensor& input,
                                             const DecisionPathSpec& spec, ComputePool* compute) {
  const size_t n = spec.layers.size();
  if (n == 0) return InvalidArgumentError("layers: at least one layer is needed");
  try {
    ExecutionScope scope(instance.device(), instance.stream(), instance.precision());
    XAI_ASSIGN_OR_RETURN(CapturedForward forward,
                         RunCaptured(instance.module(), ToDevice(input, instance.device()),
                                     spec.layers, 0, instance.num_classes()));
    const at::Tensor& logits = forward.output;
    const std::vector<at::Tensor>& acts = forward.activations;
    DecisionPathOutput out;
    const at::Tensor cpu_logits = logits.detach().to(at::kCPU, at::kFloat);
    XAI_RETURN_IF_ERROR(CheckBatchLogits(cpu_logits, 1, instance.num_classes()));
    out.logits = cpu_logits[0];
    out.target =
        spec.target >= 0 ? spec.target : static_cast<int>(out.logits.argmax().item<int64_t>());

    const std::vector<at::Tensor> grads =
        torch::autograd::grad({logits[0][out.target]}, acts, /*grad_outputs=*/{},
                              /*retain_graph=*/true, /*create_graph=*/false, /*allow_unused=*/true);
    std::vector<std::vector<float>> relevance(n);
    for (size_t l = 0; l < n; ++l) {
      if (!grads[l].defined()) {
        return InvalidArgumentError("layers[" + std::to_string(l) + "] \"" + spec.layers[l] +
                                    "\" does not reach the model's output");
      }
      relevance[l] = ChannelSums(acts[l], grads[l]);
    }

    PathGraph graph;
    graph.sets.resize(n);
    graph.edges.resize(n > 0 ? n - 1 : 0);
    out.batched_transitions.assign(n > 0 ? n - 1 : 0, false);
    graph.sets[n - 1] = CoveringSet(relevance[n - 1], spec.threshold, spec.max_channels);
    // Going down: every critical channel o of layer l+1 spreads its own evidence s_o over
    // the channels of layer l, by one backward from layer l+1 to layer l.
    for (size_t l = n - 1; l-- > 0;) {
      std::map<int, std::vector<float>> weights_of;  // o -> a_{o,.}
      std::map<int, float> strongest;                // i -> its largest weight into a picked set
      const std::vector<int>& upper = graph.sets[l + 1];
      std::vector<std::vector<float>> contributions(upper.size());
      bool batched = false;
      const bool try_batched =
          spec.transitions == PathTransitions::kBatched ||
          (spec.transitions == PathTransitions::kAuto && instance.device().is_cuda());
      if (try_batched && !upper.empty()) {
        XAI_ASSIGN_OR_RETURN(torch::jit::Module stage,
                             FindSubmodule(instance.module(), spec.layers[l + 1]));
        auto products = BatchedContributions(stage, acts[l], acts[l + 1], grads[l + 1], upper);
        if (products) {
          contributions = std::move(*products);
          batched = true;
        }
      }
      out.batched_transitions[l] = batched;
      if (!batched) {
        XAI_RETURN_IF_ERROR(ForEachConcurrently(
            upper.size(), instance.device().is_cpu() ? compute : nullptr, [&](size_t k) {
              at::Tensor seed = at::zeros_like(grads[l + 1]);
              seed.select(1, upper[k]).copy_(grads[l + 1].select(1, upper[k]));
              const std::vector<at::Tensor> g =
                  torch::autograd::grad({acts[l + 1]}, {acts[l]}, {seed}, /*retain_graph=*/true,
                                        /*create_graph=*/false, /*allow_unused=*/true);
              if (g[0].defined()) contributions[k] = ChannelSums(acts[l], g[0]);
            }));
      }
      for (size_t k = 0; k < upper.size(); ++k) {
        const int o = upper[k];
        std::vector<float>& a = contributions[k];
        const double total = PositiveSum(a);
        if (!(total > 0)) continue;
        for (float& v : a) v = v > 0 ? static_cast<float>(v / total) : 0.0f;
        for (int i : CoveringSet(a, spec.threshold, spec.max_channels)) {
          strongest[i] = std::max(strongest[i], a[i]);
        }
        weights_of[o] = std::move(a);
      }
      std::vector<std::pair<int, float>> picked(strongest.begin(), strongest.end());
      std::stable_sort(picked.begin(), picked.end(),
                       [](const auto& x, const auto& y) { return x.second > y.second; });
      if (static_cast<int>(picked.size()) > spec.max_channels) picked.resize(spec.max_channels);
      for (const auto& [i, weight] : picked) graph.sets[l].push_back(i);
      std::sort(graph.sets[l].begin(), graph.sets[l].end());
      for (const auto& [o, a] : weights_of) {
        for (int i : graph.sets[l]) {
          if (a[i] > 0) graph.edges[l][{i, o}] = a[i];
        }
      }
    }

    for (size_t l = 0; l < n; ++l) {
      const double positive = PositiveSum(relevance[l]);
      std::vector<int> channels = graph.sets[l];
      std::stable_sort(channels.begin(), channels.end(),
                       [&](int a, int b) { return relevance[l][a] > relevance[l][b]; });
      for (int c : channels) {
        PathNodeResult node;
        node.layer = static_cast<int>(l);
        node.channel = c;
        node.relevance = relevance[l][c];
        node.share = positive > 0 ? static_cast<float>(relevance[l][c] / positive) : 0.0f;
        if (spec.keep_maps) node.map = acts[l].detach()[0][c].to(at::kCPU, at::kFloat).contiguous();
        out.nodes.push_back(std::move(node));
      }
    }
    for (size_t l = 0; l + 1 < n; ++l) {
      std::vector<PathEdge> edges;
      for (const auto& [key, weight] : graph.edges[l]) {
        edges.push_back({static_cast<int>(l), key.first, key.second, static_cast<float>(weight)});
      }
      std::stable_sort(edges.begin(), edges.end(), [](const PathEdge& a, const PathEdge& b) {
        return a.to_channel != b.to_channel ? a.to_channel < b.to_channel : a.weight > b.weight;
      });
      out.edges.insert(out.edges.end(), edges.begin(), edges.end());
    }
    const double last_positive = PositiveSum(relevance[n - 1]);
    for (int c : graph.sets[n - 1])
      graph.last_log_share.push_back(std::log(relevance[n - 1][c] / last_positive));
    out.chains = BestChains(graph, spec.top_chains);
    return out;
  } catch (const std::exception& e) {
    return InternalError("DecisionPath failed: " + ExceptionMessage(e));
  }
}

}  // namespace xai::core
