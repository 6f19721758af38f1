#include "core/base/command_line.h"

namespace xai {

CommandLine::CommandLine(int argc, const char* const* argv) {
  bool options = true;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") options = false;
    if (options && i > 0 && arg.size() > 3 && arg.compare(0, 2, "--") == 0 && arg.back() == '=' &&
        arg.find('=') == arg.size() - 1) {
      args_.push_back(arg.substr(0, arg.size() - 1));
      args_.emplace_back();
    } else {
      args_.push_back(arg);
    }
  }
  for (std::string& arg : args_) pointers_.push_back(arg.data());
  pointers_.push_back(nullptr);
}

}  // namespace xai
