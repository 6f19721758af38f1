// Turning exceptions from LibTorch into core Status messages.
#ifndef XAI_CORE_RUNTIME_TORCH_ERRORS_H_
#define XAI_CORE_RUNTIME_TORCH_ERRORS_H_

#include <exception>
#include <string>

namespace xai::core {

// The message of `e` without the C++ backtrace c10::Error appends after its first lines
// ("Exception raised from ..."), which means nothing to an API caller.
std::string ExceptionMessage(const std::exception& e);

}  // namespace xai::core

#endif  // XAI_CORE_RUNTIME_TORCH_ERRORS_H_
