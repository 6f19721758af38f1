#include "core/runtime/runtime_info.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

namespace xai::core {
namespace {

using ::testing::HasSubstr;

TEST(RuntimeInfoTest, TheNetlibAlternativeOfDebianIsTheReferenceBlas) {
  EXPECT_TRUE(IsReferenceBlas("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"));
  EXPECT_TRUE(IsReferenceBlas("/usr/lib/aarch64-linux-gnu/blas/libblas.so.3"));
  EXPECT_FALSE(IsReferenceBlas("/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"));
  EXPECT_FALSE(IsReferenceBlas("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"));
  EXPECT_FALSE(IsReferenceBlas("/opt/libtorch/lib/libtorch_cpu.so"));
}

// scripts/install-deps.sh installs OpenBLAS (libopenblas0-openmp), which Debian's
// alternatives then prefer to the netlib libblas3 that libtorch-dev pulls in: on the
// reference BLAS the engine is correct but a transformer's forward 25 times slower, and
// the full-size tests and the reference makers take minutes more.
TEST(RuntimeInfoTest, MatrixProductsRunOnAnOptimisedBlas) {
  const BlasInfo blas = Blas();
  EXPECT_FALSE(blas.reference) << blas.library
                               << ": install libopenblas0-openmp (scripts/install-deps.sh)";
  EXPECT_FALSE(blas.description.empty());
  if (blas.library.empty()) {
    EXPECT_THAT(blas.description, HasSubstr("no sgemm_"));
  } else {
    struct stat file {};
    EXPECT_EQ(stat(blas.library.c_str(), &file), 0) << blas.library;
  }
}

}  // namespace
}  // namespace xai::core
