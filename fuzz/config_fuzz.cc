// libFuzzer target: config.pbtxt text through parsing and validation, as the repository
// reads it (seeds in fuzz/corpus/config).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/repository/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = xai::core::ParseModelConfig(text, "config.pbtxt");
  if (config.ok()) (void)xai::core::ValidateModelConfig(*config);
  (void)xai::core::IsValidModelName(text);
  (void)xai::core::IsValidModulePath(text);
  return 0;
}
