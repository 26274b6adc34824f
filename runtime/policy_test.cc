// Policy unit tests: reading the TOML test format (docs/policy-tests.md) with TOML++, errors with
// file:line:col and a hint, and running one test file's series through the engine core.
#include "runtime/policy_test.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <set>

#include "grammar/literal.h"
#include "grammar/spelling.h"
#include "interpreter/engine.h"
#include "runtime/local_time.h"
#include "runtime/recording.h"
#include "runtime/toml_errors.h"

namespace setpoint {
namespace {

constexpr std::string_view kTopKeys[] = {"policies", "interval", "duration", "effects",
                                         "knobs",    "series",   "expect",   "never"};
constexpr std::string_view kExpectKeys[] = {"at", "policy", "event", "knob", "value", "instance"};
constexpr std::string_view kSeriesKeys[] = {"series", "values"};
// The events a run of the engine over series can give: not the daemon's (actuator failures) nor
// an operator's, which come between Paused and the recovery checks.
constexpr EventKind kLastKind = EventKind::Paused;
constexpr EventKind kRecoveryKinds[] = {EventKind::Recovered, EventKind::NotRecovered,
                                        EventKind::RecoveryUnknown};

// A run is bounded like a series: a million evaluations.
constexpr int64_t kMaxSteps = 1'000'000;

std::vector<std::string_view> candidates(const std::string_view* keys, size_t n) {
  return std::vector<std::string_view>(keys, keys + n);
}

class Reader : public TomlErrors {
 public:
  explicit Reader(const std::string& file) : TomlErrors(file) {}

  void document(const toml::table& root, PolicyTest& test) {
    std::filesystem::path dir = std::filesystem::path(test.path).parent_path();
    auto resolve = [&](const std::string& p) {
      std::filesystem::path path(p);
      return (path.is_absolute() || dir.empty() ? path : dir / path).lexically_normal().string();
    };
    bool have_policies = false;
    for (auto&& [key, node] : root) {
      std::string_view k = key.str();
      if (k == "policies") {
        have_policies = true;
        if (auto* s = node.as_string()) {
          test.policies.push_back(resolve(s->get()));
        } else if (auto* a = node.as_array()) {
          for (const toml::node& item : *a) {
            if (auto* s = item.as_string()) {
              test.policies.push_back(resolve(s->get()));
            } else {
              error(item.source(), "\"policies\" holds paths as strings",
                    "write policies = [\"caching.setpoint\"]");
            }
          }
          if (a->empty()) error(node.source(), "\"policies\" is empty", "name a .setpoint file");
        } else {
          error(node.source(), "\"policies\" must be an array of paths",
                "write policies = [\"caching.setpoint\"], relative to this file");
        }
      } else if (k == "interval") {
        if (duration(key, node, test.interval_ms) && test.interval_ms <= 0)
          error(node.source(), "\"interval\" must be positive", "write interval = \"15s\"");
      } else if (k == "duration") {
        int64_t ms = 0;
        if (duration(key, node, ms)) test.duration_ms = ms;
      } else if (k == "effects") {
        if (auto* s = node.as_string()) {
          test.effects = resolve(s->get());
        } else {
          error(node.source(), "\"effects\" must be a path",
                "write effects = \"effects.toml\", relative to this file");
        }
      } else if (k == "knobs") {
        knobs(node, test);
      } else if (k == "series" || k == "expect" || k == "never") {
        const toml::array* list = node.as_array();
        if (!list || !list->is_array_of_tables()) {
          error(key.source(), "\"" + std::string(k) + "\" must be an array of tables",
                "write each one as [[" + std::string(k) + "]], with double brackets");
          continue;
        }
        for (const toml::node& element : *list) {
          if (k == "series") {
            series(*element.as_table(), test);
          } else {
            expectation(*element.as_table(), k == "never", test);
          }
        }
      } else {
        std::string hint = did_you_mean(k, candidates(kTopKeys, std::size(kTopKeys)));
        error(key.source(), "unknown key \"" + std::string(k) + "\"",
              hint.empty() ? "a test file holds policies, interval, duration, effects, [knobs], "
                             "[[series]], [[expect]] and [[never]]"
                           : hint);
      }
    }
    if (!have_policies)
      error(root.source(), "the test names no policies",
            "add policies = [\"caching.setpoint\"], relative to this file");
  }

