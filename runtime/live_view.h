// The terminal view of `setpoint run --live`: every event as a line, and on a terminal a status
// block under them, redrawn in place, with each policy's state, the knobs and the sources.
// Written for a person watching; the log (stderr) and the control API stay the record.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "interpreter/engine.h"
#include "runtime/metric_source.h"

namespace setpoint {

class LiveView {
 public:
  // terminal: redraw a status block with ANSI escapes; otherwise only event lines are written.
  // ends_ms: when the run will stop (--duration), shown as a countdown.
  LiveView(std::FILE* out, bool terminal, int64_t started_ms, std::optional<int64_t> ends_ms);
  // One line an event, as `simulate` prints them but timed from the start.
  void event(const Event& e);
  // Redraws the status block (a terminal only).
  void status(const EngineState& state, const std::vector<SourceHealth>& sources, int64_t now_ms);
  // Whether status() would redraw at this time.
  bool due(int64_t now_ms) const { return terminal_ && now_ms - last_draw_ms_ >= 500; }
  // Erases the status block, so what follows starts on a clean line.
  void close();

  // The status block's lines, for tests and for the non-terminal summary.
  static std::vector<std::string> status_lines(const EngineState& state,
                                               const std::vector<SourceHealth>& sources,
                                               int64_t started_ms, std::optional<int64_t> ends_ms,
                                               int64_t now_ms);
  // "+01:05 grow_pool applied pool_size 2 -> 8": the time since the start, then the event.
  static std::string event_line(const Event& e, int64_t started_ms);

 private:
  void erase();
  void draw();

  std::FILE* out_;
  bool terminal_;
  int64_t started_ms_;
  std::optional<int64_t> ends_ms_;
  std::vector<std::string> block_;  // what is on the screen now
  int64_t last_draw_ms_ = 0;
};

}  // namespace setpoint
