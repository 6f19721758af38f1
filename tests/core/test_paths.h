// Where the tests find the fixtures that tools/ scripts make at test time.
#ifndef XAI_TESTS_CORE_TEST_PATHS_H_
#define XAI_TESTS_CORE_TEST_PATHS_H_

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/base/files.h"

namespace xai::testing {

inline std::string FixtureRepo() { return std::string(XAI_FIXTURE_DIR) + "/repo"; }
inline std::string ReferenceDir() { return std::string(XAI_FIXTURE_DIR) + "/reference"; }
// tools/cam_reference.py's output; XAI_CAM_REFERENCE_DIR names another
// (one made with tools/cam_reference.py --extra).
inline std::string CamReferenceDir() {
  const char* other = std::getenv("XAI_CAM_REFERENCE_DIR");
  return other != nullptr ? other : std::string(XAI_FIXTURE_DIR) + "/cam_reference";
}

// The file's bytes; empty when it cannot be read (the test's own checks then fail).
inline std::string ReadBytes(const std::string& path) {
  core::StatusOr<std::string> bytes = core::ReadFile(path);
  return bytes.ok() ? std::move(*bytes) : std::string();
}

inline std::vector<float> ReadFloats(const std::string& path) {
  const std::string bytes = ReadBytes(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.begin() + out.size() * sizeof(float),
            reinterpret_cast<char*>(out.data()));
  return out;
}

}  // namespace xai::testing

#endif  // XAI_TESTS_CORE_TEST_PATHS_H_
