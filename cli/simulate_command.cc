// `setpoint simulate`: replays recorded metrics through the engine core with a virtual clock
// and prints what the policies would have done: a timeline of events and a summary per policy.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "grammar/literal.h"
#include "interpreter/engine.h"
#include "runtime/effect_model.h"
#include "runtime/local_time.h"
#include "runtime/metrics_reader.h"
#include "runtime/policy_loader.h"
#include "runtime/recording.h"
#include "runtime/report.h"

namespace setpoint {
namespace {

std::optional<int64_t> parse_time(const std::string& text) {
  int64_t ms;
  if (!recorded_time_to_ms(text, ms)) return std::nullopt;
  return ms;
}

nlohmann::json event_json(const Event& e) {
  nlohmann::json instance = nlohmann::json::object();
  for (const Label& l : e.instance) instance[l.name] = l.value;
  nlohmann::json out = {{"time", static_cast<double>(e.t_ms) / 1000.0},
                        {"policy", e.policy},
                        {"instance", instance},
                        {"event", event_kind_name(e.kind)}};
  if (!e.knob.empty()) out["knob"] = e.knob;
  if (!std::isnan(e.from)) out["from"] = e.from;
  if (!std::isnan(e.to)) out["to"] = e.to;
  if (e.action) out["action"] = e.action;
  if (!e.reason.empty()) out["reason"] = e.reason;
  return out;
}

struct Summary {
  size_t fired = 0, applied = 0, proposed = 0, confirmed = 0, inconclusive = 0, regressed = 0,
         rolled_back = 0;
  std::map<std::string, size_t> skipped;  // by reason
};

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

// The report's charts while the replay runs: which expressions the policies use (gathered from
// the compiled graph, one chart per node however many policies share it), and their values at
// every step, as the policies saw them (after the effect model).
class SimulateReport {
 public:
  static constexpr size_t kMaxEvents = 10'000;    // kept for markers and the events table
  static constexpr size_t kMaxLeftOut = 100'000;  // left-out label sets counted per chart

  SimulateReport(const PolicySet& set, const WindowStore& store, const Engine& engine,
                 const EvalOptions& options, int64_t from_ms, int64_t to_ms)
      : set_(set),
        evaluator_(set.modules, set.compiled, store, options),
        from_ms_(from_ms),
        to_ms_(to_ms) {
    evaluator_.knob_value = [&engine](std::string_view knob) { return engine.knob(knob); };
    has_baseline_.assign(boost::num_vertices(set.compiled.graph), -1);
    const Program& p = set.compiled;
    for (const PolicyPlan& plan : p.policies) {
      if (plan.trigger != kNoNode) condition(only_input(plan.trigger), plan.name, "trigger");
      if (plan.when != kNoNode) condition(only_input(plan.when), plan.name, "when");
      for (NodeId x : plan.expectations) {
        chart(only_input(x), plan.name, plan.name + " " + set.compiled.graph[x].label);
      }
      for (NodeId r : plan.rollbacks) condition(only_input(r), plan.name, "rollback when");
    }
  }

  // Evaluates every chart's expression at t (after the engine's evaluation at t).
  void sample(int64_t t_ms) {
    evaluator_.at(t_ms);
    for (Chart& c : charts_) {
      for (auto& [labels, s] : c.series) s.seen = false;
      try {
        const Value& v = evaluator_.value(c.node);
        if (v.type == ValueType::Scalar) {
          add(c, "", t_ms, v.scalar);
        } else if (v.type == ValueType::Vector) {
          for (const VectorSample& s : v.vector) {
            add(c, labels_text(evaluator_.labels(s.labels)), t_ms, s.value);
          }
        }
      } catch (const EvalError&) {
        // A query Prometheus refuses at this time has no value here: a gap.
      }
      evaluator_.drop(c.node);
      for (auto& [labels, s] : c.series) {
        if (!s.seen) s.points.add(t_ms, NAN);
      }
    }
  }

  void event(const Event& e) {
    if (events_.size() < kMaxEvents) {
      events_.push_back(e);
    } else {
      ++events_left_out_;
    }
  }

