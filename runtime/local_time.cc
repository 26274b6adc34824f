#include "runtime/local_time.h"

#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string>

#include "runtime/zoneinfo.h"

namespace setpoint {

std::optional<LocalTime> system_local_time(std::string_view zone, int64_t t_ms) {
  static const SystemZoneDatabase zones;
  if (!zones.contains(zone)) return std::nullopt;
  // localtime_r reads the zone from TZ, which is process-wide: one caller at a time, and TZ is
  // put back as it was.
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  const char* previous = std::getenv("TZ");
  std::string saved = previous ? previous : "";
  setenv("TZ", std::string(zone).c_str(), 1);
  tzset();
  time_t seconds = static_cast<time_t>(t_ms >= 0 ? t_ms / 1000 : -((-t_ms + 999) / 1000));
  struct tm local {};
  bool ok = localtime_r(&seconds, &local) != nullptr;
  if (previous) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  if (!ok) return std::nullopt;
  LocalTime out;
  out.weekday = (local.tm_wday + 6) % 7;  // tm_wday counts from Sunday
  out.minute = local.tm_hour * 60 + local.tm_min;
  return out;
}

}  // namespace setpoint
