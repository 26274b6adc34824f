// `setpoint simulate`: replays recorded metrics through the engine core with a virtual clock
// and prints what the policies would have done: a timeline of events and a summary per policy.
#include <unistd.h>

#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "grammar/literal.h"
#include "interpreter/engine.h"
#include "runtime/effect_model.h"
#include "runtime/local_time.h"
#include "runtime/metrics_reader.h"
#include "runtime/policy_loader.h"
#include "runtime/recording.h"

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
  bool progress = isatty(STDERR_FILENO) && !json;
  int64_t total = (*to - *from) / step_ms + 1, done = 0;
  for (int64_t t = *from; t <= *to; t += step_ms) {
    // Samples arrive up to the evaluation time, as a scrape would deliver them.
    while (next < points.size() && points[next].t_ms <= t) {
      const Recording::Point& p = points[next++];
      double value = p.value;
      if (model) value = model->apply(recording.labels()[p.series], p.t_ms, value, changes);
      store.sample(ids[p.series], p.t_ms, value);
    }
    for (const Event& e : engine.evaluate(t)) {
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
    if (progress && ++done % 64 == 0) {
      std::cerr << "\r" << done * 100 / total << "% " << std::flush;
    }
  }
  if (progress) std::cerr << "\r     \r";
  if (json) return 0;
  std::cout << "\npolicy                          fired  applied  proposed  confirmed  "
               "inconclusive  regressed  rolled_back\n";
  for (const auto& [name, s] : summary) {
    char line[256];
    std::snprintf(line, sizeof line, "%-30s %6zu %8zu %9zu %10zu %13zu %10zu %12zu\n", name.c_str(),
                  s.fired, s.applied, s.proposed, s.confirmed, s.inconclusive, s.regressed,
                  s.rolled_back);
    std::cout << line;
    for (const auto& [reason, n] : s.skipped) {
      std::cout << "    skipped " << n << "x: " << reason << "\n";
    }
  }
  return 0;
}

}  // namespace setpoint
