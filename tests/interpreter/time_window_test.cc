#include "interpreter/time_window.h"

#include <catch2/catch.hpp>

using namespace setpoint;

TEST_CASE("a working-days window with a zone") {
  TimeWindowResult r = parse_time_window("Mon-Fri 01:00-05:00 Europe/Berlin");
  REQUIRE(r.ok);
  CHECK(r.window.days == 0x1F);
  CHECK(r.window.start_minute == 60);
  CHECK(r.window.end_minute == 300);
  CHECK(r.window.zone == "Europe/Berlin");
  CHECK(r.window.zone_offset == 20);
}

TEST_CASE("days and zone are optional: the zone defaults to UTC") {
  TimeWindowResult r = parse_time_window("22:00-06:00");
  REQUIRE(r.ok);
  CHECK(r.window.days == 0x7F);
  CHECK(r.window.start_minute == 22 * 60);
  CHECK(r.window.end_minute == 6 * 60);
  CHECK(r.window.zone == "UTC");
}

TEST_CASE("day lists and ranges that wrap the week") {
  CHECK(parse_time_window("Sat,Sun 00:00-24:00").window.days == 0x60);
  CHECK(parse_time_window("Fri-Mon 10:00-11:00").window.days == (0x10 | 0x20 | 0x40 | 0x01));
  CHECK(parse_time_window("Mon,Wed-Thu 10:00-11:00").window.days == (0x01 | 0x04 | 0x08));
  CHECK(parse_time_window("daily 10:00-11:00").window.days == 0x7F);
}

TEST_CASE("a misspelled day points at the day and suggests the right one") {
  TimeWindowResult r = parse_time_window("Mon-Fry 01:00-05:00");
  REQUIRE_FALSE(r.ok);
  CHECK(r.error == "unknown day 'Fry'");
  CHECK(r.error_offset == 4);
  CHECK(r.error_length == 3);
  CHECK(r.hint == "did you mean 'Fri'?");
}

TEST_CASE("invalid times are rejected with their position") {
  TimeWindowResult r = parse_time_window("Mon 25:00-05:00");
  REQUIRE_FALSE(r.ok);
  CHECK(r.error == "invalid start time '25:00'");
  CHECK(r.error_offset == 4);
  r = parse_time_window("Mon 01:00-05:61");
  REQUIRE_FALSE(r.ok);
  CHECK(r.error == "invalid end time '05:61'");
  CHECK(r.error_offset == 10);
  r = parse_time_window("03:00-03:00");
  REQUIRE_FALSE(r.ok);
  CHECK(r.error == "the window starts and ends at the same time");
  r = parse_time_window("01:00-02:00 UTC extra");
  REQUIRE_FALSE(r.ok);
  CHECK(r.error == "unexpected text after the time zone");
}

TEST_CASE("a window holds from its start to its end on its days: a wrapping one into the next") {
  TimeWindow office = parse_time_window("Mon-Fri 09:00-17:00").window;
  CHECK(window_contains(office, {0, 9 * 60}));
  CHECK_FALSE(window_contains(office, {0, 17 * 60}));  // the end is exclusive
  CHECK_FALSE(window_contains(office, {5, 12 * 60}));  // Saturday
  TimeWindow night = parse_time_window("Fri 22:00-02:00").window;
  CHECK(window_contains(night, {4, 23 * 60}));        // Friday night
  CHECK(window_contains(night, {5, 60}));             // early Saturday belongs to Friday's window
  CHECK_FALSE(window_contains(night, {4, 60}));       // early Friday belongs to Thursday's
  CHECK_FALSE(window_contains(night, {5, 22 * 60}));  // Saturday night is not Friday's
}

TEST_CASE("UTC wall-clock time needs no tz database") {
  LocalTime t = utc_local_time(0);  // 1970-01-01T00:00:00Z, a Thursday
  CHECK(t.weekday == 3);
  CHECK(t.minute == 0);
  t = utc_local_time(1767268800000);  // 2026-01-01T12:00:00Z, a Thursday
  CHECK(t.weekday == 3);
  CHECK(t.minute == 12 * 60);
  t = utc_local_time(-60'000);  // 1969-12-31T23:59:00Z, a Wednesday
  CHECK(t.weekday == 2);
  CHECK(t.minute == 23 * 60 + 59);
}