 private:
  bool duration(const toml::key& key, const toml::node& node, int64_t& ms) {
    std::string name(key.str());
    const auto* s = node.as_string();
    if (!s) {
      std::string hint = "write " + name + " = \"1m\"";
      if (auto* i = node.as_integer())
        hint = "write " + name + " = \"" + std::to_string(i->get()) + "s\" for seconds";
      error(node.source(), "\"" + name + "\" must be a duration string", hint);
      return false;
    }
    NumberLiteral n = decode_number(s->get());
    const std::string usual = "durations look like 15s, 5m or 1h30m";
    if (!n.ok || (n.unit != Unit::Seconds && !(n.unit == Unit::None && n.value == 0)) ||
        !(n.value >= 0)) {
      error(node.source(), "\"" + name + "\" is not a duration: \"" + s->get() + "\"",
            n.ok || n.hint.empty() ? usual : n.hint);
      return false;
    }
    if (!(n.value <= 10.0 * 365 * 86400)) {
      error(node.source(), "\"" + name + "\" is longer than 10 years", usual);
      return false;
    }
    ms = std::llround(n.value * 1000);
    return true;
  }

  // A knob value: a number, or a string with units as in policies ("60s", "80%", "1GiB").
  bool value(const toml::node& node, std::string_view name, double& out) {
    if (auto* f = node.as_floating_point()) {
      out = f->get();
    } else if (auto* i = node.as_integer()) {
      out = static_cast<double>(i->get());
    } else if (auto* s = node.as_string()) {
      NumberLiteral n = decode_number(s->get());
      if (!n.ok) {
        error(
            node.source(), "\"" + std::string(name) + "\" is not a value: \"" + s->get() + "\"",
            n.hint.empty() ? "write a number, or one with units as in policies: \"60s\"" : n.hint);
        return false;
      }
      out = n.value;
    } else {
      error(node.source(), "\"" + std::string(name) + "\" must be a number or a string",
            "write 20, or with units as in policies: \"60s\"");
      return false;
    }
    if (!std::isfinite(out)) {
      error(node.source(), "\"" + std::string(name) + "\" must be finite");
      return false;
    }
    return true;
  }

  void knobs(const toml::node& node, PolicyTest& test) {
    const toml::table* t = node.as_table();
    if (!t) {
      error(node.source(), "\"knobs\" must be a table",
            "write [knobs] and then cache_ttl = \"60s\"");
      return;
    }
    for (auto&& [key, v] : *t) {
      double x = 0;
      if (value(v, key.str(), x)) test.knobs.emplace_back(std::string(key.str()), x);
    }
  }

  const std::string* string(const toml::table& table, std::string_view key, std::string hint) {
    const toml::node* node = table.get(key);
    if (!node) return nullptr;
    if (auto* s = node->as_string()) return &s->get();
    error(node->source(), "\"" + std::string(key) + "\" must be a string", std::move(hint));
    return nullptr;
  }

  void unknown_keys(const toml::table& table, const std::string_view* keys, size_t n,
                    std::string_view where) {
    for (auto&& [key, node] : table) {
      if (std::find(keys, keys + n, key.str()) != keys + n) continue;
      std::string hint = did_you_mean(key.str(), candidates(keys, n));
      std::string known;
      for (size_t i = 0; i < n; ++i) known += (i ? ", " : "") + std::string(keys[i]);
      error(key.source(), "unknown key \"" + std::string(key.str()) + "\" in " + std::string(where),
            hint.empty() ? "it takes " + known : hint);
    }
  }

  void series(const toml::table& table, PolicyTest& test) {
    unknown_keys(table, kSeriesKeys, std::size(kSeriesKeys), "[[series]]");
    const std::string* s = string(table, "series", "write series = 'up{job=\"api\"}'");
    const std::string* v = string(table, "values", "write values = '0+10x60'");
    if (!table.get("series"))
      error(table.source(), "[[series]] has no \"series\"", "write series = 'up{job=\"api\"}'");
    if (!table.get("values"))
      error(table.source(), "[[series]] has no \"values\"", "write values = '0+10x60'");
    if (!s || !v) return;
    std::string message;
    std::optional<SeriesDesc> desc = parse_series_desc(*s, *v, &message);
    if (!desc) {
      // The message says which of the two strings and the byte offset within it.
      const toml::node* at = table.get(message.rfind("values", 0) == 0 ? "values" : "series");
      error(at->source(), message,
            "series are written as in promtool: metric{label=\"value\"} and values such as "
            "'0+10x60 _x3 stale'");
      return;
    }
    test.series.push_back(std::move(*desc));
  }

