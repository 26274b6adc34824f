#include "interpreter/time_window.h"

#include <vector>

#include "grammar/spelling.h"
#include "interpreter/civil_time.h"

namespace setpoint {
namespace {

constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr const char* kFormat =
    "write it as \"Mon-Fri 01:00-05:00 Europe/Berlin\"; days and zone are optional";

struct Cursor {
  std::string_view text;
  size_t pos = 0;
  void skip_spaces() {
    while (pos < text.size() && text[pos] == ' ') ++pos;
  }
  size_t word_end() const {
    size_t end = pos;
    while (end < text.size() && text[end] != ' ') ++end;
    return end;
  }
};

TimeWindowResult fail(size_t offset, size_t length, std::string error, std::string hint = kFormat) {
  TimeWindowResult r;
  r.error_offset = offset;
  r.error_length = length == 0 ? 1 : length;
  r.error = std::move(error);
  r.hint = std::move(hint);
  return r;
}

int day_index(std::string_view word) {
  for (size_t i = 0; i < 7; ++i) {
    if (kDays[i] == word) return static_cast<int>(i);
  }
  return -1;
}

// HH:MM, 00:00 to 24:00.
int parse_clock(std::string_view t) {
  if (t.size() != 5 || t[2] != ':') return -1;
  for (size_t i : {0, 1, 3, 4}) {
    if (t[i] < '0' || t[i] > '9') return -1;
  }
  int h = (t[0] - '0') * 10 + (t[1] - '0');
  int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

}  // namespace

TimeWindowResult parse_time_window(std::string_view text) {
  TimeWindowResult result;
  TimeWindow& w = result.window;
  Cursor c{text};
  c.skip_spaces();
  if (c.pos >= text.size()) return fail(0, text.size(), "empty time window");

  // Days: a comma-separated list of days or day ranges, or "daily". Absent when the first word
  // is already a time.
  size_t end = c.word_end();
  std::string_view first = text.substr(c.pos, end - c.pos);
  if (first.find(':') == std::string_view::npos) {
    if (first == "daily" || first == "*") {
      w.days = 0x7F;
    } else {
      w.days = 0;
      size_t p = c.pos;
      while (p < end) {
        size_t comma = text.find(',', p);
        if (comma == std::string_view::npos || comma > end) comma = end;
        std::string_view part = text.substr(p, comma - p);
        size_t dash = part.find('-');
        std::string_view from = part.substr(0, dash);
        std::string_view to = dash == std::string_view::npos ? from : part.substr(dash + 1);
        int a = day_index(from);
        if (a < 0) {
          std::string hint = did_you_mean(from, {kDays, kDays + 7});
          return fail(p, from.size(), "unknown day '" + std::string(from) + "'",
                      hint.empty()
                          ? "days are Mon Tue Wed Thu Fri Sat Sun, as in Mon-Fri or Sat,Sun"
                          : hint);
        }
        size_t to_offset = dash == std::string_view::npos ? p : p + dash + 1;
        int b = day_index(to);
        if (b < 0) {
          std::string hint = did_you_mean(to, {kDays, kDays + 7});
          return fail(to_offset, to.size(), "unknown day '" + std::string(to) + "'",
                      hint.empty()
                          ? "days are Mon Tue Wed Thu Fri Sat Sun, as in Mon-Fri or Sat,Sun"
                          : hint);
        }
        // A range may wrap the week: Fri-Mon is Fri, Sat, Sun, Mon.
        for (int d = a;; d = (d + 1) % 7) {
          w.days |= static_cast<uint8_t>(1u << d);
          if (d == b) break;
        }
        p = comma + 1;
      }
    }
    c.pos = end;
    c.skip_spaces();
    end = c.word_end();
  }

  // Times: HH:MM-HH:MM.
  std::string_view times = text.substr(c.pos, end - c.pos);
  if (times.empty()) return fail(c.pos, 1, "missing the time range", kFormat);
  size_t dash = times.find('-');
  if (dash == std::string_view::npos) {
    return fail(c.pos, times.size(),
                "expected a time range such as 01:00-05:00, found '" + std::string(times) + "'");
  }
  int start = parse_clock(times.substr(0, dash));
  if (start < 0 || start == 24 * 60) {
    return fail(c.pos, dash, "invalid start time '" + std::string(times.substr(0, dash)) + "'",
                "times are 24-hour HH:MM, from 00:00 to 23:59");
  }
  int stop = parse_clock(times.substr(dash + 1));
  if (stop < 0) {
    return fail(c.pos + dash + 1, times.size() - dash - 1,
                "invalid end time '" + std::string(times.substr(dash + 1)) + "'",
                "times are 24-hour HH:MM, from 00:00 to 24:00");
  }
  if (start == stop % (24 * 60) && stop != 24 * 60) {
    return fail(c.pos, times.size(), "the window starts and ends at the same time",
                "to allow every hour, leave out the `during` clause");
  }
  w.start_minute = start;
  w.end_minute = stop;
  c.pos = end;
  c.skip_spaces();

  // Zone: one more word, or nothing.
  if (c.pos < text.size()) {
    end = c.word_end();
    w.zone = std::string(text.substr(c.pos, end - c.pos));
    w.zone_offset = c.pos;
    c.pos = end;
    c.skip_spaces();
    if (c.pos < text.size()) {
      return fail(c.pos, text.size() - c.pos, "unexpected text after the time zone", kFormat);
    }
  }
  result.ok = true;
  return result;
}

bool window_contains(const TimeWindow& w, const LocalTime& local) {
  auto on = [&](int weekday) { return (w.days >> ((weekday + 7) % 7) & 1) != 0; };
  bool wraps = w.end_minute <= w.start_minute;
  if (!wraps)
    return on(local.weekday) && local.minute >= w.start_minute && local.minute < w.end_minute;
  return (on(local.weekday) && local.minute >= w.start_minute) ||
         (on(local.weekday - 1) && local.minute < w.end_minute);
}

LocalTime utc_local_time(int64_t t_ms) {
  CivilTime c = civil_time(t_ms >= 0 ? t_ms / 1000 : -((-t_ms + 999) / 1000));
  LocalTime out;
  out.minute = static_cast<int>(c.hour * 60 + c.minute);
  out.weekday = static_cast<int>((c.weekday + 6) % 7);  // Monday first
  return out;
}

}  // namespace setpoint