  ReportInput finish(std::vector<std::string> notes, ReportTable summary) {
    ReportInput in;
    in.title = "setpoint simulate";
    in.notes = std::move(notes);
    in.from_ms = from_ms_;
    in.to_ms = to_ms_;
    in.summary = std::move(summary);
    for (Chart& c : charts_) {
      for (auto& [labels, s] : c.series) c.chart.series.push_back({labels, s.points.finish()});
      c.chart.series_left_out = c.left_out.size();
      in.charts.push_back(std::move(c.chart));
    }
    in.events = std::move(events_);
    in.events_left_out = events_left_out_;
    return in;
  }

 private:
  struct Series {
    ReportSeriesBuilder points;
    bool seen = false;
  };
  struct Chart {
    NodeId node = kNoNode;
    ReportChart chart;
    std::map<std::string, Series> series;  // by label set, so the legend is sorted
    std::set<std::string> left_out;
  };

  NodeId only_input(NodeId n) const {
    return boost::source(*boost::in_edges(n, set_.compiled.graph).first, set_.compiled.graph);
  }

  bool has_baseline(NodeId n) {
    if (has_baseline_[n] < 0) {
      has_baseline_[n] = set_.compiled.graph[n].kind == NodeKind::Baseline;
      for (NodeId in : node_inputs(set_.compiled, n)) {
        if (has_baseline(in)) has_baseline_[n] = 1;
      }
    }
    return has_baseline_[n] == 1;
  }