  void expectation(const toml::table& table, bool never, PolicyTest& test) {
    std::string where = never ? "[[never]]" : "[[expect]]";
    size_t keys = never ? std::size(kExpectKeys) - 1 : std::size(kExpectKeys);
    const std::string_view* names = never ? kExpectKeys + 1 : kExpectKeys;
    unknown_keys(table, names, keys, where);
    ExpectedEvent e;
    e.never = never;
    e.line = table.source().begin.line;
    e.column = table.source().begin.column;
    bool ok = true;
    if (never && table.get("at")) {
      // Reported above as an unknown key of [[never]]; the table is left out.
      ok = false;
    }
    if (!never) {
      if (const toml::node* at = table.get("at")) {
        ok &= duration(toml::key("at"), *at, e.at_ms);
      } else {
        error(table.source(), "[[expect]] has no \"at\"",
              "write at = \"5m\": the event's time from the start");
        ok = false;
      }
    }
    if (const std::string* p = string(table, "policy", "write policy = \"name\"")) {
      e.policy = *p;
      e.policy_line = table.get("policy")->source().begin.line;
      e.policy_column = table.get("policy")->source().begin.column;
    } else {
      if (!table.get("policy"))
        error(table.source(), where + " has no \"policy\"", "write policy = \"name\"");
      ok = false;
    }
    if (const std::string* k = string(table, "event", "write event = \"applied\"")) {
      std::vector<std::string_view> kinds;
      bool found = false;
      std::vector<EventKind> testable;
      for (size_t i = 0; i <= static_cast<size_t>(kLastKind); ++i)
        testable.push_back(static_cast<EventKind>(i));
      testable.insert(testable.end(), std::begin(kRecoveryKinds), std::end(kRecoveryKinds));
      for (EventKind kind : testable) {
        const char* name = event_kind_name(kind);
        kinds.push_back(name);
        if (*k == name) {
          e.kind = kind;
          found = true;
        }
      }
      if (!found) {
        std::string hint = did_you_mean(*k, kinds);
        error(table.get("event")->source(), "unknown event \"" + *k + "\"",
              hint.empty() ? "events are pending, firing, applied, rolled_back, confirmed, ..."
                           : hint);
        ok = false;
      }
    } else {
      if (!table.get("event"))
        error(table.source(), where + " has no \"event\"", "write event = \"applied\"");
      ok = false;
    }
    if (table.get("knob")) {
      if (const std::string* k = string(table, "knob", "write knob = \"cache_ttl\"")) {
        e.knob = *k;
      } else {
        ok = false;
      }
    }
    if (const toml::node* v = table.get("value")) {
      double x = 0;
      if (value(*v, "value", x)) {
        e.value = x;
      } else {
        ok = false;
      }
    }
    if (const toml::node* node = table.get("instance")) {
      if (const toml::table* labels = node->as_table()) {
        Labels instance;
        for (auto&& [name, v] : *labels) {
          if (auto* s = v.as_string()) {
            instance.push_back({std::string(name.str()), s->get()});
          } else {
            error(v.source(), "label values are strings", "write instance = { job = \"api\" }");
            ok = false;
          }
        }
        normalize_labels(instance);
        e.instance = std::move(instance);
      } else {
        error(node->source(), "\"instance\" must be a table of labels",
              "write instance = { job = \"api\" }");
        ok = false;
      }
    }
    if (ok) test.expectations.push_back(std::move(e));
  }
};

}  // namespace

std::optional<PolicyTest> parse_policy_test(std::string_view toml_text, const std::string& path,
                                            std::vector<std::string>& errors) {
  Reader reader(path);
  PolicyTest test;
  test.path = path;
  try {
    toml::table root = toml::parse(toml_text, path);
    reader.document(root, test);
  } catch (const toml::parse_error& e) {
    reader.error(e.source(), "invalid TOML: " + std::string(e.description()),
                 "see https://toml.io for the syntax");
  }
  reader.flush(errors);
  if (reader.failed()) return std::nullopt;
  return test;
}

std::vector<std::string> expand_test_paths(const std::vector<std::string>& paths,
                                           std::vector<std::string>& errors) {
  namespace fs = std::filesystem;
  std::set<std::string> found;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      fs::recursive_directory_iterator it(p, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (it->is_regular_file(ec) && name.find("test") != std::string::npos && name.size() > 5 &&
            name.ends_with(".toml"))
          found.insert(it->path().string());
      }
      if (ec) errors.push_back(p + ": " + ec.message());
    } else if (fs::exists(p, ec)) {
      found.insert(p);
    } else {
      errors.push_back(p + ": no such file or directory");
    }
  }
  return std::vector<std::string>(found.begin(), found.end());
}

