// A live source of samples for the daemon (scrape, Prometheus query, push). Each reports its
// health so `GET /status` and `GET /metrics` can show which inputs are failing, and why.
#pragma once

#include <cstdint>
#include <string>

namespace setpoint {

struct SourceHealth {
  std::string name;
  std::string kind;  // "scrape", "query", "push"
  bool up = false;   // the last attempt succeeded
  int64_t last_attempt_ms = 0;
  int64_t last_success_ms = 0;
  std::string last_error;  // "" when up
  double last_duration_seconds = 0;
  uint64_t attempts = 0;
  uint64_t failures = 0;
  uint64_t samples = 0;          // accepted into the window store
  uint64_t skipped_lines = 0;    // malformed lines, counted and left out
  uint64_t rejected_series = 0;  // over a series bound
};

class MetricSource {
 public:
  virtual ~MetricSource() = default;
  virtual void start() = 0;  // begins polling on the loop
  virtual void stop() = 0;   // stops timers and aborts transfers; no callback after it returns
  virtual const SourceHealth& health() const = 0;
  // An attempt is in flight: its samples, stamped with the time it started, are not in the
  // store yet. The daemon's timer leaves the evaluation to the attempt's end then, so that an
  // evaluation sees what a replay of the recording would see at that time.
  virtual bool busy() const { return false; }
};

}  // namespace setpoint
