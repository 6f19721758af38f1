#include "server/proto_convert.h"

#include "core/repository/model_config.h"

namespace xai::server {
namespace {

void ToProto(const std::vector<core::LabeledScore>& scores,
             google::protobuf::RepeatedPtrField<xai::v1::ClassScore>* out) {
  for (const core::LabeledScore& score : scores) {
    xai::v1::ClassScore* c = out->Add();
    c->set_index(score.index);
    c->set_label(score.label);
    c->set_probability(score.probability);
    c->set_logit(score.logit);
  }
}

xai::v1::FeatureLayout ToProto(core::FeatureLayout layout) {
  switch (layout) {
    case core::FeatureLayout::kNchw:
      return xai::v1::NCHW;
    case core::FeatureLayout::kNhwc:
      return xai::v1::NHWC;
    case core::FeatureLayout::kTokens:
      return xai::v1::TOKENS;
    case core::FeatureLayout::kNone:
      break;
  }
  return xai::v1::LAYOUT_AUTO;
}

}  // namespace

core::ModelRef FromProto(const xai::v1::ModelSpec& spec) { return {spec.name(), spec.version()}; }

core::ImageRef FromProto(const xai::v1::Image& image) {
  core::ImageRef ref;
  switch (image.source_case()) {
    case xai::v1::Image::kEncoded:
      ref.kind = core::ImageRef::Kind::kEncoded;
      ref.encoded = image.encoded();
      break;
    case xai::v1::Image::kTensor:
      ref.kind = core::ImageRef::Kind::kTensor;
      ref.tensor_shape.assign(image.tensor().shape().begin(), image.tensor().shape().end());
      ref.tensor_data = image.tensor().data();
      break;
    case xai::v1::Image::SOURCE_NOT_SET:
      break;
  }
  return ref;
}

core::ClassifyRequest FromProto(const xai::v1::ClassifyRequest& request) {
  core::ClassifyRequest out;
  out.model = FromProto(request.model());
  out.image = FromProto(request.image());
  out.top_k = request.top_k();
  return out;
}

core::GradCamRequest FromProto(const xai::v1::GradCAMRequest& request) {
  core::GradCamRequest out;
  out.model = FromProto(request.model());
  out.image = FromProto(request.image());
  out.target_classes.assign(request.target_classes().begin(), request.target_classes().end());
  out.layers.assign(request.layers().begin(), request.layers().end());
  out.method = static_cast<core::CamMethod>(request.method());
  out.eigen_smooth = request.eigen_smooth();
  out.aug_smooth = request.aug_smooth();
  out.batch_size = request.batch_size();
  out.metrics = {request.metrics().enabled(), request.metrics().steps(),
                 request.metrics().random_baseline()};
  out.overlay = FromProto(request.overlay());
  for (const xai::v1::LayerLayout& layout : request.layer_layouts()) {
    out.layer_layouts.push_back({layout.layer(), core::DeclarationOf(layout)});
  }
  return out;
}

core::OverlaySpec FromProto(const xai::v1::OverlayOptions& overlay) {
  core::OverlaySpec out{overlay.enabled(),
                        overlay.has_image_weight() ? overlay.image_weight() : 0.5f,
                        overlay.model_input_size(),
                        overlay.colormap(),
                        overlay.png_compression(),
                        {},
                        static_cast<int>(overlay.scale()),
                        overlay.scale_max()};
  if (overlay.has_attribution()) {
    const xai::v1::AttributionStyle& a = overlay.attribution();
    out.attribution.set = true;
    out.attribution.polarity = a.polarity();
    out.attribution.clip_upper_percentile =
        a.has_clip_upper_percentile() ? a.clip_upper_percentile() : 99.9f;
    out.attribution.clip_lower_percentile = a.clip_lower_percentile();
    out.attribution.kind = a.kind();
    out.attribution.xrai_outlines.assign(a.xrai_outlines().begin(), a.xrai_outlines().end());
  }
  return out;
}

core::AttributeRequest FromProto(const xai::v1::AttributeRequest& request) {
  core::AttributeRequest out;
  out.model = FromProto(request.model());
  out.image = FromProto(request.image());
  out.target_classes.assign(request.target_classes().begin(), request.target_classes().end());
  out.method = static_cast<core::AttributionMethod>(request.method());
  out.steps = request.steps();
  out.baselines.assign(request.baselines().begin(), request.baselines().end());
  out.samples = request.samples();
  out.noise_stdev = request.noise_stdev();
  out.seed = request.seed();
  out.overlay = FromProto(request.overlay());
  out.rule = static_cast<core::IntegrationRule>(request.rule());
  out.batch_size = request.batch_size();
  out.max_approximation_error = request.max_approximation_error();
  out.noise_stdev_absolute = request.noise_stdev_absolute();
  out.smooth_grad_of = static_cast<core::AttributionMethod>(request.smooth_grad_of());
  out.metrics = {request.metrics().enabled(), request.metrics().steps(),
                 request.metrics().random_baseline()};
  return out;
}

void ToProto(const core::AttributeResult& result, xai::v1::AttributeResponse* out) {
  ToProto(result.model, out->mutable_model());
  ToProto(result.classes, out->mutable_classes());
  for (const core::PixelAttribution& a : result.attributions) {
    xai::v1::Attribution* x = out->add_attributions();
    x->set_target_class(a.target_class);
    ToProto(a.attribution, x->mutable_attribution());
    ToProto(a.map, x->mutable_map());
    x->set_approximation_error(a.approximation_error);
    x->set_logit(a.logit);
    x->set_baseline_logit(a.baseline_logit);
    x->set_convergence_delta(a.convergence_delta);
    x->set_steps(a.steps);
    x->set_warning(a.warning);
    x->set_approximation_error_met(a.approximation_error_met);
    x->set_overlay_png(a.overlay_png);
    if (a.metrics) ToProto(*a.metrics, x->mutable_metrics());
  }
}

core::DecisionPathRequest FromProto(const xai::v1::DecisionPathRequest& request) {
  core::DecisionPathRequest out;
  out.model = FromProto(request.model());
  out.image = FromProto(request.image());
  out.target_class = request.has_target_class() ? request.target_class() : -1;
  out.layers.assign(request.layers().begin(), request.layers().end());
  out.threshold = request.threshold();
  out.max_channels = request.max_channels();
  out.top_chains = request.top_chains();
  out.render = request.render();
  out.return_maps = request.return_maps();
  return out;
}

void ToProto(const core::DecisionPathResult& result, xai::v1::DecisionPathResponse* out) {
  ToProto(result.model, out->mutable_model());
  ToProto(result.classes, out->mutable_classes());
  out->set_target_class(result.target_class);
  for (const std::string& layer : result.layers) out->add_layers(layer);
  for (const core::PathNode& n : result.nodes) {
    xai::v1::PathNode* node = out->add_nodes();
    node->set_layer(n.layer);
    node->set_channel(n.channel);
    node->set_relevance(n.relevance);
    node->set_share(n.share);
    if (!n.map.shape.empty()) ToProto(n.map, node->mutable_map());
  }
  for (const core::PathEdge& e : result.edges) {
    xai::v1::PathEdge* edge = out->add_edges();
    edge->set_layer(e.layer);
    edge->set_from_channel(e.from_channel);
    edge->set_to_channel(e.to_channel);
    edge->set_weight(e.weight);
  }
  for (const core::PathChain& c : result.chains) {
    xai::v1::Chain* chain = out->add_chains();
    chain->mutable_channels()->Add(c.channels.begin(), c.channels.end());
    chain->set_log_score(c.log_score);
  }
  out->set_diagram_png(result.diagram_png);
  out->mutable_profile_similarity()->Add(result.profile_similarity.begin(),
                                         result.profile_similarity.end());
  out->set_profile_similarity_mean(result.profile_similarity_mean);
}

void ToProto(const core::FloatTensor& tensor, xai::v1::Tensor* out) {
  out->mutable_shape()->Add(tensor.shape.begin(), tensor.shape.end());
  // Little-endian float32 on the wire; the hosts we build for are little-endian.
  out->set_data(reinterpret_cast<const char*>(tensor.data.data()),
                tensor.data.size() * sizeof(float));
}

void ToProto(const core::GradCamResult& result, xai::v1::GradCAMResponse* out) {
  ToProto(result.model, out->mutable_model());
  ToProto(result.classes, out->mutable_classes());
  out->mutable_layers()->Add(result.layers.begin(), result.layers.end());
  for (const core::CamExplanation& e : result.explanations) {
    xai::v1::Explanation* x = out->add_explanations();
    x->set_target_class(e.target_class);
    ToProto(e.cam, x->mutable_cam());
    ToProto(e.raw, x->mutable_raw());
    x->set_overlay_png(e.overlay_png);
    if (e.metrics) ToProto(*e.metrics, x->mutable_metrics());
  }
}

void ToProto(const core::FaithfulnessScores& scores, xai::v1::FaithfulnessScores* out) {
  out->set_deletion_auc(scores.deletion_auc);
  out->set_insertion_auc(scores.insertion_auc);
  out->set_top20_probability(scores.top20_probability);
  out->mutable_deletion_curve()->Add(scores.deletion_curve.begin(), scores.deletion_curve.end());
  out->mutable_insertion_curve()->Add(scores.insertion_curve.begin(), scores.insertion_curve.end());
}

void ToProto(const core::FaithfulnessResult& result, xai::v1::FaithfulnessMetrics* out) {
  out->set_probability(result.probability);
  out->set_blurred_probability(result.blurred_probability);
  ToProto(result.map, out->mutable_map());
  if (result.random) ToProto(*result.random, out->mutable_random());
}

void ToProto(const core::ModelRef& model, xai::v1::ModelSpec* out) {
  out->set_name(model.name);
  out->set_version(model.version);
}

void ToProto(const core::ClassifyResult& result, xai::v1::ClassifyResponse* out) {
  ToProto(result.model, out->mutable_model());
  ToProto(result.classes, out->mutable_classes());
}

void ToProto(const core::ModelDescription& d, xai::v1::DescribeModelResponse* out) {
  ToProto(d.model, out->mutable_model());
  out->mutable_input_shape()->Add(d.input_shape.begin(), d.input_shape.end());
  out->set_num_classes(d.num_classes);
  for (const std::string& label : d.labels) out->add_labels(label);
  for (const core::LayerInfo& layer : d.layers) {
    xai::v1::LayerInfo* l = out->add_layers();
    l->set_path(layer.path);
    l->set_type(layer.type);
    l->mutable_output_shape()->Add(layer.output_shape.begin(), layer.output_shape.end());
    l->set_cam_target(layer.is_feature_map());
    if (layer.is_feature_map()) {
      l->set_ablation_cam(layer.split_refusal.empty() ? "suffix"
                                                      : "full forwards: " + layer.split_refusal);
    }
    l->set_layout(ToProto(layer.layout.kind));
    l->set_prefix_tokens(static_cast<int32_t>(layer.layout.prefix_tokens));
    l->set_grid_height(static_cast<int32_t>(layer.layout.height));
    l->set_grid_width(static_cast<int32_t>(layer.layout.width));
    l->set_layout_note(layer.layout_note);
  }
  out->set_default_cam_layer(d.default_cam_layer);
  for (const std::string& layer : d.default_path_layers) out->add_default_path_layers(layer);
  out->set_recommended_cam_layer(d.recommended_cam_layer);
  out->set_default_cam_layer_problem(d.default_cam_layer_problem);
  out->set_default_path_layers_problem(d.default_path_layers_problem);
  out->set_output(d.output);
  out->set_inference_graph(d.inference_graph);
  for (const core::MethodInfo& method : d.methods) {
    xai::v1::MethodInfo* m = out->add_methods();
    m->set_name(method.name);
    m->set_rpc(method.rpc);
    m->set_title(method.title);
    m->set_family(method.family);
    m->set_legend(method.legend);
  }
}

void ToProto(const core::ModelVersionStatus& m, xai::v1::ModelStatus* out) {
  out->set_name(m.name);
  out->set_version(m.version);
  out->set_state(core::ModelStateName(m.state));
  out->set_reason(m.reason);
  for (const std::string& device : m.devices) out->add_devices(device);
}

void ToProto(const std::vector<core::ModelVersionStatus>& models,
             xai::v1::ListModelsResponse* out) {
  for (const core::ModelVersionStatus& m : models) ToProto(m, out->add_models());
}

void ToProto(const std::vector<core::ModelStatisticsEntry>& models,
             xai::v1::ModelStatisticsResponse* out) {
  for (const core::ModelStatisticsEntry& entry : models) {
    xai::v1::ModelVersionStatistics* m = out->add_models();
    ToProto(entry.model, m->mutable_model());
    for (const auto& [method, stats] : entry.methods) {
      xai::v1::MethodStatistics* s = m->add_methods();
      s->set_method(method);
      s->set_success_count(stats.success_count);
      s->set_failure_count(stats.failure_count);
      s->set_queue_ns(stats.queue_ns);
      s->set_compute_ns(stats.compute_ns);
      s->set_total_ns(stats.total_ns);
      for (const auto& [size, count] : stats.batch_size_counts) {
        (*s->mutable_batch_size_counts())[size] = count;
      }
    }
  }
}

}  // namespace xai::server
