#include "core/requests/decision_path.h"

#include <cmath>
#include <cstdio>

#include "core/image/path_diagram.h"
#include "core/methods/path/decision_path.h"
#include "core/repository/path_profile.h"
#include "core/requests/request_job.h"

namespace xai::core {
namespace {

class DecisionPathJob : public RequestJob<DecisionPathResult> {
 public:
  DecisionPathJob(std::shared_ptr<const ServableModel> model, const RequestEnvironment& environment,
                  DecisionPathRequest request, DecisionPathSpec spec,
                  RequestCallback<DecisionPathResult> done)
      : RequestJob(std::move(model), environment, "DecisionPath", BatchKey::Of<DecisionPathJob>(""),
                   request.image, /*keep_original=*/false, std::move(request.context),
                   std::move(done)),
        spec_(std::move(spec)),
        render_(request.render),
        return_maps_(request.return_maps) {}

  // Requests queued together run one after the other on the instance: each needs its own
  // backwards, so a batch would save only the forward.
  void RunBatch(std::vector<std::unique_ptr<BatchJob>>& batch) override {
    RunJobs<DecisionPathJob, DecisionPathResult>(
        batch,
        [](ModelPool::Handle& instance, const at::Tensor& input,
           const std::vector<DecisionPathJob*>& jobs, const std::vector<PreprocessedImage>&) {
          std::vector<StatusOr<DecisionPathResult>> results;
          for (size_t b = 0; b < jobs.size(); ++b) {
            results.push_back(jobs[b]->Run(instance, input.slice(0, b, b + 1)));
          }
          return results;
        });
  }

 private:
  StatusOr<DecisionPathResult> Run(ModelPool::Handle& instance, const at::Tensor& input) const {
    const ServableModel& model = this->model();
    auto path = RunDecisionPath(instance, input, spec_, environment().compute);
    if (!path.ok()) return path.status().WithContext(model.display_name());
    DecisionPathResult result;
    result.model = {model.name, model.version};
    auto top = TopClasses(path->logits, kDefaultTopK);
    if (!top.ok()) return top.status().WithContext(model.display_name());
    result.classes = Labeled(model, std::move(*top));
    result.target_class = path->target;
    result.layers = spec_.layers;
    for (const PathNodeResult& n : path->nodes) {
      result.nodes.push_back({n.layer, n.channel, n.relevance, n.share,
                              return_maps_ ? ToFloatTensor(n.map) : FloatTensor{}});
    }
    result.edges = path->edges;
    for (const PathChainResult& c : path->chains) {
      result.chains.push_back({c.channels, static_cast<float>(c.log_score)});
    }
    if (model.path_profile &&
        std::equal(spec_.layers.begin(), spec_.layers.end(), model.path_profile->layers().begin(),
                   model.path_profile->layers().end())) {
      std::vector<std::vector<int>> sets(spec_.layers.size());
      for (const PathNode& n : result.nodes) sets[n.layer].push_back(n.channel);
      result.profile_similarity = ProfileSimilarity(*model.path_profile, result.target_class, sets);
      float sum = 0;
      for (float s : result.profile_similarity) sum += s;
      if (!result.profile_similarity.empty())
        result.profile_similarity_mean = sum / result.profile_similarity.size();
    }
    if (render_) {
      XAI_ASSIGN_OR_RETURN(result.diagram_png, Diagram(*path, input, result));
    }
    return result;
  }

  StatusOr<std::string> Diagram(const DecisionPathOutput& path, const at::Tensor& input,
                                const DecisionPathResult& result) const {
    const ServableModel& model = this->model();
    DiagramSpec diagram;
    try {
      diagram.image = InputAsBgr8(input, model);
      diagram.layers = result.layers;
      for (const PathNodeResult& n : path.nodes) {
        const at::Tensor map = n.map.contiguous();
        diagram.nodes.push_back(
            {n.layer, n.channel, n.share,
             cv::Mat(static_cast<int>(map.size(0)), static_cast<int>(map.size(1)), CV_32F,
                     const_cast<float*>(map.data_ptr<float>()))
                 .clone()});
      }
    } catch (const std::exception& e) {
      return InternalError(std::string("diagram: ") + e.what());
    }
    diagram.edges = result.edges;
    if (!result.chains.empty()) diagram.best_chain = result.chains[0].channels;
    const std::string& label = model.Label(result.target_class);
    char text[160];
    const float probability = at::softmax(path.logits, 0)[result.target_class].item<float>();
    std::snprintf(text, sizeof(text), "%s (class %d), p = %.2f",
                  label.empty() ? "class" : label.c_str(), result.target_class, probability);
    diagram.class_text = text;
    return RenderPathDiagramPng(diagram);
  }

