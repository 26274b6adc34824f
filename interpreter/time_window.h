// The `during` time window: "Mon-Fri 01:00-05:00 Europe/Berlin". Days are optional (every day),
// the zone is optional (UTC); an end before the start wraps past midnight.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace setpoint {

struct TimeWindow {
  uint8_t days = 0x7F;   // bit 0 = Monday ... bit 6 = Sunday
  int start_minute = 0;  // minutes after local midnight
  int end_minute = 0;    // exclusive; may be <= start_minute (wraps past midnight)
  std::string zone = "UTC";
  size_t zone_offset = 0;  // where the zone name starts in the text, for diagnostics
};

struct TimeWindowResult {
  bool ok = false;
  TimeWindow window;
  size_t error_offset = 0;  // into the text, when !ok
  size_t error_length = 0;
  std::string error;
  std::string hint;
};

TimeWindowResult parse_time_window(std::string_view text);

// A moment as a clock on the wall of some zone shows it.
struct LocalTime {
  int weekday = 0;  // 0 = Monday ... 6 = Sunday
  int minute = 0;   // minutes after local midnight
};
// Whether a window holds at that local time; a window that wraps past midnight belongs to the
// day it starts on (Fri 22:00-02:00 holds early on Saturday, not early on Friday).
bool window_contains(const TimeWindow& window, const LocalTime& local);
// UTC's wall clock, which needs no tz database.
LocalTime utc_local_time(int64_t t_ms);

}  // namespace setpoint
