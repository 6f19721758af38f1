#include "core/runtime/torch_errors.h"

namespace xai::core {

std::string ExceptionMessage(const std::exception& e) {
  std::string what = e.what();
  if (const auto cut = what.find("\nException raised from"); cut != std::string::npos) {
    what.resize(cut);
  }
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  return what;
}

}  // namespace xai::core
