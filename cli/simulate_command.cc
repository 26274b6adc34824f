// `setpoint simulate`: replays recorded metrics through the engine core with a virtual clock
// and prints what the policies would have done: a timeline of events and a summary per policy.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "grammar/literal.h"
#include "interpreter/engine.h"
#include "interpreter/history_needed.h"
#include "runtime/effect_model.h"
#include "runtime/event_json.h"
#include "runtime/local_time.h"
#include "runtime/metrics_reader.h"
#include "runtime/policy_loader.h"
#include "runtime/policy_report.h"
#include "runtime/recording.h"
#include "runtime/report.h"
#include "runtime/run_recording.h"
#include "runtime/run_summary.h"

namespace setpoint {
namespace {

std::optional<int64_t> parse_time(const std::string& text) {
  int64_t ms;
  if (!recorded_time_to_ms(text, ms)) return std::nullopt;
  return ms;
}

// Whether a replay of a run recording decided what the daemon decided, in one sentence.
// "2026-12-01T14:18:51.097Z": decisions a few milliseconds apart must read apart.
std::string utc_ms_text(int64_t t_ms) {
  std::string s = utc_text(t_ms);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03lld", static_cast<long long>(((t_ms % 1000) + 1000) % 1000));
  return s.substr(0, s.size() - 1) + ms + "Z";
}

std::string compare_with_run(const std::vector<std::pair<int64_t, std::string>>& run,
                             const std::vector<std::pair<int64_t, std::string>>& replay) {
  for (size_t i = 0; i < std::max(run.size(), replay.size()); ++i) {
    if (i < run.size() && i < replay.size() && run[i] == replay[i]) continue;
    std::string out = "the replay differs from the run at event " + std::to_string(i + 1) + ":";
    out += "\n  run:    " +
           (i < run.size() ? utc_ms_text(run[i].first) + " " + run[i].second : "(no more events)");
    out +=
        "\n  replay: " + (i < replay.size() ? utc_ms_text(replay[i].first) + " " + replay[i].second
                                            : "(no more events)");
    return out;
  }
  return "the replay made the same " + std::to_string(run.size()) +
         " decisions as the recorded run, at the same times";
}

// `--knob pool=20`, `--knob cache_ttl=60s`: units as in policies.
bool parse_knob(const std::string& text, std::string& name, double& value) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  name = text.substr(0, eq);
  NumberLiteral n = decode_number(text.substr(eq + 1));
  if (!n.ok) return false;
  value = n.value;
  return true;
}

// A progress bar on stderr when it is a terminal: the share of the replay's time span done,
// redrawn at most 10 times a second, and erased before events are printed and at the end so
// that it never mixes with them on the same terminal.
class SimulateProgress {
 public:
  SimulateProgress(bool enabled, int64_t from_ms, int64_t to_ms)
      : enabled_(enabled), from_ms_(from_ms), to_ms_(to_ms) {}
  void update(int64_t t_ms) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    // At most 10 draws a second, also when events keep erasing the bar.
    if (now - last_ < std::chrono::milliseconds(100)) return;
    int64_t span = to_ms_ - from_ms_;
    int percent =
        span > 0 ? static_cast<int>(std::clamp<int64_t>((t_ms - from_ms_) * 100 / span, 0, 100))
                 : 100;
    if (drawn_ && percent == percent_) return;
    std::cout.flush();  // what was printed before goes before the bar
    int filled = percent * 30 / 100;
    std::cerr << "\rreplaying [" << std::string(filled, '#') << std::string(30 - filled, '.')
              << "] " << percent << "%" << std::flush;
    drawn_ = true;
    percent_ = percent;
    last_ = now;
  }
  void clear() {
    if (!drawn_) return;
    std::cerr << "\r" << std::string(50, ' ') << "\r" << std::flush;
    drawn_ = false;
  }

