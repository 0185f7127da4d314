// Recognition of commands in a stream of model results (micro_speech's RecognizeCommands idea): the scores of the
// last few evaluations are averaged, a digit whose average reaches the threshold is heard, and nothing is heard for
// a refractory period after that. Labels that start with '_' (_silence_, _unknown_) are never heard.
// host/recognize.py mirrors this class line for line (tests compare both on the same score sequences).
#pragma once

#include <cstddef>
#include <cstdint>

struct RecognitionConfig {
  uint32_t average_window_ms = 0;  // results newer than now - this are averaged
  int minimum_count = 1;           // ... and at least this many are needed to decide
  float threshold = 0.0f;          // averaged probability a digit needs
  uint32_t refractory_ms = 0;      // after a detection, nothing is heard for this long
};

struct Recognition {
  bool heard = false;  // a new detection at this time
  int label = -1;      // top label of the average (also when nothing is heard); -1 while too few results
  float score = 0.0f;  // its averaged probability
};

class RecognizeCommands {
 public:
  // Most labels and most results kept for the average (an average window of 4 s at 250 ms steps fits).
  static constexpr int kMaxLabels = 32;
  static constexpr int kMaxResults = 16;

  // `labels` (kept by the caller) names the model's `num_labels` outputs.
  RecognizeCommands(const RecognitionConfig& config, const char* const* labels, int num_labels);

  // One model result: probabilities of every label at `time_ms` (a non-decreasing millisecond clock).
  // False, leaving *out unchanged, when `num_scores` is not the label count or time went backwards.
  bool Process(const float* probabilities, int num_scores, uint32_t time_ms, Recognition* out);

 private:
  RecognitionConfig config_;
  const char* const* labels_;
  int num_labels_;
  float scores_[kMaxResults][kMaxLabels] = {};
  uint32_t times_[kMaxResults] = {};
  int first_ = 0;  // oldest kept result
  int count_ = 0;
  bool have_detection_ = false;
  uint32_t last_detection_ms_ = 0;
  bool have_time_ = false;
  uint32_t last_time_ms_ = 0;
};
