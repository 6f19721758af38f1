#include "core/repository/path_profile.h"

#include <algorithm>
#include <fstream>
#include <set>

namespace xai::core {

PathProfileBuilder::PathProfileBuilder(std::vector<std::string> layers, float threshold,
                                       int max_channels) {
  for (const std::string& layer : layers) profile_.add_layers(layer);
  profile_.set_threshold(threshold);
  profile_.set_max_channels(max_channels);
}

Status PathProfileBuilder::Add(int class_index, const std::vector<std::vector<int>>& sets) {
  if (static_cast<int>(sets.size()) != profile_.layers_size()) {
    return InvalidArgumentError("a path of " + std::to_string(sets.size()) +
                                " layers for a profile of " +
                                std::to_string(profile_.layers_size()));
  }
  auto row = class_row_.find(class_index);
  if (row == class_row_.end()) {
    row = class_row_.emplace(class_index, profile_.classes_size()).first;
    xai::v1::PathProfile::ClassProfile* c = profile_.add_classes();
    c->set_class_index(class_index);
    for (int l = 0; l < profile_.layers_size(); ++l) c->add_layers();
  }
  xai::v1::PathProfile::ClassProfile* c = profile_.mutable_classes(row->second);
  c->set_images(c->images() + 1);
  for (size_t l = 0; l < sets.size(); ++l) {
    auto* counts = c->mutable_layers(static_cast<int>(l))->mutable_channel_counts();
    for (int channel : std::set<int>(sets[l].begin(), sets[l].end())) ++(*counts)[channel];
  }
  return OkStatus();
}

xai::v1::PathProfile PathProfileBuilder::Build() const {
  xai::v1::PathProfile out = profile_;
  std::sort(out.mutable_classes()->begin(), out.mutable_classes()->end(),
            [](const auto& a, const auto& b) { return a.class_index() < b.class_index(); });
  return out;
}

std::vector<float> ProfileSimilarity(const xai::v1::PathProfile& profile, int class_index,
                                     const std::vector<std::vector<int>>& sets) {
  const xai::v1::PathProfile::ClassProfile* found = nullptr;
  for (const auto& c : profile.classes()) {
    if (c.class_index() == class_index) found = &c;
  }
  if (found == nullptr || found->images() <= 0 ||
      static_cast<int>(sets.size()) != profile.layers_size() ||
      found->layers_size() != profile.layers_size()) {
    return {};
  }
  std::vector<float> out;
  for (size_t l = 0; l < sets.size(); ++l) {
    const auto& counts = found->layers(static_cast<int>(l)).channel_counts();
    const std::set<int> image(sets[l].begin(), sets[l].end());
    double minima = 0, maxima = 0;
    for (const auto& [channel, count] : counts) {
      const double usual = std::min(1.0, static_cast<double>(count) / found->images());
      const double mine = image.count(channel) ? 1.0 : 0.0;
      minima += std::min(usual, mine);
      maxima += std::max(usual, mine);
    }
    for (int channel : image) {
      if (counts.find(channel) == counts.end()) maxima += 1.0;  // critical here, never in the class
    }
    out.push_back(maxima > 0 ? static_cast<float>(minima / maxima) : 0.0f);
  }
  return out;
}

StatusOr<xai::v1::PathProfile> ReadPathProfile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot open " + path);
  xai::v1::PathProfile profile;
  if (!profile.ParseFromIstream(&in))
    return InvalidArgumentError(path + " is not a xai.v1.PathProfile");
  if (profile.layers_size() == 0)
    return InvalidArgumentError(path + ": a path profile needs its layers");
  for (const auto& c : profile.classes()) {
    if (c.layers_size() != profile.layers_size() || c.images() < 0) {
      return InvalidArgumentError(path + ": class " + std::to_string(c.class_index()) + " has " +
                                  std::to_string(c.layers_size()) + " layers of counts, not " +
                                  std::to_string(profile.layers_size()));
    }
  }
  return profile;
}

Status WritePathProfile(const xai::v1::PathProfile& profile, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !profile.SerializeToOstream(&out))
    return InvalidArgumentError("cannot write " + path);
  out.close();
  if (!out) return InvalidArgumentError("cannot write " + path);
  return OkStatus();
}

}  // namespace xai::core
