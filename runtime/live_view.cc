// The live view of `setpoint run --live`. See live_view.h.
#include "runtime/live_view.h"

#include <algorithm>
#include <cmath>

#include "interpreter/engine_event.h"
#include "interpreter/labels.h"
#include "runtime/run_recording.h"

namespace setpoint {
namespace {

std::string clock_text(int64_t ms) {
  if (ms < 0) ms = 0;
  int64_t s = ms / 1000;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld", static_cast<long long>(s / 60),
                static_cast<long long>(s % 60));
  return buf;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string seconds_text(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(std::max<int64_t>(ms, 0) / 1000));
  return buf;
}

// Text wider than a terminal line wraps and breaks the redraw: cut it.
std::string fit(std::string s, size_t width = 110) {
  if (s.size() > width) s = s.substr(0, width - 3) + "...";
  return s;
}

}  // namespace

LiveView::LiveView(std::FILE* out, bool terminal, int64_t started_ms,
                   std::optional<int64_t> ends_ms)
    : out_(out), terminal_(terminal), started_ms_(started_ms), ends_ms_(ends_ms) {}

std::string LiveView::event_line(const Event& e, int64_t started_ms) {
  // The time since the start instead of the UTC time.
  return "+" + clock_text(e.t_ms - started_ms) + " " + event_text_untimed(e);
}

std::vector<std::string> LiveView::status_lines(const EngineState& state,
                                                const std::vector<SourceHealth>& sources,
                                                int64_t started_ms, std::optional<int64_t> ends_ms,
                                                int64_t now_ms) {
  std::vector<std::string> lines;
  std::string head = "setpoint run  " + clock_text(now_ms - started_ms);
  if (ends_ms) head += " of " + clock_text(*ends_ms - started_ms);
  if (state.paused_until) head += "  PAUSED";
  std::string knobs;
  for (const auto& [name, value] : state.knobs) {
    knobs += (knobs.empty() ? "" : "  ") + name + "=" + number_text(value);
  }
  lines.push_back(head + "  |  " + (knobs.empty() ? "no knob read yet" : knobs));
  std::string src;
  for (const SourceHealth& h : sources) {
    src += (src.empty() ? "" : "  ") + h.name + " " + (h.up ? "up" : "DOWN") + " (" +
           std::to_string(h.samples) + " samples)";
    if (!h.up && !h.last_error.empty()) src += ": " + h.last_error;
  }
  if (!src.empty()) lines.push_back("  sources: " + src);
  for (const EngineState::PolicyState& p : state.policies) {
    std::string what;
    for (const EngineState::ValidationState& v : state.validations) {
      if (v.policy != p.name) continue;
      what = "validating action " + std::to_string(v.action) + ", verdict in " +
             seconds_text(v.end_ms - now_ms);
    }
    if (what.empty()) {
      for (const EngineState::InstanceState& i : p.instances) {
        std::string labels = i.labels.empty() ? "" : labels_text(i.labels);
        if (i.firing) {
          what = std::string(i.acted ? "acted" : "firing") + labels;
        } else if (what.empty()) {
          what = "pending" + labels + " for " + seconds_text(now_ms - i.active_since);
        }
      }
    }
    if (what.empty()) what = "idle";
    if (p.quarantined) what = "QUARANTINED: " + p.quarantine_reason;
    if (p.paused) what = "paused by an operator";
    std::string line = "  " + p.name;
    line.resize(std::max<size_t>(line.size() + 1, 26), ' ');
    line += what;
    if (p.consecutive_failures > 0) {
      line += "  (" + std::to_string(p.consecutive_failures) + " failed in a row)";
    }
    lines.push_back(fit(line));
  }
  return lines;
}

void LiveView::event(const Event& e) {
  erase();
  std::fprintf(out_, "%s\n", event_line(e, started_ms_).c_str());
  draw();
  std::fflush(out_);
}

void LiveView::status(const EngineState& state, const std::vector<SourceHealth>& sources,
                      int64_t now_ms) {
  if (!terminal_) return;
  last_draw_ms_ = now_ms;
  erase();
  block_ = status_lines(state, sources, started_ms_, ends_ms_, now_ms);
  draw();
  std::fflush(out_);
}

void LiveView::close() {
  erase();
  block_.clear();
  std::fflush(out_);
}

void LiveView::erase() {
  if (!terminal_ || block_.empty()) return;
  // Up to the block's first line, then clear to the end of the screen.
  std::fprintf(out_, "\x1b[%zuA\r\x1b[J", block_.size());
}

void LiveView::draw() {
  if (!terminal_) return;
  for (const std::string& line : block_) std::fprintf(out_, "\x1b[2m%s\x1b[0m\n", line.c_str());
}

}  // namespace setpoint
