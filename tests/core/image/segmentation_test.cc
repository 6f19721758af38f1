// XRAI's over-segmentation (core/image/segmentation.h) on drawn images.
#include "core/image/segmentation.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace xai::core {
namespace {

// The last column at `row` of the first mask holding (row, 0).
int64_t RightEdgeOfTheLeftSegment(const at::Tensor& masks, int64_t row) {
  for (int64_t m = 0; m < masks.size(0); ++m) {
    if (!masks[m][row][0].item<bool>()) continue;
    int64_t edge = 0;
    while (edge + 1 < masks.size(2) && masks[m][row][edge + 1].item<bool>()) ++edge;
    return edge;
  }
  return -1;
}

// Two flat halves, left dark and right bright: no segment crosses the edge (the smoothing
// makes a few thin segments along it), the masks cover the image, and a wider disk dilates
// them by the difference in radius.
TEST(SegmentationTest, SegmentsCoverTheImageAndFollowItsEdges) {
  at::Tensor image = at::zeros({3, 224, 224});
  image.narrow(2, 112, 112).fill_(1.0);
  auto masks = XraiSegments(image, SegmentationOptions());
  ASSERT_TRUE(masks.ok()) << masks.status().ToString();
  ASSERT_EQ(masks->dim(), 3);
  EXPECT_EQ(masks->size(1), 224);
  EXPECT_EQ(masks->size(2), 224);
  EXPECT_GE(masks->size(0), 2 * 6);  // at least two segments at each of the six scales
  EXPECT_TRUE(masks->any(0).all().item<bool>());
  for (int64_t m = 0; m < masks->size(0); ++m) {
    EXPECT_FALSE((*masks)[m][100][0].item<bool>() && (*masks)[m][100][223].item<bool>()) << m;
  }
  SegmentationOptions wider;
  wider.dilation = 10;
  auto dilated = XraiSegments(image, wider);
  ASSERT_TRUE(dilated.ok());
  const int64_t edge = RightEdgeOfTheLeftSegment(*masks, 100);
  ASSERT_GT(edge, 100);
  EXPECT_LT(edge, 123);
  EXPECT_EQ(RightEdgeOfTheLeftSegment(*dilated, 100), edge + 5);
}

// A small image is segmented at 224 x 224 and its labels brought back: the masks have its
// size, cover it and respect its edge.
TEST(SegmentationTest, SmallImagesAreSegmentedAt224AndMappedBack) {
  at::Tensor image = at::zeros({3, 64, 64});
  image.narrow(1, 0, 32).fill_(0.8);
  auto masks = XraiSegments(image, SegmentationOptions());
  ASSERT_TRUE(masks.ok()) << masks.status().ToString();
  EXPECT_EQ(masks->size(1), 64);
  EXPECT_EQ(masks->size(2), 64);
  EXPECT_TRUE(masks->any(0).all().item<bool>());
  for (int64_t m = 0; m < masks->size(0); ++m) {
    EXPECT_FALSE((*masks)[m][0][10].item<bool>() && (*masks)[m][63][10].item<bool>()) << m;
  }
}

TEST(SegmentationTest, RefusesImagesThatAreNotThreeChannels) {
  EXPECT_EQ(XraiSegments(at::zeros({4, 8, 8}), SegmentationOptions()).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace xai::core