 private:
  bool enabled_;
  int64_t from_ms_, to_ms_;
  bool drawn_ = false;
  int percent_ = -1;
  std::chrono::steady_clock::time_point last_;
};

// Whether a report could be written at `path`, checked before the replay so that a long replay
// does not end in an error: "" when it can, else why not.
std::string report_path_problem(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return "is a directory";
  fs::path parent = fs::path(path).parent_path();
  std::string dir = parent.empty() ? "." : parent.string();
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return "cannot write in " + dir + ": " + std::strerror(errno);
  }
  return "";
}
// The replay's second read of a recording in time order: each sample goes straight to the
// replay. Series are announced in the same order as at the first read, so their ids agree.
class ReplaySink : public SampleSink {
 public:
  explicit ReplaySink(std::function<void(uint32_t, int64_t, double)> to_replay)
      : to_replay_(std::move(to_replay)) {}
  uint32_t series(const Labels&) override { return next_id_++; }
  void sample(uint32_t series, int64_t t_ms, double value) override {
    to_replay_(series, t_ms, value);
  }

 private:
  std::function<void(uint32_t, int64_t, double)> to_replay_;
  uint32_t next_id_ = 0;
};

}  // namespace

int run_simulate(const SimulateCommand& cmd) {
  PolicySet set;
  if (int status = load_error_free(cmd.policies, set)) return status;

  // A first read finds the series, the span and whether the samples are in time order; the
  // replay then reads the file again, so that the samples never sit in memory all at once.
  // Only a recording out of time order is held whole, to be sorted.
  Recording recording(false);
  ReadReport report;
  if (!read_metrics_file(cmd.metrics, std::nullopt, recording, report)) {
    for (const std::string& e : report.errors) std::cerr << "setpoint: " << e << "\n";
    return 2;
  }
  for (const std::string& e : report.errors) std::cerr << "setpoint: " << e << "\n";
  if (report.skipped > 0) {
    std::cerr << "setpoint: " << cmd.metrics << ": skipped " << report.skipped << " malformed "
              << (report.skipped == 1 ? "entry" : "entries") << "\n";
  }
  if (recording.sample_count() == 0) {
    std::cerr << "setpoint: " << cmd.metrics << " holds no samples\n";
    return 2;
  }
  std::optional<Recording> sorted;
  if (!recording.in_time_order()) {
    sorted.emplace(true);
    ReadReport again;
    if (!read_metrics_file(cmd.metrics, std::nullopt, *sorted, again)) {
      for (const std::string& e : again.errors) std::cerr << "setpoint: " << e << "\n";
      return 2;
    }
    sorted->finish();
  }

  NumberLiteral step = decode_number(cmd.step);
  if (!step.ok || step.unit != Unit::Seconds || !(step.value > 0)) {
    std::cerr << "setpoint: --step takes a positive duration such as 15s\n";
    return 2;
  }
  int64_t step_ms = static_cast<int64_t>(std::llround(step.value * 1000));
  // A recording of `setpoint run --record` says when the daemon evaluated and from which knob
  // values: without --step the replay evaluates at exactly those times, so it decides the same.
  RunAnnotations recorded = read_run_annotations(cmd.metrics);
  bool at_recorded_times = !cmd.step_given && !recorded.evaluations.empty();
  for (const std::string& n : recorded.notes)
    std::cerr << "setpoint: the recording says: " << n << "\n";
  int64_t first = at_recorded_times ? recorded.evaluations.front() : recording.first_ms();
  int64_t last = at_recorded_times ? recorded.evaluations.back() : recording.last_ms();
  std::optional<int64_t> from = cmd.from.empty() ? first : parse_time(cmd.from);
  std::optional<int64_t> to = cmd.to.empty() ? last : parse_time(cmd.to);
  if (!from || !to) {
    std::cerr << "setpoint: --from and --to take RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds\n";
    return 2;
  }
  if (*to < *from) {
    std::cerr << "setpoint: --to is before --from\n";
    return 2;
  }

  // The effect model: what the knob changes of this replay would have done to the metrics.
  std::optional<EffectModel> model;
  if (!cmd.effects.empty()) {
    std::string text, error;
    if (!read_file(cmd.effects, 1 << 20, text, error)) {
      std::cerr << "setpoint: " << cmd.effects << ": " << error << "\n";
      return 2;
    }
    std::vector<std::string> errors;
    model = EffectModel::parse(text, cmd.effects, errors);
    for (const std::string& e : errors) std::cerr << e << "\n";
    if (!model) return 2;
  }
  if (!cmd.report.empty()) {
    std::string problem = report_path_problem(cmd.report);
    if (!problem.empty()) {
      std::cerr << "setpoint: " << cmd.report << ": " << problem << "\n";
      return 2;
    }
  }
  std::vector<KnobChange> changes;

  // The store keeps what the policies read, not the whole recording: a replay's memory then
  // grows with its series and windows, as the daemon's does, not with the recording's length.
  StoreLimits limits;
  // At least 1 ms (0 would keep everything): policies of instant selectors read the newest
  // sample only, and a replay evaluates no earlier than the samples it has given the store.
  limits.retention_ms = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(longest_history(set.modules, false).seconds * 1000)));
  WindowStore store(limits);
  EngineOptions options;
  options.local_time = system_local_time;
  Engine engine(set.modules, set.program, set.compiled, store, options);
  auto declared_knob = [&set](const std::string& name) {
    for (const KnobInfo& info : set.program.knobs) {
      if (info.name == name) return true;
    }
    return false;
  };
  for (const std::string& k : cmd.knobs) {
    std::string name;
    double value;
    if (!parse_knob(k, name, value)) {
      std::cerr << "setpoint: --knob takes NAME=VALUE, such as pool=20 or cache_ttl=60s\n";
      return 2;
    }
    if (!declared_knob(name)) {
      std::cerr << "setpoint: --knob " << name << ": no policy declares that knob\n";
      return 2;
    }
    engine.set_knob(name, value);
  }

  bool json = cmd.format == "json";
  bool summary_only = cmd.format == "summary";  // no timeline: a long replay's events are many
  std::vector<std::string> names;
  for (const PolicyPlan& plan : set.compiled.policies) names.push_back(plan.name);
  RunSummary summary(names);
  std::vector<uint32_t> ids(recording.labels().size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = store.series(recording.labels()[i]);
  std::optional<PolicyReport> charts;
  if (!cmd.report.empty()) {
    charts.emplace(
        set, store, [&engine](std::string_view knob) { return engine.knob(knob); }, options.eval,
        *from, *to);
  }
  SimulateProgress progress(isatty(STDERR_FILENO) && !json, *from, *to);
  std::vector<std::pair<int64_t, std::string>> replayed;  // to compare with the daemon's
  std::vector<int64_t> times;
  if (at_recorded_times) {
    for (int64_t t : recorded.evaluations) {
      if (t >= *from && t <= *to) times.push_back(t);
    }
  }
  size_t time_index = 0;
  size_t next_knob = 0;
  std::stable_sort(recorded.knobs.begin(), recorded.knobs.end(),
                   [](const RecordedKnob& a, const RecordedKnob& b) { return a.t_ms < b.t_ms; });
  if (!cmd.knobs.empty()) recorded.knobs.clear();  // --knob says where the replay starts
  auto next_time = [&](int64_t t) {
    if (!at_recorded_times) return t + step_ms;
    return ++time_index < times.size() ? times[time_index] : *to + 1;
  };
  int64_t start = at_recorded_times ? (times.empty() ? *to + 1 : times.front()) : *from;
  auto evaluate_at = [&](int64_t t) {
    // Knob values the daemon read from its actuators, at the time it read them.
    while (next_knob < recorded.knobs.size() && recorded.knobs[next_knob].t_ms <= t) {
      const RecordedKnob& k = recorded.knobs[next_knob++];
      if (declared_knob(k.knob)) engine.set_knob(k.knob, k.value);
    }
    engine.evaluate(t, [&](const Event& e) {
      progress.clear();
      if (charts) charts->event(e);
      summary.count(e);
      if (at_recorded_times && replayable(e.kind)) {
        replayed.emplace_back(e.t_ms, event_text_untimed(e));
      }
      if (e.kind == EventKind::Applied || e.kind == EventKind::RolledBack) {
        changes.push_back({e.t_ms, e.knob, e.from, e.to});
      }
      if (summary_only) {
        return;
      } else if (json) {
        std::cout << event_json(e).dump() << "\n";
      } else {
        std::cout << event_text(e) << "\n";
      }
    });
    if (charts) charts->sample(t);
    progress.update(t);
  };
  // Samples arrive up to each evaluation time, as a scrape would deliver them: a sample later
  // than the next evaluation first has that evaluation happen.
  int64_t t = start;
  auto ingest = [&](uint32_t series, int64_t t_ms, double value) {
    while (t <= *to && t_ms > t) {
      evaluate_at(t);
      t = next_time(t);
    }
    if (t > *to) return;  // after the replay's end: nothing evaluates it
    if (model) value = model->apply(recording.labels()[series], t_ms, value, changes);
    store.sample(ids[series], t_ms, value);
  };
  if (sorted) {
    for (const Recording::Point& p : sorted->points()) ingest(p.series, p.t_ms, p.value);
  } else {
    ReplaySink sink(ingest);
    ReadReport again;
    bool read = read_metrics_file(cmd.metrics, std::nullopt, sink, again);
    if (!read || again.samples != report.samples) {
      progress.clear();
      std::cerr << "setpoint: " << cmd.metrics << " changed while it was replayed\n";
      return 2;
    }
  }
  for (; t <= *to; t = next_time(t)) evaluate_at(t);
  progress.clear();
  if (!json) {
    std::cout << (summary_only ? "" : "\n") << summary.text();
    if (at_recorded_times && cmd.from.empty() && cmd.to.empty() && cmd.knobs.empty() && !model) {
      std::cout << "\n";
      if (!recorded.policies.empty() && recorded.policies != policies_fingerprint(set)) {
        std::cout << "not compared with the recorded run: these are not the policies it ran\n";
      } else if (recorded.restored) {
        std::cout << "not compared with the recorded run: it began from an earlier run's state\n";
      } else {
        std::cout << compare_with_run(recorded.events, replayed) << "\n";
      }
    }
  }
  if (!charts) return 0;
  std::cout.flush();

  // The report: the same summary as a table, the charts, the events.
  std::vector<std::string> notes;
  std::string policies;
  for (const std::string& p : cmd.policies) policies += (policies.empty() ? "" : ", ") + p;
  notes.push_back("policies: " + policies);
  notes.push_back("metrics: " + cmd.metrics +
                  (at_recorded_times ? ", evaluated at the " + std::to_string(times.size()) +
                                           " times the daemon did"
                                     : ", evaluated every " + cmd.step));
  for (const RecordedKnob& k : recorded.knobs) {
    char number[32];
    std::snprintf(number, sizeof number, "%g", k.value);
    notes.push_back("knob read by the daemon: " + k.knob + "=" + number + " at " +
                    utc_text(k.t_ms));
  }
  if (!cmd.effects.empty()) notes.push_back("effect model: " + cmd.effects);
  for (const std::string& k : cmd.knobs) notes.push_back("knob at the start: " + k);
  std::ostringstream html;
  write_report(charts->finish("setpoint simulate", std::move(notes), summary.table()), html);
  std::string error;
  if (!write_report_file(cmd.report, html.str(), error)) {
    std::cerr << "setpoint: " << cmd.report << ": " << error << "\n";
    return 2;
  }
  std::cerr << "report written to " << cmd.report << "\n";
  return 0;
}

}  // namespace setpoint
