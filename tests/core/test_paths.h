// Where the tests find the fixtures that tools/ scripts make at test time.
#ifndef XAI_TESTS_CORE_TEST_PATHS_H_
#define XAI_TESTS_CORE_TEST_PATHS_H_

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace xai::testing {

inline std::string FixtureRepo() { return std::string(XAI_FIXTURE_DIR) + "/repo"; }
inline std::string ReferenceDir() { return std::string(XAI_FIXTURE_DIR) + "/reference"; }

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
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