  // The expression as written where it first appears, on one line.
  std::string text(NodeId n) const {
    const GraphNode& g = set_.compiled.graph[n];
    std::string out;
    for (char c : set_.modules[g.module].file->slice(g.span)) {
      bool blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';
      if (blank && (out.empty() || out.back() == ' ')) continue;
      out += blank ? ' ' : c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }

  const Expr* expr(NodeId n) const {
    const GraphNode& g = set_.compiled.graph[n];
    if (g.expr == kNoExpr || g.module >= set_.modules.size()) return nullptr;
    return &set_.modules[g.module].expr(g.expr);
  }

  // A condition's charts: each side of a comparison that is neither a constant (that is the
  // threshold) nor measured against a baseline; both sides of `and`, `or`, `unless`.
  void condition(NodeId n, const std::string& policy, const std::string& clause) {
    const Expr* e = expr(n);
    std::vector<NodeId> in = node_inputs(set_.compiled, n);
    if (set_.compiled.graph[n].kind == NodeKind::Binary && e && in.size() == 2) {
      if (is_set_operator(e->op)) {
        condition(in[0], policy, clause);
        condition(in[1], policy, clause);
        return;
      }
      if (is_comparison(e->op)) {
        static const std::map<std::string, std::string> flipped = {
            {"<", ">"}, {">", "<"}, {"<=", ">="}, {">=", "<="}, {"==", "=="}, {"!=", "!="}};
        std::string op = binary_op_text(e->op);
        for (int side = 0; side < 2; ++side) {
          NodeId mine = in[side], other = in[1 - side];
          if (constant_value(set_.compiled, mine) || has_baseline(mine)) continue;
          std::string label =
              policy + " " + clause + " " + (side == 0 ? op : flipped.at(op)) + " " + text(other);
          Chart& c = chart(mine, policy, label);
          if (std::optional<double> value = constant_value(set_.compiled, other)) {
            bool known = false;
            for (const ReportThreshold& t : c.chart.thresholds) known |= t.label == label;
            if (!known) c.chart.thresholds.push_back({label, *value});
          }
        }
        return;
      }
    }
    if (!has_baseline(n) && !constant_value(set_.compiled, n)) {
      chart(n, policy, policy + " " + clause);
    }
  }

  // The chart of node n, made the first time; `use` says where the policy uses it.
  Chart& chart(NodeId n, const std::string& policy, const std::string& use) {
    auto [it, fresh] = index_.emplace(n, charts_.size());
    if (fresh) {
      Chart c;
      c.node = n;
      const GraphNode& g = set_.compiled.graph[n];
      c.chart.expression = text(n);
      c.chart.title = g.names.empty() ? c.chart.expression : g.names.front();
      static const char* const units[] = {"", "", "s", "B", "%", "/s"};  // by Dim
      if (g.expr != kNoExpr && g.module < set_.program.exprs.size() &&
          g.expr < set_.program.exprs[g.module].size()) {
        c.chart.unit = units[static_cast<size_t>(set_.program.exprs[g.module][g.expr].dim)];
      }
      charts_.push_back(std::move(c));
    }
    Chart& c = charts_[it->second];
    std::vector<std::string>& policies = c.chart.policies;
    if (std::find(policies.begin(), policies.end(), policy) == policies.end()) {
      policies.push_back(policy);
    }
    std::vector<std::string>& uses = c.chart.uses;
    if (std::find(uses.begin(), uses.end(), use) == uses.end()) uses.push_back(use);
    return c;
  }

  void add(Chart& c, const std::string& labels, int64_t t_ms, double value) {
    auto it = c.series.find(labels);
    if (it == c.series.end()) {
      // The first series seen are kept; the others are counted, up to a bound.
      if (c.series.size() >= ReportLimits{}.max_series) {
        if (c.left_out.size() < kMaxLeftOut) c.left_out.insert(labels);
        return;
      }
      it = c.series
               .emplace(labels,
                        Series{ReportSeriesBuilder(from_ms_, to_ms_, ReportLimits{}.max_points)})
               .first;
    }
    it->second.points.add(t_ms, value);
    it->second.seen = true;
  }

  const PolicySet& set_;
  Evaluator evaluator_;
  int64_t from_ms_, to_ms_;
  std::vector<int8_t> has_baseline_;  // by node: -1 not yet known
  std::vector<Chart> charts_;
  std::map<NodeId, size_t> index_;
  std::vector<Event> events_;
  size_t events_left_out_ = 0;
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
}  // namespace

int run_simulate(const SimulateCommand& cmd) {
  PolicySet set;
  if (int status = load_error_free(cmd.policies, set)) return status;

  Recording recording;
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
  recording.finish();
  const auto& points = recording.points();
  if (points.empty()) {
    std::cerr << "setpoint: " << cmd.metrics << " holds no samples\n";
    return 2;
  }

  NumberLiteral step = decode_number(cmd.step);
  if (!step.ok || step.unit != Unit::Seconds || !(step.value > 0)) {
    std::cerr << "setpoint: --step takes a positive duration such as 15s\n";
    return 2;
  }
  int64_t step_ms = static_cast<int64_t>(std::llround(step.value * 1000));
  std::optional<int64_t> from = cmd.from.empty() ? points.front().t_ms : parse_time(cmd.from);
  std::optional<int64_t> to = cmd.to.empty() ? points.back().t_ms : parse_time(cmd.to);
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

  WindowStore store;
  EngineOptions options;
  options.local_time = system_local_time;
  Engine engine(set.modules, set.program, set.compiled, store, options);
  for (const std::string& k : cmd.knobs) {
    std::string name;
    double value;
    if (!parse_knob(k, name, value)) {
      std::cerr << "setpoint: --knob takes NAME=VALUE, such as pool=20 or cache_ttl=60s\n";
      return 2;
    }
    bool declared = false;
    for (const KnobInfo& info : set.program.knobs) declared |= info.name == name;
    if (!declared) {
      std::cerr << "setpoint: --knob " << name << ": no policy declares that knob\n";
      return 2;
    }
    engine.set_knob(name, value);
  }

  bool json = cmd.format == "json";
  std::map<std::string, Summary> summary;
  for (const PolicyPlan& plan : set.compiled.policies) summary[plan.name];
  size_t next = 0;
  std::vector<uint32_t> ids(recording.labels().size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = store.series(recording.labels()[i]);
  std::optional<SimulateReport> charts;
  if (!cmd.report.empty()) charts.emplace(set, store, engine, options.eval, *from, *to);
  SimulateProgress progress(isatty(STDERR_FILENO) && !json, *from, *to);
  for (int64_t t = *from; t <= *to; t += step_ms) {
    // Samples arrive up to the evaluation time, as a scrape would deliver them.
    while (next < points.size() && points[next].t_ms <= t) {
      const Recording::Point& p = points[next++];
      double value = p.value;
      if (model) value = model->apply(recording.labels()[p.series], p.t_ms, value, changes);
      store.sample(ids[p.series], p.t_ms, value);
    }
    std::vector<Event> events = engine.evaluate(t);
    if (!events.empty()) progress.clear();
    for (const Event& e : events) {
      if (charts) charts->event(e);
      Summary& s = summary[e.policy];
      switch (e.kind) {
        case EventKind::Firing:
          ++s.fired;
          break;
        case EventKind::Applied:
          ++s.applied;
          changes.push_back({e.t_ms, e.knob, e.from, e.to});
          break;
        case EventKind::Proposed:
        case EventKind::WouldApply:
          ++s.proposed;
          break;
        case EventKind::Confirmed:
          ++s.confirmed;
          break;
        case EventKind::Inconclusive:
          ++s.inconclusive;
          break;
        case EventKind::Regressed:
          ++s.regressed;
          break;
        case EventKind::RolledBack:
          ++s.rolled_back;
          changes.push_back({e.t_ms, e.knob, e.from, e.to});
          break;
        case EventKind::Skipped:
          ++s.skipped[e.reason];
          break;
        default:
          break;
      }
      if (json) {
        std::cout << event_json(e).dump() << "\n";
      } else {
        std::cout << event_text(e) << "\n";
      }
    }
    if (charts) charts->sample(t);
    progress.update(t);
  }
  progress.clear();
  if (!json) {
    std::cout << "\npolicy                          fired  applied  proposed  confirmed  "
                 "inconclusive  regressed  rolled_back\n";
    for (const auto& [name, s] : summary) {
      char line[256];
      std::snprintf(line, sizeof line, "%-30s %6zu %8zu %9zu %10zu %13zu %10zu %12zu\n",
                    name.c_str(), s.fired, s.applied, s.proposed, s.confirmed, s.inconclusive,
                    s.regressed, s.rolled_back);
      std::cout << line;
      for (const auto& [reason, n] : s.skipped) {
        std::cout << "    skipped " << n << "x: " << reason << "\n";
      }
    }
  }
  if (!charts) return 0;
  std::cout.flush();

  // The report: the same summary as a table, the charts, the events.
  ReportTable table;
  table.columns = {"policy",       "fired",     "applied",     "proposed", "confirmed",
                   "inconclusive", "regressed", "rolled_back", "skipped"};
  for (const auto& [name, s] : summary) {
    std::string skipped;
    for (const auto& [reason, n] : s.skipped) {
      skipped += (skipped.empty() ? "" : "; ") + std::to_string(n) + "x: " + reason;
    }
    table.rows.push_back({name, std::to_string(s.fired), std::to_string(s.applied),
                          std::to_string(s.proposed), std::to_string(s.confirmed),
                          std::to_string(s.inconclusive), std::to_string(s.regressed),
                          std::to_string(s.rolled_back), skipped});
  }
  std::vector<std::string> notes;
  std::string policies;
  for (const std::string& p : cmd.policies) policies += (policies.empty() ? "" : ", ") + p;
  notes.push_back("policies: " + policies);
  notes.push_back("metrics: " + cmd.metrics + ", evaluated every " + cmd.step);
  if (!cmd.effects.empty()) notes.push_back("effect model: " + cmd.effects);
  for (const std::string& k : cmd.knobs) notes.push_back("knob at the start: " + k);
  std::ostringstream html;
  write_report(charts->finish(std::move(notes), std::move(table)), html);
  std::string error;
  std::error_code ec;
  bool existed = std::filesystem::exists(cmd.report, ec);
  if (!write_file_atomically(cmd.report, html.str(), error)) {
    std::cerr << "setpoint: " << cmd.report << ": " << error << "\n";
    return 2;
  }
  if (!existed) {
    // The temporary file was private (0600); a new report is as readable as any new file.
    mode_t mask = ::umask(0);
    ::umask(mask);
    ::chmod(cmd.report.c_str(), 0666 & ~mask);
  }
  std::cerr << "report written to " << cmd.report << "\n";
  return 0;
}

}  // namespace setpoint
