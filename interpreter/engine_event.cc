#include "interpreter/engine_event.h"

#include <cstdio>

namespace setpoint {

const char* event_kind_name(EventKind kind) {
  static const char* const names[] = {"pending",     "firing",      "resolved",     "skipped",
                                      "proposed",    "would_apply", "applied",      "run_actuator",
                                      "notified",    "confirmed",   "inconclusive", "regressed",
                                      "rolled_back", "quarantined", "paused"};
  return names[static_cast<size_t>(kind)];
}

namespace {

std::string utc(int64_t t_ms) {
  // Civil date from days since the epoch (Howard Hinnant's algorithm).
  int64_t s = t_ms >= 0 ? t_ms / 1000 : -((-t_ms + 999) / 1000);
  int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
  int64_t rem = s - days * 86400;
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem % 3600 / 60),
                static_cast<long long>(rem % 60));
  return buffer;
}

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

}  // namespace

std::string event_text(const Event& e) {
  std::string out = utc(e.t_ms) + " " + e.policy;
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
