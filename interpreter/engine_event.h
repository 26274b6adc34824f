// What the engine core decides, as a stream of events: the one output of the core, printed by
// `simulate`, stored and acted on by the daemon. Plain data, ordered and deterministic.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "interpreter/labels.h"

namespace setpoint {

enum class EventKind : uint8_t {
  Pending,      // the trigger holds; waiting for its `for`
  Firing,       // the trigger held for its whole `for`
  Resolved,     // a pending or firing instance's trigger no longer holds (or has no data)
  Skipped,      // firing, but not acting now (reason says why)
  Proposed,     // propose mode: awaiting approval
  WouldApply,   // dry-run mode: what auto mode would have done
  Applied,      // a knob was set
  RunActuator,  // an actuator was asked to run
  Notified,     // a notification was sent
  Confirmed,    // validation: the promised effect was measured
  Inconclusive,
  Regressed,
  RolledBack,  // the knob was restored to its value before the action
  Quarantined,
  Paused,          // an emergency (or an operator) paused automatic actions
  ActionFailed,    // the actuator could not apply a change: the knob keeps its value
  RollbackFailed,  // the actuator could not restore a knob: its value is unknown until read
  Resumed,         // automatic actions (of one policy, or all) resumed by an operator
  Released,        // an operator released a quarantined policy
  Rejected,        // an operator rejected a proposal
  // After a rollback, per `expect` (docs/validation.md, "After a rollback"): informational,
  // counted toward no limit and acted on by nobody.
  Recovered,        // the metric is no longer significantly worse than before the action
  NotRecovered,     // still significantly worse than before the action
  RecoveryUnknown,  // could not be measured: missing data, too few samples, knob changed again
};
const char* event_kind_name(EventKind kind);

struct Event {
  int64_t t_ms = 0;
  std::string policy;
  SharedLabels instance;  // the trigger's label set
  EventKind kind = EventKind::Pending;
  std::string reason;  // skipped: why; verdicts: the explanation
  std::string knob;    // applied, rolled back, proposed, would apply
  double from = NAN;
  double to = NAN;
  uint64_t action = 0;  // the action's number, for events about one action
  // An inconclusive verdict that could not measure at all (a baseline median of 0, several
  // series, an expression that failed): counted as an error, not as inconclusive.
  bool error = false;
};

// "2026-01-01T00:05:00Z enable_cache{instance=\"a\"} applied cache_ttl 60 -> 120 (reason)"
std::string event_text(const Event& e);
// "2026-01-01T00:00:00Z": a time to the second, in UTC.
std::string utc_text(int64_t t_ms);

}  // namespace setpoint
