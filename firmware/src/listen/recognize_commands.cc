#include "listen/recognize_commands.h"

RecognizeCommands::RecognizeCommands(const RecognitionConfig& config, const char* const* labels, int num_labels)
    : config_(config), labels_(labels), num_labels_(num_labels < kMaxLabels ? num_labels : kMaxLabels) {}

bool RecognizeCommands::Process(const float* probabilities, int num_scores, uint32_t time_ms, Recognition* out) {
  if (num_scores != num_labels_ || num_scores <= 0 || (have_time_ && time_ms < last_time_ms_)) return false;
  have_time_ = true;
  last_time_ms_ = time_ms;

  // Keep this result, drop the oldest when full, then every result outside the averaging window.
  if (count_ == kMaxResults) {
    first_ = (first_ + 1) % kMaxResults;
    --count_;
  }
  const int slot = (first_ + count_) % kMaxResults;
  for (int i = 0; i < num_labels_; ++i) scores_[slot][i] = probabilities[i];
  times_[slot] = time_ms;
  ++count_;
  while (count_ > 1 && time_ms - times_[first_] >= config_.average_window_ms) {
    first_ = (first_ + 1) % kMaxResults;
    --count_;
  }

  Recognition result;
  if (count_ < config_.minimum_count) {
    *out = result;
    return true;
  }
  for (int i = 0; i < num_labels_; ++i) {
    float sum = 0.0f;
    for (int k = 0; k < count_; ++k) sum += scores_[(first_ + k) % kMaxResults][i];
    const float average = sum / static_cast<float>(count_);
    if (result.label < 0 || average > result.score) {
      result.label = i;
      result.score = average;
    }
  }
  const bool nothing = labels_[result.label][0] == '_';
  const bool refractory = have_detection_ && time_ms - last_detection_ms_ < config_.refractory_ms;
  if (!nothing && !refractory && result.score >= config_.threshold) {
    result.heard = true;
    have_detection_ = true;
    last_detection_ms_ = time_ms;
  }
  *out = result;
  return true;
}
