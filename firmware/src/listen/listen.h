// The continuous listener: every kEvaluateEveryMs the newest kWindowMs of audio go through the front end and the
// model, RecognizeCommands decides, and each detection is reported as one line "# heard <label> <score> at <ms>"
// (<score>: the averaged probability with two decimals; <ms>: the end of the window, in milliseconds of audio since
// the start). The Sense board's sketch (main_listen_arduino.cc) and the host simulator (main_listen_host.cc) run it.
#pragma once

namespace listen {

// Once: starts the platform, the model and the audio provider; reports "# listening ..." or "# fatal: <reason>".
// False on a fatal error (Loop() then does nothing).
bool Setup();

// Forever: pumps audio and evaluates the next window when it is due (at most one per call). False once nothing
// is left to do (the mock provider's clip has ended and its last window was evaluated; never on the board).
bool Loop();

}  // namespace listen
