// The listener end to end on the host: the mock provider plays a constructed clip, the front end and the inference
// are the test doubles (tests/frontend_double, inference_fake.cc), the output lines are captured.
#include "listen/listen.h"

#include <string>
#include <vector>

#include "listen/audio_provider_mock.h"
#include "platform/platform_host.h"
#include "tests/micro_test.h"

namespace {

// Runs the listener over `samples`; returns every line it wrote.
std::string Listen(const std::vector<int16_t>& samples) {
  std::string output;
  platform_host::CaptureOutput(&output);
  audio_provider_mock::SetClip(samples.data(), samples.size());
  if (listen::Setup()) {
    while (listen::Loop()) {
    }
  }
  platform_host::CaptureOutput(nullptr);
  return output;
}

std::vector<int16_t> Silence(size_t ms) { return std::vector<int16_t>(ms * 16, 0); }

void Append(std::vector<int16_t>& a, const std::vector<int16_t>& b) { a.insert(a.end(), b.begin(), b.end()); }

// 3 s of silence, 0.5 s of `sample` (a loud word for the front end's test double, or its tone), 3 s of silence.
std::vector<int16_t> OneLoudPart(int16_t sample) {
  std::vector<int16_t> clip = Silence(3000);
  Append(clip, std::vector<int16_t>(8000, sample));
  Append(clip, Silence(3000));
  return clip;
}

}  // namespace

TEST(ListenHearsOneWordOnce) {
  // 3 s of silence, 0.5 s loud, 3 s of silence: the windows ending at 3.25 ... 4.25 s contain the loud part. At
  // 3.5 s the average of (quiet, loud, loud) for label one is (7 + 255 + 255) / 768 = 0.67; the same average at
  // 4.5 s falls in the refractory period.
  const std::string out = Listen(OneLoudPart(5000));
  EXPECT_TRUE(out.find("# listening model=") == 0);
  const std::string heard = "# heard one 0.67 at 3500\n";
  EXPECT_TRUE(out.find(heard) != std::string::npos);
  EXPECT_EQ(out.find("# heard"), out.rfind("# heard"));
}

TEST(ListenHearsNoWordInATone) {
  // ListenHearsOneWordOnce's loud part, but a tone (the double's kToneSample): its windows count as nothing.
  const std::string out = Listen(OneLoudPart(7777));
  EXPECT_TRUE(out.find("# listening model=") == 0);
  EXPECT_TRUE(out.find("# heard") == std::string::npos);
}

TEST(ListenSilenceHearsNothing) {
  const std::string out = Listen(Silence(5000));
  EXPECT_TRUE(out.find("# heard") == std::string::npos);
  EXPECT_TRUE(out.find("# listening") == 0);
}

TEST(ListenTwoWordsApartAreBothHeard) {
  std::vector<int16_t> clip = Silence(2000);
  Append(clip, std::vector<int16_t>(8000, -5000));
  Append(clip, Silence(3000));
  Append(clip, std::vector<int16_t>(8000, 5000));
  Append(clip, Silence(2000));
  const std::string out = Listen(clip);
  EXPECT_TRUE(out.find("# heard one 0.67 at 2500\n") != std::string::npos);
  EXPECT_TRUE(out.find("# heard one 0.67 at 6000\n") != std::string::npos);
}

TEST(ListenWithoutClipIsFatal) {
  audio_provider_mock::SetClip(nullptr, 0);
  std::string output;
  platform_host::CaptureOutput(&output);
  EXPECT_TRUE(!listen::Setup());
  EXPECT_TRUE(!listen::Loop());
  platform_host::CaptureOutput(nullptr);
  EXPECT_TRUE(output.find("# fatal: no clip to play") == 0);
}
