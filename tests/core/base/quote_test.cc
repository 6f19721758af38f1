// Quoting what a caller sent: bounded, escaped, cut at character boundaries.
#include "core/base/quote.h"

#include <gtest/gtest.h>

#include <string>

namespace xai::core {
namespace {

TEST(QuoteTest, ShortInputIsQuotedWhole) {
  EXPECT_EQ(QuoteInput("layer4"), "\"layer4\"");
  EXPECT_EQ(QuoteInput(""), "\"\"");
  EXPECT_EQ(QuoteInput("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(QuoteTest, QuotesBackslashesControlAndStrayBytesAreEscaped) {
  EXPECT_EQ(QuoteInput("a\"b\\c\nd"), "\"a\\\"b\\\\c\\x0ad\"");
  EXPECT_EQ(QuoteInput("x\xff"
                       "y"),
            "\"x\\xffy\"");
}

TEST(QuoteTest, LongInputKeepsAShortPrefixAndItsSize) {
  const std::string name(100000, 'a');
  const std::string quoted = QuoteInput(name);
  EXPECT_EQ(quoted, "\"" + std::string(kQuotedPrefixBytes, 'a') + "...\" (100000 bytes)");
  // A cut never splits a character: 63 ASCII bytes and a 2-byte one do not fit in 64.
  const std::string accents = std::string(63, 'b') + "\xc3\xa9" + "tail";
  EXPECT_EQ(QuoteInput(accents), "\"" + std::string(63, 'b') + "...\" (69 bytes)");
}

TEST(QuoteTest, CapMessageCutsOnlyLongMessages) {
  EXPECT_EQ(CapMessage("short", 10), "short");
  EXPECT_EQ(CapMessage(std::string(30, 'm'), 10),
            std::string(10, 'm') + " [... cut: 30 bytes in all]");
  EXPECT_EQ(CapMessage("\xe2\x82\xac\xe2\x82\xac", 4), "\xe2\x82\xac [... cut: 6 bytes in all]");
}

TEST(QuoteTest, Utf8SequenceLengthRejectsMalformedSequences) {
  EXPECT_EQ(Utf8SequenceLength("a"), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xc3\xa9"), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac"), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80"), 4u);
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
  EXPECT_EQ(Utf8SequenceLength("\x80"), 0u);          // a lone continuation byte
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82"), 0u);      // truncated
  EXPECT_EQ(Utf8SequenceLength("\xc0\xaf"), 0u);      // overlong
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80"), 0u);  // a surrogate
}

}  // namespace
}  // namespace xai::core
