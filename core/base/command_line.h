// The process's arguments as the flag parsers should read them.
#ifndef XAI_CORE_BASE_COMMAND_LINE_H_
#define XAI_CORE_BASE_COMMAND_LINE_H_

#include <string>
#include <vector>

namespace xai {

// argv with every `--name=` (a long option with an empty value after '=') split into
// `--name` and an empty argument. CLI11 reads `--name=` as `--name` alone and takes the
// next argument as its value: `--metrics-address= --http-address=off` set the metrics
// address to "--http-address=off". An empty argument is the empty value the user wrote.
// Arguments after a bare `--` stay as they are.
class CommandLine {
 public:
  CommandLine(int argc, const char* const* argv);
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  int argc() const { return static_cast<int>(args_.size()); }
  // Valid while this object lives; argv()[argc()] is nullptr, as main's is.
  char** argv() { return pointers_.data(); }
  const std::vector<std::string>& args() const { return args_; }

 private:
  std::vector<std::string> args_;
  std::vector<char*> pointers_;
};

}  // namespace xai

#endif  // XAI_CORE_BASE_COMMAND_LINE_H_