bool matches(const ExpectedEvent& e, const Event& event) {
  if (event.policy != e.policy || event.kind != e.kind) return false;
  if (e.knob && event.knob != *e.knob) return false;
  if (e.value) {
    double scale = std::max(std::fabs(*e.value), std::fabs(event.to));
    if (std::isnan(event.to) || !(std::fabs(event.to - *e.value) <= 1e-9 * scale)) return false;
  }
  if (e.instance && event.instance != *e.instance) return false;
  return true;
}

PolicyTestRun run_policy_test(const PolicyTest& test, const PolicySet& set, EffectModel* model,
                              std::vector<std::string>& errors) {
  PolicyTestRun run;
  auto where = [&](uint32_t line, uint32_t column) {
    return test.path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
  };
  std::vector<std::string_view> policies;
  for (const PolicyPlan& plan : set.compiled.policies) policies.push_back(plan.name);
  for (const ExpectedEvent& e : test.expectations) {
    if (std::find(policies.begin(), policies.end(), e.policy) != policies.end()) continue;
    std::string hint = did_you_mean(e.policy, policies);
    errors.push_back(where(e.policy_line, e.policy_column) + "no policy \"" + e.policy +
                     "\" in the test's policies; hint: " +
                     (hint.empty() ? "name a policy or emergency of the loaded files" : hint));
  }
  for (const auto& [name, value] : test.knobs) {
    bool declared = false;
    for (const KnobInfo& info : set.program.knobs) declared |= info.name == name;
    if (!declared)
      errors.push_back(test.path + ": [knobs] " + name +
                       ": no policy declares that knob; hint: knobs are declared with `knob`");
  }

  // The series in time order, so each evaluation sees only what a scrape would have delivered.
  Recording recording;
  int64_t longest = 0;
  for (const SeriesDesc& s : test.series) {
    feed_series(s, 0, test.interval_ms, recording);
    if (!s.values.empty())
      longest = std::max(longest, static_cast<int64_t>(s.values.size() - 1) * test.interval_ms);
  }
  recording.finish();
  int64_t duration = test.duration_ms.value_or(longest);
  if (duration / test.interval_ms > kMaxSteps)
    errors.push_back(test.path + ": the run has more than a million evaluations; hint: use a " +
                     "longer interval or a shorter duration");
  if (!errors.empty()) return run;

  WindowStore store;
  EngineOptions options;
  options.local_time = system_local_time;
  Engine engine(set.modules, set.program, set.compiled, store, options);
  for (const auto& [name, value] : test.knobs) engine.set_knob(name, value);
  const auto& points = recording.points();
  std::vector<uint32_t> ids(recording.labels().size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = store.series(recording.labels()[i]);
  std::vector<KnobChange> changes;
  size_t next = 0;
  for (int64_t t = 0; t <= duration; t += test.interval_ms) {
    while (next < points.size() && points[next].t_ms <= t) {
      const Recording::Point& p = points[next++];
      double value = p.value;
      if (model) value = model->apply(recording.labels()[p.series], p.t_ms, value, changes);
      store.sample(ids[p.series], p.t_ms, value);
    }
    for (Event& e : engine.evaluate(t)) {
      if (e.kind == EventKind::Applied || e.kind == EventKind::RolledBack)
        changes.push_back({e.t_ms, e.knob, e.from, e.to});
      run.events.push_back(std::move(e));
    }
  }

  for (const ExpectedEvent& e : test.expectations) {
    ExpectedEventResult r;
    r.expectation = &e;
    if (e.never) {
      r.passed = true;
      for (const Event& ev : run.events) {
        if (matches(e, ev)) {
          r.passed = false;
          r.actual.push_back(ev);
        }
      }
    } else {
      for (const Event& ev : run.events) r.passed |= ev.t_ms == e.at_ms && matches(e, ev);
      if (!r.passed) {
        int64_t span = 2 * test.interval_ms;
        for (const Event& ev : run.events) {
          if (ev.policy == e.policy && ev.t_ms >= e.at_ms - span && ev.t_ms <= e.at_ms + span)
            r.actual.push_back(ev);
        }
        if (r.actual.empty()) {
          for (const Event& ev : run.events)
            if (ev.policy == e.policy) r.actual.push_back(ev);
        }
      }
    }
    run.failed += !r.passed;
    run.results.push_back(std::move(r));
  }
  return run;
}

std::string offset_text(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out = ms < 0 ? "-" : "";
  uint64_t v = ms < 0 ? -static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  uint64_t h = v / 3'600'000, m = v / 60'000 % 60, s = v / 1000 % 60, rest = v % 1000;
  if (h) out += std::to_string(h) + "h";
  if (m) out += std::to_string(m) + "m";
  if (s) out += std::to_string(s) + "s";
  if (rest) out += std::to_string(rest) + "ms";
  return out;
}

}  // namespace setpoint
