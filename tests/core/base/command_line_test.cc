// The arguments the flag parsers read: `--name=` is an empty value, never the next argument.
#include "core/base/command_line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace xai {
namespace {

std::vector<std::string> Parse(std::vector<const char*> argv) {
  CommandLine line(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(line.argv()[line.argc()], nullptr);
  std::vector<std::string> seen;
  for (int i = 0; i < line.argc(); ++i) seen.push_back(line.argv()[i]);
  EXPECT_EQ(seen, line.args());
  return seen;
}

TEST(CommandLineTest, AnEmptyValueAfterAnEqualsSignBecomesAnEmptyArgument) {
  EXPECT_EQ(
      Parse({"xai-server", "--metrics-address=", "--http-address=off"}),
      (std::vector<std::string>{"xai-server", "--metrics-address", "", "--http-address=off"}));
  EXPECT_EQ(
      Parse({"xai-server", "--http-address=", "--metrics-address="}),
      (std::vector<std::string>{"xai-server", "--http-address", "", "--metrics-address", ""}));
}

TEST(CommandLineTest, EverythingElseIsLeftAsItIs) {
  const std::vector<std::string> same = {"xai", "--server", "",   "-t",     "3",     "--out=dir",
                                         "--=", "-x=",      "a=", "--json", "--a=b="};
  std::vector<const char*> argv;
  for (const std::string& arg : same) argv.push_back(arg.c_str());
  EXPECT_EQ(Parse(argv), same);
  // The program's own name, and whatever follows a bare "--", are not options.
  EXPECT_EQ(Parse({"--weird=", "--", "--x="}),
            (std::vector<std::string>{"--weird=", "--", "--x="}));
}

}  // namespace
}  // namespace xai
