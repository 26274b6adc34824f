// What `setpoint run` shows and leaves behind for a person: the live view while it runs, and at
// exit the summary per policy, the recording of what it saw (which `setpoint simulate` replays
// to the same decisions) and the HTML report, in the same format as `simulate --report`.
#pragma once

#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "interpreter/engine.h"
#include "runtime/live_view.h"
#include "runtime/metric_source.h"
#include "runtime/policy_loader.h"
#include "runtime/run_recording.h"
#include "runtime/run_summary.h"

namespace setpoint {

struct RunOptions {
  bool dry_run = false;         // never touch an actuator; log what would have been done
  double duration_seconds = 0;  // stop (as on SIGTERM) after this long; 0: run until a signal
  std::string record_path;      // write the recording here at exit, or ""
  std::string report_path;      // write the HTML report here at exit, or ""
  bool live = false;            // the live view on stdout, and the summary at exit
  std::vector<std::string> policy_paths;  // as given in the config, for the replay command
  // Why a replay of the recording may decide otherwise than the run, or "" when it cannot:
  // samples that keep a timestamp of their own (a query source) or several sources.
  std::string inexact_replay;
};

class RunOutput {
 public:
  RunOutput(RunOptions options, int64_t started_ms, double retention_seconds);
  ~RunOutput();
  // The policies (for the summary), and whether the engine state of an earlier run was restored.
  void start(const EngineState& state, bool restored);
  // A knob value the engine got other than by acting: restored, or read from its actuator.
  void knob_set(const std::string& knob, double value, int64_t t_ms);
  void evaluated(int64_t t_ms);  // an evaluation at t: the recording's times
  // Whether the live view wants a redraw now; then show() takes the state to draw.
  bool live_due(int64_t t_ms) const;
  void show(const EngineState& state, const std::vector<SourceHealth>& sources, int64_t t_ms);
  void event(const Event& e);
  // At exit: the summary, the recording and the report. Errors are logged and returned as false;
  // nothing here can stop the daemon from exiting.
  bool finish(const PolicySet& set, const WindowStore& store, int64_t now_ms);
  // The HTML report of what is held now: the window store's samples, the events and knob values
  // kept, the summary since the start. At exit for --report; `served` for GET /api/v1/report
  // while the daemon runs on (its notes then say so).
  std::string report_html(const PolicySet& set, const WindowStore& store, int64_t now_ms,
                          bool served) const;

 private:
  bool write_report(const PolicySet& set, const WindowStore& store, int64_t now_ms);
  void drop_oldest_event();

  RunOptions options_;
  int64_t started_ms_;
  int64_t retention_ms_;
  std::unique_ptr<LiveView> live_;
  std::vector<RecordedKnob> knobs_set_;  // bounded: a few per knob and start
  bool restored_ = false;
  std::deque<int64_t> evaluations_;  // within retention, as the window store keeps samples
  bool evaluations_trimmed_ = false;
  // For the report and the recording: the last kMaxEvents, none older than the evaluations kept,
  // so a daemon that runs for months holds a bounded window like its store's.
  std::deque<Event> events_;
  size_t events_left_out_ = 0;  // dropped from the front, still counted in the summary
  // The last value an event that was dropped set on each knob, so the charts still see the knob
  // as it was at the start of what is kept.
  std::map<std::string, std::pair<int64_t, double>, std::less<>> knobs_dropped_;
  std::unique_ptr<RunSummary> summary_;
};

}  // namespace setpoint
