#include "core/base/files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace xai::core {
namespace {

using ::testing::HasSubstr;

TEST(FilesTest, WritesAndReadsBackBinaryBytes) {
  const std::string path =
      ::testing::TempDir() + "/xai_files_test_" + std::to_string(::getpid()) + ".bin";
  const std::string bytes("a\0b\xff\n", 5);
  ASSERT_TRUE(WriteFile(path, bytes).ok());
  StatusOr<std::string> read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, bytes);
  ::unlink(path.c_str());
}

TEST(FilesTest, MissingFileIsNotFoundAndUnwritablePathIsInternal) {
  StatusOr<std::string> read = ReadFile("/nonexistent/xai/file");
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr("cannot open /nonexistent/xai/file"));
  const Status written = WriteFile("/nonexistent/xai/file", "x");
  EXPECT_EQ(written.code(), StatusCode::kInternal);
  EXPECT_THAT(written.message(), HasSubstr("cannot write /nonexistent/xai/file"));
}

}  // namespace
}  // namespace xai::core