  const DecisionPathSpec spec_;
  const bool render_;
  const bool return_maps_;
};

}  // namespace

Status ValidateDecisionPath(const DecisionPathRequest& request, const ServableModel& model,
                            DecisionPathSpec* spec) {
  const int64_t classes = model.pool->num_classes();
  if (request.target_class < -1 || request.target_class >= classes) {
    return InvalidArgumentError("target_class = " + std::to_string(request.target_class) +
                                " is out of range: -1 (the top-1 class) or [0, " +
                                std::to_string(classes) + ")");
  }
  spec->target = request.target_class;
  spec->layers = request.layers.empty() ? model.default_path_layers : request.layers;
  if (spec->layers.empty()) {
    return FailedPreconditionError(model.display_name() + " has no default path layers (" +
                                   model.default_path_layers_problem + "); name them in layers");
  }
  if (static_cast<int>(spec->layers.size()) > kMaxPathLayers) {
    return InvalidArgumentError("layers has " + std::to_string(spec->layers.size()) +
                                " entries; at most " + std::to_string(kMaxPathLayers));
  }
  for (size_t i = 0; i < spec->layers.size(); ++i) {
    XAI_ASSIGN_OR_RETURN(const LayerInfo* layer, FeatureLayerField(model, spec->layers, i));
    if (layer->layout.kind != FeatureLayout::kNchw) {
      return InvalidArgumentError(
          "layers[" + std::to_string(i) + "] \"" + spec->layers[i] + "\" is " +
          layer->layout.ToString() +
          ": DecisionPath follows the channels of convolutional NCHW feature maps, not "
          "transformer tokens or channels-last maps (docs/METHODS.md, DecisionPath)");
    }
    if (i > 0 &&
        layer->completion_order <= model.FindLayer(spec->layers[i - 1])->completion_order) {
      return InvalidArgumentError("layers[" + std::to_string(i) + "] \"" + spec->layers[i] +
                                  "\" runs before layers[" + std::to_string(i - 1) + "] \"" +
                                  spec->layers[i - 1] +
                                  "\"; list the layers shallow to deep, in execution order");
    }
  }
  const float t = request.threshold;
  if (!std::isfinite(t) || t < 0 || t > 1) {
    return InvalidArgumentError(
        "threshold must be in (0, 1] (0: " + std::to_string(kDefaultPathThreshold) + "), got " +
        std::to_string(t));
  }
  spec->threshold = t == 0 ? kDefaultPathThreshold : t;
  if (request.max_channels < 0 || request.max_channels > kMaxPathChannels) {
    return InvalidArgumentError("max_channels must be in [0, " + std::to_string(kMaxPathChannels) +
                                "] (0: " + std::to_string(kDefaultPathChannels) + "), got " +
                                std::to_string(request.max_channels));
  }
  spec->max_channels = request.max_channels == 0 ? kDefaultPathChannels : request.max_channels;
  if (request.top_chains < 0 || request.top_chains > kMaxPathChains) {
    return InvalidArgumentError("top_chains must be in [0, " + std::to_string(kMaxPathChains) +
                                "] (0: " + std::to_string(kDefaultPathChains) + "), got " +
                                std::to_string(request.top_chains));
  }
  spec->top_chains = request.top_chains == 0 ? kDefaultPathChains : request.top_chains;
  spec->keep_maps = request.render || request.return_maps;
  return OkStatus();
}

void QueueDecisionPath(const RequestEnvironment& environment, const ServingFn& serving,
                       DecisionPathRequest request, RequestCallback<DecisionPathResult> done) {
  const auto version = serving(request.model);
  ValidateAndQueue<DecisionPathJob, DecisionPathSpec>(version, environment, std::move(request),
                                                      std::move(done), ValidateDecisionPath);
}

}  // namespace xai::core
