// How the daemon changes a knob: one Actuator per knob (http, exec or file), driven by the libuv
// loop. Every operation is asynchronous, bounded by a timeout, and reports exactly once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace setpoint {

// The outcome of one apply() or read(), after any retries.
struct ActuatorResult {
  bool ok = false;
  std::string error;            // why it failed: "timed out after 5s", "exit status 2", "HTTP 503"
  int attempts = 0;             // 1 when the first try settled it
  std::optional<double> value;  // read(): the value the knob really has
  std::string output;           // captured stderr or response body, at most kMaxActuatorOutput
  double seconds = 0;           // from the call to the outcome, retries included
};
inline constexpr size_t kMaxActuatorOutput = 4096;

using ActuatorCallback = std::function<void(const ActuatorResult&)>;

class Actuator {
 public:
  virtual ~Actuator() = default;
  // Sets the knob to `value`. `done` runs once, later, on the loop thread (never inside apply).
  virtual void apply(double value, ActuatorCallback done) = 0;
  // Whether read() can report the knob's current value (so a rollback restores what was there).
  virtual bool can_read() const = 0;
  virtual void read(ActuatorCallback done) = 0;
  // Shutdown: stops what is in flight (kills a child, aborts a transfer, stops a retry timer);
  // each pending `done` still runs once, with ok=false and error "cancelled".
  virtual void cancel() = 0;
};

// "{value}" in `text` replaced by the value as the knob's type writes it: integers without a
// decimal point ("8"), other numbers in the shortest form that reads back exactly ("0.25").
std::string substitute_value(std::string_view text, double value);

}  // namespace setpoint
