#include "listen/recognize_commands.h"

#include "tests/micro_test.h"

namespace {

const char* const kTestLabels[] = {"zero", "one", "_silence_"};
constexpr int kTestNumLabels = 3;
constexpr uint32_t kStepMs = 250;

RecognitionConfig TestConfig() {
  RecognitionConfig config;
  config.average_window_ms = 750;
  config.minimum_count = 3;
  config.threshold = 0.6f;
  config.refractory_ms = 1000;
  return config;
}

// Feeds one result with probability `one` for label 1 and `silence` for _silence_ at `time_ms`.
Recognition Feed(RecognizeCommands& rc, uint32_t time_ms, float one, float silence = 0.0f) {
  const float scores[kTestNumLabels] = {0.05f, one, silence};
  Recognition out;
  out.label = -2;
  EXPECT_TRUE(rc.Process(scores, kTestNumLabels, time_ms, &out));
  return out;
}

}  // namespace

TEST(RecognizeNeedsMinimumCount) {
  RecognizeCommands rc(TestConfig(), kTestLabels, kTestNumLabels);
  EXPECT_TRUE(!Feed(rc, 0, 1.0f).heard);
  const Recognition second = Feed(rc, 250, 1.0f);
  EXPECT_TRUE(!second.heard);
  EXPECT_EQ(second.label, -1);
  const Recognition third = Feed(rc, 500, 1.0f);
  EXPECT_TRUE(third.heard);
  EXPECT_EQ(third.label, 1);
}

TEST(RecognizeThreshold) {
  RecognizeCommands above(TestConfig(), kTestLabels, kTestNumLabels);
  RecognizeCommands below(TestConfig(), kTestLabels, kTestNumLabels);
  for (uint32_t t = 0; t <= 500; t += kStepMs) {
    const Recognition a = Feed(above, t, 0.7f);
    const Recognition b = Feed(below, t, 0.5f);
    EXPECT_EQ(a.heard, t == 500);
    EXPECT_TRUE(!b.heard);
  }
}

TEST(RecognizeAveragesRecentResults) {
  // One confident window among weak ones is not enough: (0.9 + 0.3 + 0.3) / 3 = 0.5.
  RecognizeCommands rc(TestConfig(), kTestLabels, kTestNumLabels);
  Feed(rc, 0, 0.3f);
  Feed(rc, 250, 0.3f);
  const Recognition weak = Feed(rc, 500, 0.9f);
  EXPECT_TRUE(!weak.heard);
  EXPECT_EQ(weak.label, 1);
  EXPECT_TRUE(weak.score > 0.49f && weak.score < 0.51f);
  // The result of time 0 leaves the 750 ms window at 750: (0.3 + 0.9 + 0.9) / 3 = 0.7.
  const Recognition strong = Feed(rc, 750, 0.9f);
  EXPECT_TRUE(strong.heard);
  EXPECT_TRUE(strong.score > 0.69f && strong.score < 0.71f);
}

TEST(RecognizeOldResultsLeaveTheWindow) {
  // After a gap, the results before it no longer count: one fresh result is below minimum_count.
  RecognizeCommands rc(TestConfig(), kTestLabels, kTestNumLabels);
  Feed(rc, 0, 0.1f);
  Feed(rc, 250, 0.1f);
  Feed(rc, 500, 0.1f);
  EXPECT_EQ(Feed(rc, 5000, 1.0f).label, -1);
}

TEST(RecognizeRefractoryPeriod) {
  RecognizeCommands rc(TestConfig(), kTestLabels, kTestNumLabels);
  int heard = 0;
  uint32_t first = 0, second = 0;
  for (uint32_t t = 0; t <= 2000; t += kStepMs) {
    if (Feed(rc, t, 0.9f).heard) {
      (heard == 0 ? first : second) = t;
      ++heard;
    }
  }
  // Heard at 500 (third result), then not before 500 + 1000.
  EXPECT_EQ(heard, 2);
  EXPECT_EQ(first, 500u);
  EXPECT_EQ(second, 1500u);
}

TEST(RecognizeNeverReportsNothingLabels) {
  RecognizeCommands rc(TestConfig(), kTestLabels, kTestNumLabels);
  Recognition out;
  for (uint32_t t = 0; t <= 1000; t += kStepMs) out = Feed(rc, t, 0.0f, 0.95f);
  EXPECT_TRUE(!out.heard);
  EXPECT_EQ(out.label, 2);
}

TEST(RecognizeRejectsBadInput) {
  RecognizeCommands rc(TestConfig(), kTestLabels, kTestNumLabels);
  const float scores[kTestNumLabels] = {0.0f, 1.0f, 0.0f};
  Recognition out;
  out.label = 7;
  EXPECT_TRUE(!rc.Process(scores, 2, 0, &out));
  EXPECT_TRUE(rc.Process(scores, kTestNumLabels, 500, &out));
  out.label = 7;
  EXPECT_TRUE(!rc.Process(scores, kTestNumLabels, 250, &out));  // time went backwards
  EXPECT_EQ(out.label, 7);
}
