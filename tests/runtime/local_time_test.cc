#include "runtime/local_time.h"

#include <catch2/catch.hpp>

using namespace setpoint;

TEST_CASE("local time follows the zone's rules, daylight saving included") {
  // 2026-01-01T12:00:00Z is 13:00 in Berlin (CET); 2026-07-01T12:00:00Z is 14:00 (CEST).
  std::optional<LocalTime> winter = system_local_time("Europe/Berlin", 1767268800000);
  REQUIRE(winter);
  CHECK(winter->weekday == 3);  // Thursday
  CHECK(winter->minute == 13 * 60);
  std::optional<LocalTime> summer = system_local_time("Europe/Berlin", 1782907200000);
  REQUIRE(summer);
  CHECK(summer->weekday == 2);  // Wednesday
  CHECK(summer->minute == 14 * 60);
  CHECK_FALSE(system_local_time("Mars/Olympus_Mons", 0));
}
