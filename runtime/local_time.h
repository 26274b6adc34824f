// Wall-clock time in a named zone, from the system's tz database through the C library, for
// the engine's `during` windows.
#pragma once

#include <optional>
#include <string_view>

#include "interpreter/time_window.h"

namespace setpoint {

// nullopt when the zone is not in /usr/share/zoneinfo.
std::optional<LocalTime> system_local_time(std::string_view zone, int64_t t_ms);

}  // namespace setpoint
