// The live view, summary, recording and report of `setpoint run`. See run_output.h.
#include "runtime/run_output.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "runtime/policy_report.h"
#include "runtime/report.h"
#include "runtime/run_recording.h"

namespace setpoint {
namespace {

constexpr size_t kMaxEvents = PolicyReport::kMaxEvents;
constexpr size_t kMaxEvaluations = 1'000'000;  // ~8 MB: a day at one evaluation a tenth second

// A command line argument a shell reads back as the same word.
std::string shell_word(const std::string& s) {
  bool plain = !s.empty() && s.find_first_not_of(
                                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
                                 "WXYZ0123456789_-./=:,+@%") == std::string::npos;
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

RunOutput::RunOutput(RunOptions options, int64_t started_ms, double retention_seconds)
    : options_(std::move(options)),
      started_ms_(started_ms),
      retention_ms_(static_cast<int64_t>(retention_seconds * 1000)) {
  if (options_.live) {
    std::optional<int64_t> ends;
    if (options_.duration_seconds > 0) {
      ends = started_ms + static_cast<int64_t>(std::llround(options_.duration_seconds * 1000));
    }
    live_ = std::make_unique<LiveView>(stdout, isatty(STDOUT_FILENO) != 0, started_ms, ends);
  }
}

RunOutput::~RunOutput() = default;

void RunOutput::knob_set(const std::string& knob, double value, int64_t t_ms) {
  if (knobs_set_.size() < 100'000) knobs_set_.push_back({knob, value, t_ms});
}

void RunOutput::start(const EngineState& state, bool restored) {
  restored_ = restored;
  std::vector<std::string> names;
  for (const EngineState::PolicyState& p : state.policies) names.push_back(p.name);
  summary_ = std::make_unique<RunSummary>(names);
}

void RunOutput::evaluated(int64_t t_ms) {
  evaluations_.push_back(t_ms);
  bool trimmed = false;
  while (!evaluations_.empty() &&
         (evaluations_.size() > kMaxEvaluations || evaluations_.front() <= t_ms - retention_ms_)) {
    evaluations_.pop_front();
    evaluations_trimmed_ = trimmed = true;
  }
  // Events from before the evaluations kept fall outside every chart, as their samples have
  // left the window store.
  while (trimmed && !events_.empty() && events_.front().t_ms < evaluations_.front()) {
    drop_oldest_event();
  }
}

void RunOutput::drop_oldest_event() {
  const Event& e = events_.front();
  if ((e.kind == EventKind::Applied || e.kind == EventKind::RolledBack) && !e.knob.empty()) {
    knobs_dropped_[e.knob] = {e.t_ms, e.to};
  }
  events_.pop_front();
  ++events_left_out_;
}

bool RunOutput::live_due(int64_t t_ms) const { return live_ && live_->due(t_ms); }

void RunOutput::show(const EngineState& state, const std::vector<SourceHealth>& sources,
                     int64_t t_ms) {
  if (live_) live_->status(state, sources, t_ms);
}

void RunOutput::event(const Event& e) {
  if (summary_) summary_->count(e);
  events_.push_back(e);
  if (events_.size() > kMaxEvents) drop_oldest_event();
  if (live_) live_->event(e);
}

bool RunOutput::finish(const PolicySet& set, const WindowStore& store, int64_t now_ms) {
  if (live_) live_->close();
  bool ok = true;
  if (options_.live && summary_) std::cout << "\n" << summary_->text() << std::flush;
  if (!options_.record_path.empty()) {
    RunAnnotations a;
    a.knobs = knobs_set_;
    a.policies = policies_fingerprint(set);
    a.restored = restored_;
    a.evaluations.assign(evaluations_.begin(), evaluations_.end());
    for (const Event& e : events_) {
      if (replayable(e.kind)) a.events.emplace_back(e.t_ms, event_text_untimed(e));
    }
    if (events_left_out_ > 0) {
      a.notes.push_back("the first " + std::to_string(events_left_out_) +
                        " events are not recorded: only the last ones are kept");
    }
    if (restored_) {
      a.notes.push_back(
          "the daemon restored the engine state of an earlier run: a replay starts without it");
    }
    if (!options_.inexact_replay.empty()) a.notes.push_back(options_.inexact_replay);
    if (evaluations_trimmed_) {
      a.notes.push_back("the run was longer than the retention: this is its end only");
    }
    std::string error;
    if (write_run_recording(options_.record_path, store, a, error)) {
      std::string command = "setpoint simulate";
      for (const std::string& p : options_.policy_paths) command += " --policies " + shell_word(p);
      command += " --metrics " + shell_word(options_.record_path);
      spdlog::info("recording written to {}", options_.record_path);
      if (options_.live) {
        std::cout << "\nrecording written to " << options_.record_path
                  << (options_.inexact_replay.empty()
                          ? "; replay it to the same decisions with:\n  "
                          : "; replay it with (" + options_.inexact_replay + "):\n  ")
                  << command << "\n";
      }
    } else {
      spdlog::error("recording: {}", error);
      ok = false;
    }
  }
  if (!options_.report_path.empty()) ok &= write_report(set, store, now_ms);
  std::cout.flush();
  return ok;
}

bool RunOutput::write_report(const PolicySet& set, const WindowStore& store, int64_t now_ms) {
  std::string error;
  if (!write_report_file(options_.report_path, report_html(set, store, now_ms, false), error)) {
    spdlog::error("report: {}", error);
    return false;
  }
  spdlog::info("report written to {}", options_.report_path);
  if (options_.live) std::cout << "report written to " << options_.report_path << "\n";
  return true;
}

std::string RunOutput::report_html(const PolicySet& set, const WindowStore& store, int64_t now_ms,
                                   bool served) const {
  // The knobs as they were at each time, from the start and the changes since.
  std::map<std::string, std::vector<std::pair<int64_t, double>>> history;
  for (const auto& [knob, change] : knobs_dropped_) history[knob].push_back(change);
  for (const RecordedKnob& k : knobs_set_) history[k.knob].push_back({k.t_ms, k.value});
  for (const Event& e : events_) {
    if ((e.kind == EventKind::Applied || e.kind == EventKind::RolledBack) && !e.knob.empty()) {
      history[e.knob].push_back({e.t_ms, e.to});
    }
  }
  for (auto& [knob, changes] : history) {
    std::stable_sort(changes.begin(), changes.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  int64_t at = started_ms_;
  auto knob_at = [&history, &at](std::string_view knob) -> std::optional<double> {
    auto it = history.find(std::string(knob));
    if (it == history.end()) return std::nullopt;
    std::optional<double> v;
    for (const auto& [t, value] : it->second) {
      if (t <= at) v = value;
    }
    return v;
  };
  int64_t from = evaluations_.empty() ? started_ms_ : evaluations_.front();
  int64_t to = std::max(from, now_ms);
  EvalOptions eval;
  PolicyReport charts(set, store, knob_at, eval, from, to);
  // Every evaluation, or an even share of them: the chart keeps at most ~1600 columns anyway.
  size_t stride = std::max<size_t>(1, evaluations_.size() / 4000);
  for (size_t i = 0; i < evaluations_.size(); i += stride) {
    at = evaluations_[i];
    charts.sample(at);
  }
  for (const Event& e : events_) charts.event(e);
  std::vector<std::string> notes;
  std::string policies;
  for (const std::string& p : options_.policy_paths) {
    policies += (policies.empty() ? "" : ", ") + p;
  }
  notes.push_back("policies: " + policies);
  std::string evaluations = std::to_string(evaluations_.size()) + " evaluations" +
                            (options_.dry_run ? ", dry run (no actuator was touched)" : "");
  if (served) {
    // Asked for while the daemon runs: what its window store holds now, not a whole run.
    char retention[32];
    std::snprintf(retention, sizeof retention, "%gs", static_cast<double>(retention_ms_) / 1000);
    notes.push_back("daemon report from " + utc_text(from) + " to " + utc_text(to) +
                    " (the daemon is still running; its window store keeps the last " + retention +
                    "), " + evaluations);
    notes.push_back("the summary counts every event since the daemon started at " +
                    utc_text(started_ms_));
  } else {
    notes.push_back("live run from " + utc_text(from) + " to " + utc_text(to) + ", " + evaluations);
  }
  std::set<std::string> noted;
  for (const RecordedKnob& k : knobs_set_) {
    if (!noted.insert(k.knob).second) continue;
    char number[32];
    std::snprintf(number, sizeof number, "%g", k.value);
    notes.push_back((served ? "knob when the daemon started: " : "knob at the start: ") + k.knob +
                    "=" + number);
  }
  if (events_left_out_ > 0) {
    notes.push_back(std::to_string(events_left_out_) +
                    " earlier events are counted in the summary, not shown");
  }
  std::ostringstream html;
  setpoint::write_report(
      charts.finish(served ? "setpoint daemon" : "setpoint run", std::move(notes),
                    summary_ ? summary_->table() : ReportTable{}),
      html);
  return html.str();
}

}  // namespace setpoint
