// The continuous listener: every kEvaluateEveryMs the newest kWindowMs of audio go through the streaming front end
// (each frame computed once: frontend::ComputeStream) and the model, RecognizeCommands decides, and each detection is reported as one line "# heard <label> <score> at <ms>"
// (<score>: the averaged probability with two decimals; <ms>: the end of the window, in milliseconds of audio since
// the start). The Sense board's sketch (main_listen_arduino.cc) and the host simulator (main_listen_host.cc) run it.
#pragma once

#include <cstdint>

namespace listen {

// The last evaluated window: what it cost and what the model saw (the emulated listener prints it per hop).
struct Hop {
  uint32_t count;             // windows evaluated since Setup()
  uint32_t end_ms;            // the window's end, in milliseconds of audio
  uint32_t frontend_cycles;   // platform::CyclesNow() around the front end
  uint32_t inference_cycles;  // the inference's own count (inference::Timing)
  int spectra;                // frame spectra the streaming front end computed (frontend::SpectraComputed)
  const int8_t* features;     // the model's input (kInputBytes)
};

// Once: starts the platform, the model and the audio provider; reports "# listening ..." or "# fatal: <reason>".
// False on a fatal error (Loop() then does nothing).
bool Setup();

// Forever: pumps audio and evaluates the next window when it is due (at most one per call). False once nothing
// is left to do (the mock provider's clip has ended and its last window was evaluated; never on the board).
bool Loop();

// The last evaluated window (count 0 before the first).
const Hop& LastHop();

}  // namespace listen
