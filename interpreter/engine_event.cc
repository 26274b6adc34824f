#include "interpreter/engine_event.h"

#include <cstdio>

#include "interpreter/civil_time.h"

namespace setpoint {

const char* event_kind_name(EventKind kind) {
  static const char* const names[] = {
      "pending",     "firing",       "resolved",  "skipped",       "proposed",        "would_apply",
      "applied",     "run_actuator", "notified",  "confirmed",     "inconclusive",    "regressed",
      "rolled_back", "quarantined",  "paused",    "action_failed", "rollback_failed", "resumed",
      "released",    "rejected",     "recovered", "not_recovered", "recovery_unknown"};
  static_assert(sizeof names / sizeof names[0] ==
                static_cast<size_t>(EventKind::RecoveryUnknown) + 1);
  return names[static_cast<size_t>(kind)];
}

std::string utc_text(int64_t t_ms) {
  CivilTime c = civil_time(t_ms >= 0 ? t_ms / 1000 : -((-t_ms + 999) / 1000));
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02u:%02u:%02uZ",
                static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute, c.second);
  return buffer;
}

namespace {

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

}  // namespace

std::string event_text(const Event& e) {
  std::string out = utc_text(e.t_ms) + " " + e.policy;
  if (!e.instance.empty()) out += labels_text(e.instance);
  out += " ";
  out += event_kind_name(e.kind);
  if (!e.knob.empty()) {
    out += " " + e.knob;
    if (!std::isnan(e.from) || !std::isnan(e.to))
      out += " " + number(e.from) + " -> " + number(e.to);
  }
  if (!e.reason.empty()) out += " (" + e.reason + ")";
  return out;
}

}  // namespace setpoint
