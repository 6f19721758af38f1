// The class path library (see proto/xai/v1/path_profile.proto): built from the critical
// sets of many images, then used to say how usual one image's decision path is for its
// class. Protobuf and the standard library only; the CLI links it.
#ifndef XAI_CORE_REPOSITORY_PATH_PROFILE_H_
#define XAI_CORE_REPOSITORY_PATH_PROFILE_H_

#include <map>
#include <string>
#include <vector>

#include "core/base/status.h"
#include "xai/v1/path_profile.pb.h"

namespace xai::core {

inline constexpr char kPathProfileFile[] = "paths.pb";

// Counts the critical sets of images by the class they were decided as.
class PathProfileBuilder {
 public:
  PathProfileBuilder(std::vector<std::string> layers, float threshold, int max_channels);
  // `sets[l]`: the critical channels of layer l for one image decided as `class_index`.
  // INVALID_ARGUMENT when the number of layers differs from the builder's.
  Status Add(int class_index, const std::vector<std::vector<int>>& sets);
  xai::v1::PathProfile Build() const;

 private:
  xai::v1::PathProfile profile_;
  std::map<int, int> class_row_;  // class index -> index into profile_.classes
};

// Per layer, the weighted Jaccard similarity between an image's critical sets (weight 1
// per critical channel) and the class's usual ones (weight: the share of the class's images
// in which the channel was critical): sum of minima / sum of maxima, in [0,1]. Empty when
// the profile has no image of the class or its layers differ in number.
std::vector<float> ProfileSimilarity(const xai::v1::PathProfile& profile, int class_index,
                                     const std::vector<std::vector<int>>& sets);

// NOT_FOUND when `path` does not exist; INVALID_ARGUMENT when it is not a valid profile.
StatusOr<xai::v1::PathProfile> ReadPathProfile(const std::string& path);
Status WritePathProfile(const xai::v1::PathProfile& profile, const std::string& path);

}  // namespace xai::core

#endif  // XAI_CORE_REPOSITORY_PATH_PROFILE_H_
