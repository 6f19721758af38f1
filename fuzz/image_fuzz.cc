// libFuzzer target: image bytes as a caller sends them, through the header check,
// decoding and preprocessing (scripts/sanitize.sh runs it; seeds in fuzz/corpus/image).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/image/image_header.h"
#include "core/image/image_preprocessor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Limits small enough that no input can make the fuzzer run out of memory by design.
  static const xai::core::ImagePreprocessor preprocessor(
      xai::core::ImagePreprocessorOptions{4'000'000, 4096});
  static const xai::v1::InputSpec spec = [] {
    xai::v1::InputSpec s;
    s.set_height(24);
    s.set_width(32);
    s.set_resize(xai::v1::SHORTER_SIDE_CENTER_CROP);
    return s;
  }();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)xai::core::ReadImageHeader(bytes);
  (void)preprocessor.Preprocess(bytes, spec, /*keep_original=*/true);
  return 0;
}
