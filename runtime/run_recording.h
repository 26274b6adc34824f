// What `setpoint run --record FILE` writes: every sample the daemon's window store holds, in
// Prometheus text with timestamps, headed by comment lines that say when the daemon evaluated
// and which knob values it started from, so that `setpoint simulate` on the file evaluates at
// the same moments from the same values and reaches the same decisions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "interpreter/engine_event.h"
#include "interpreter/window_store.h"

namespace setpoint {

// A knob value the daemon learned other than by acting: read from its actuator, or restored.
struct RecordedKnob {
  std::string knob;
  double value = 0;
  int64_t t_ms = 0;  // when the engine got it
};

struct RunAnnotations {
  std::vector<RecordedKnob> knobs;   // `# setpoint knob NAME VALUE T_MS`
  std::vector<int64_t> evaluations;  // `# setpoint evaluated T_MS`
  std::vector<std::string> notes;    // `# setpoint note TEXT`
  // What the daemon decided, `# setpoint event T_MS TEXT` (TEXT: event_text without its time),
  // so a replay can say whether it decided the same.
  std::vector<std::pair<int64_t, std::string>> events;
  std::string policies;   // `# setpoint policies FINGERPRINT`: policies_fingerprint of the run
  bool restored = false;  // `# setpoint restored`: the run began from an earlier run's state
};

// A fingerprint of the policy files' contents (not their paths: a replay names them as it
// likes), in hex: whether a replay runs the policies the recorded run ran.
struct PolicySet;
std::string policies_fingerprint(const PolicySet& set);

// Whether a replay can reproduce an event of this kind: what evaluations decide, not what an
// actuator's result (action_failed) or an operator's call (pause, approve) made happen.
bool replayable(EventKind kind);
// event_text without the time it starts with.
std::string event_text_untimed(const Event& e);

// Writes the file atomically (a temporary file renamed over `path`). Samples per series in time
// order, series in the order the store first saw them; stale markers are left out (Prometheus
// text cannot hold one). False with `error` set when the file cannot be written.
bool write_run_recording(const std::string& path, const WindowStore& store,
                         const RunAnnotations& annotations, std::string& error);

// The annotations at the head of a recording (the comment lines before the first sample); an
// ordinary recording has none. Lines that do not parse are left out.
RunAnnotations read_run_annotations(const std::string& path);

}  // namespace setpoint
