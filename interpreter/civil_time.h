// The UTC calendar date and wall-clock time of a Unix time, for PromQL's date functions, `during`
// windows and event timestamps (Howard Hinnant's civil-from-days algorithm; no tz database).
#pragma once

#include <cstdint>

namespace setpoint {

struct CivilTime {
  int64_t year = 1970;
  unsigned month = 1, day = 1;  // from 1
  unsigned hour = 0, minute = 0, second = 0;
  unsigned weekday = 4;      // 0 = Sunday ... 6 = Saturday, as PromQL's day_of_week
  unsigned day_of_year = 1;  // from 1
  unsigned days_in_month = 31;
};

// Seconds since the epoch, negative ones included (floored to whole days).
CivilTime civil_time(int64_t unix_seconds);

}  // namespace setpoint
