// Whole-file reads and writes, for the CLI, the benchmark and the tests alike (the
// standard library only).
#ifndef XAI_CORE_BASE_FILES_H_
#define XAI_CORE_BASE_FILES_H_

#include <string>
#include <string_view>

#include "core/base/status.h"

namespace xai::core {

// The bytes of the file at `path`. NOT_FOUND "cannot open <path>" when it cannot be
// opened; DATA_LOSS when reading it fails midway.
StatusOr<std::string> ReadFile(const std::string& path);

// Replaces the file at `path` with `bytes`. INTERNAL "cannot write <path>" on failure.
Status WriteFile(const std::string& path, std::string_view bytes);

}  // namespace xai::core

#endif  // XAI_CORE_BASE_FILES_H_
