// The static analysis of a compiled policy set: knob tug-of-war (W0701), flapping (W0702),
// equal priorities (W0703), when policies are proven apart, and validation exclusions.
#include <catch2/catch.hpp>

#include "interpreter/program.h"
#include "runtime/policy_loader.h"
#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;
using Report = std::vector<std::string>;

namespace {

// Five lines; the first policy's header is on line 7.
const char* kPrelude =
    "let cpu = avg(rate(process_cpu_seconds_total[1m]))\n"
    "let memory = max(container_memory_working_set_bytes / container_spec_memory_limit_bytes)\n"
    "let latency = histogram_quantile(0.95, sum by (le) (rate(request_seconds_bucket[5m])))\n"
    "knob replicas : int in 1..100\n"
    "knob cache_ttl : duration in 0s..1h\n";

// Five lines plus one per line of `extra`, after a blank line: the action is on the third.
std::string policy(const std::string& name, const std::string& trigger, const std::string& action,
                   const std::string& extra = "") {
  return "\npolicy " + name + " {\n  trigger " + trigger + " for 5m\n  action " + action +
         "\n  expect latency decreases by 10% within 10m\n" + extra + "}\n";
}

// "line:col CODE message" for each diagnostic, then "  line:col note: message" for its notes.
Report report(const Checked& c) {
  Report out;
  auto at = [](const std::shared_ptr<const SourceFile>& file, Span span) {
    Position p = file->position(span.begin);
    return file->path() + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
  };
  for (const Diagnostic& d : c.diagnostics.list()) {
    out.push_back(at(d.file, d.span) + " " + std::string(code_info(d.code).id) + " " + d.message);
    for (const Note& n : d.notes) out.push_back("  " + at(n.file, n.span) + " note: " + n.message);
  }
  return out;
}

Report analyse(const std::string& policies) { return report(check_text(kPrelude + policies)); }

// Just "line:col CODE" of each diagnostic.
using Where = std::vector<std::string>;
Where where(const std::string& policies) {
  Checked c = check_text(kPrelude + policies);
  Where out;
  for (const Diagnostic& d : c.diagnostics.list()) {
    Position p = d.file->position(d.span.begin);
    out.push_back(std::to_string(p.line) + ":" + std::to_string(p.column) + " " +
                  std::string(code_info(d.code).id));
  }
  return out;
}

std::string hint(const std::string& policies) {
  Checked c = check_text(kPrelude + policies);
  REQUIRE(c.diagnostics.list().size() == 1);
  return c.diagnostics.list()[0].hint;
}

Program compiled(const std::vector<std::string>& texts) {
  Checked c = check_texts(texts);
  REQUIRE_FALSE(c.diagnostics.has_errors());
  Program program;
  Diagnostics again;
  check_policy_set(c.modules, again, &program);
  return program;
}

std::vector<std::pair<std::string, std::string>> exclusions(const Program& p) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto [a, b] : p.validation_exclusions) {
    out.emplace_back(p.policies[a].name, p.policies[b].name);
  }
  return out;
}

}  // namespace

TEST_CASE("two policies that can act at once and move a knob both ways are a tug of war") {
  CHECK(analyse(policy("grow", "latency > 500ms", "set replicas = replicas + 2") +
                policy("shrink", "cpu < 20%", "set replicas = replicas - 1")) ==
        Report{"a.setpoint:15:3 W0701 'grow' and 'shrink' can act at the same time and move "
               "'replicas' in opposite directions",
               "  a.setpoint:9:3 note: 'grow' raises 'replicas' here"});
  CHECK(hint(policy("grow", "latency > 500ms", "set replicas = replicas + 2") +
             policy("shrink", "cpu < 20%", "set replicas = replicas - 1")) ==
        "make their conditions exclusive, with a gap, as in `cpu > 80%` and `cpu < 60%`");
}

TEST_CASE("thresholds that touch with no gap between them flap") {
  CHECK(analyse(policy("up", "cpu > 80%", "set replicas = replicas + 1") +
                policy("down", "cpu <= 80%", "set replicas = replicas - 1")) ==
        Report{"a.setpoint:15:3 W0702 'up' and 'down' move 'replicas' in opposite directions on "
               "thresholds with no gap: `cpu > 80%` and `cpu <= 80%`",
               "  a.setpoint:9:3 note: 'up' raises 'replicas' here"});
  // `<` and `>` on one value touch too: nothing is left between them.
  CHECK(where(policy("up", "cpu > 80%", "set replicas = replicas + 1") +
              policy("down", "cpu < 80%", "set replicas = replicas - 1")) == Where{"15:3 W0702"});
  // A knob's own value flaps as surely as a metric does.
  CHECK(
      where(policy("up", "latency > 1s", "set replicas = replicas + 1", "  when replicas < 10\n") +
            policy("down", "latency > 1s", "set replicas = replicas - 1",
                   "  when replicas >= 10\n")) == Where{"16:3 W0702"});
}

TEST_CASE("equal priorities on one knob with no after between them are reported") {
  CHECK(analyse(policy("a", "latency > 500ms", "set cache_ttl = cache_ttl * 2", "  priority 50\n") +
                policy("b", "cpu > 50%", "set cache_ttl = clamp(cache_ttl + 1m, 0s, 1h)",
                       "  priority 50\n")) ==
        Report{"a.setpoint:16:3 W0703 'a' and 'b' can set 'cache_ttl' at the same time with the "
               "same priority 50, in no set order",
               "  a.setpoint:9:3 note: 'a' raises 'cache_ttl' here"});
  CHECK(hint(policy("a", "latency > 500ms", "set cache_ttl = cache_ttl * 2") +
             policy("b", "cpu > 50%", "set cache_ttl = 5m")) ==
        "give one a higher priority, or add `after a` to 'b'");
}

TEST_CASE("different priorities, or an after, settle who sets the knob first") {
  CHECK(analyse(policy("a", "latency > 500ms", "set cache_ttl = cache_ttl * 2", "  priority 50\n") +
                policy("b", "cpu > 50%", "set cache_ttl = 5m", "  priority 40\n")) == Report{});
  CHECK(analyse(policy("a", "latency > 500ms", "set cache_ttl = cache_ttl * 2") +
                policy("b", "cpu > 50%", "set cache_ttl = 5m", "  after a\n")) == Report{});
  // Through a third policy: c after b after a.
  CHECK(analyse(policy("a", "latency > 500ms", "set cache_ttl = cache_ttl * 2") +
                policy("b", "cpu > 50%", "notify \"b\"", "  after a\n") +
                policy("c", "cpu > 60%", "set cache_ttl = 5m", "  after b\n")) == Report{});
}

TEST_CASE("policies whose conditions exclude each other with a gap are sound") {
  CHECK(analyse(policy("up", "cpu > 80%", "set replicas = replicas + 1") +
                policy("down", "cpu < 60%", "set replicas = replicas - 1")) == Report{});
  // Written the other way round: `60% > cpu` is `cpu < 60%`.
  CHECK(analyse(policy("up", "80% < cpu", "set replicas = replicas + 1") +
                policy("down", "60% > cpu", "set replicas = replicas - 1")) == Report{});
  // Equal priorities never meet either.
  CHECK(analyse(policy("up", "cpu >= 80%", "set replicas = 10") +
                policy("down", "cpu < 60%", "set replicas = 10")) == Report{});
  // The `when` of one against the trigger of the other.
  CHECK(analyse(policy("up", "latency > 1s", "set replicas = replicas + 1", "  when cpu < 50%\n") +
                policy("down", "cpu > 90%", "set replicas = replicas - 1")) == Report{});
}

TEST_CASE("an or is apart only when every case is, an and when any part is") {
  // Each side of the `or` is kept apart by one side of the `and`.
  CHECK(analyse(policy("out", "cpu > 80% or memory > 80%", "set replicas = replicas + 1") +
                policy("in", "cpu < 40% and memory < 40%", "set replicas = replicas - 1")) ==
        Report{});
  // memory > 80% can hold while cpu < 40% does.
  CHECK(where(policy("out", "cpu > 80% or memory > 80%", "set replicas = replicas + 1") +
              policy("in", "cpu < 40%", "set replicas = replicas - 1")) == Where{"15:3 W0701"});
  // An `or` on both sides, with `and`s inside.
  CHECK(analyse(policy("out", "(cpu > 80% and latency > 1s) or memory > 90%",
                       "set replicas = replicas + 1") +
                policy("in", "memory < 50% and (cpu < 30% or latency < 100ms)",
                       "set replicas = replicas - 1")) == Report{});
  // `unless` holds only where its left side does.
  CHECK(analyse(policy("out", "cpu > 80% unless memory > 95%", "set replicas = replicas + 1") +
                policy("in", "cpu < 40%", "set replicas = replicas - 1")) == Report{});
  // The flapping case hides in one side of the `or`: memory is apart, cpu only touches.
  CHECK(analyse(policy("out", "cpu > 80% or memory > 80%", "set replicas = replicas + 1") +
                policy("in", "cpu <= 80% and memory < 40%", "set replicas = replicas - 1")) ==
        Report{"a.setpoint:15:3 W0702 'out' and 'in' move 'replicas' in opposite directions on "
               "thresholds with no gap: `cpu > 80%` and `cpu <= 80%`",
               "  a.setpoint:9:3 note: 'out' raises 'replicas' here"});
}

TEST_CASE("a condition on an expression with several series excludes nothing") {
  // One instance can be above 80% while another is below 60%, and the knob is one value.
  std::string text = "let node_cpu = avg by (instance) (rate(process_cpu_seconds_total[1m]))\n" +
                     policy("up", "node_cpu > 80%", "set replicas = replicas + 1") +
                     policy("down", "node_cpu < 60%", "set replicas = replicas - 1");
  CHECK(where(text) == Where{"16:3 W0701"});
  CHECK(hint(text) ==
        "`node_cpu` has several series, and the conditions can hold for different ones at once: "
        "compare one series, as in `max(node_cpu)`");
  // A bare metric may have several series too.
  CHECK(where(policy("up", "load1 > 8", "set replicas = replicas + 1") +
              policy("down", "load1 < 2", "set replicas = replicas - 1")) == Where{"15:3 W0701"});
  CHECK(hint(policy("up", "rate(load_total[5m]) > 8", "set replicas = replicas + 1") +
             policy("down", "rate(load_total[5m]) < 2", "set replicas = replicas - 1")) ==
        "`rate(load_total[5m])` has several series, and the conditions can hold for different "
        "ones at once: compare one series, as in `max(rate(load_total[5m]))`");
  // Aggregated to one series, the gap holds: max over instances, or a quantile of a histogram
  // summed by `le` alone.
  CHECK(analyse("let top_cpu = max(avg by (instance) (rate(process_cpu_seconds_total[1m])))\n" +
                policy("up", "top_cpu > 80%", "set replicas = replicas + 1") +
                policy("down", "top_cpu < 60%", "set replicas = replicas - 1")) == Report{});
  CHECK(analyse(policy("up", "latency > 1s", "set replicas = replicas + 1") +
                policy("down", "latency < 200ms", "set replicas = replicas - 1")) == Report{});
}

TEST_CASE("directions are read through clamp, rounding, constants and either operand order") {
  // knob * 2 and 2 * knob both raise it: the same direction, so only the priority matters.
  CHECK(where(policy("a", "latency > 1s", "set cache_ttl = cache_ttl * 2") +
              policy("b", "cpu > 50%", "set cache_ttl = 2 * cache_ttl")) == Where{"15:3 W0703"});
  CHECK(where(policy("a", "latency > 1s", "set cache_ttl = 2 * cache_ttl") +
              policy("b", "cpu > 50%", "set cache_ttl = cache_ttl / 2")) == Where{"15:3 W0701"});
  CHECK(analyse(policy("a", "latency > 1s", "set replicas = clamp(ceil(replicas * 1.5), 2, 50)") +
                policy("b", "cpu < 20%", "set replicas = clamp(floor(replicas * 0.75), 2, 50)")) ==
        Report{"a.setpoint:15:3 W0701 'a' and 'b' can act at the same time and move 'replicas' "
               "in opposite directions",
               "  a.setpoint:9:3 note: 'a' raises 'replicas' here"});
  // Adding a negative number lowers the knob; 8 + knob raises it.
  CHECK(where(policy("a", "latency > 1s", "set replicas = 8 + replicas") +
              policy("b", "cpu < 20%", "set replicas = replicas + -1")) == Where{"15:3 W0701"});
  // Two constants pull towards different values.
  CHECK(analyse(policy("a", "latency > 1s", "set replicas = 10") +
                policy("b", "cpu < 20%", "set replicas = 2")) ==
        Report{"a.setpoint:15:3 W0701 'a' and 'b' can act at the same time and move 'replicas' "
               "in opposite directions",
               "  a.setpoint:9:3 note: 'a' sets 'replicas' to 10 here"});
  // A value computed from a metric has no known direction: only the priority is checked.
  CHECK(analyse(policy("a", "latency > 1s", "set replicas = replicas + 1", "  priority 2\n") +
                policy("b", "cpu < 20%", "set replicas = clamp(ceil(queue_depth / 10), 1, 100)",
                       "  priority 1\n")) == Report{});
}

TEST_CASE("run and notify actions, and emergencies, take no part") {
  CHECK(analyse(policy("a", "latency > 1s", "run restart(grace = 30s)") +
                policy("b", "latency > 1s", "notify ops \"slow\"") +
                policy("c", "latency > 1s", "set replicas = replicas + 1")) == Report{});
  CHECK(analyse(policy("a", "latency > 1s", "set replicas = replicas + 1") +
                "\nemergency e {\n  trigger latency > 1s for 5m\n  action set replicas = 1\n}\n") ==
        Report{});
}

TEST_CASE("during windows that never overlap keep policies apart") {
  std::string day = "  during \"Mon-Fri 08:00-20:00 Europe/Berlin\"\n";
  std::string night = "  during \"Mon-Fri 20:00-08:00 Europe/Berlin\"\n";
  CHECK(analyse(policy("day", "latency > 1s", "set replicas = 10", day) +
                policy("night", "latency > 1s", "set replicas = 2", night)) == Report{});
  // The same hours in another zone may overlap.
  CHECK(where(policy("day", "latency > 1s", "set replicas = 10", day) +
              policy("night", "latency > 1s", "set replicas = 2",
                     "  during \"Mon-Fri 20:00-08:00\"\n")) == Where{"16:3 W0701"});
  // Sunday night wraps into Monday morning, where the day window starts at 07:00.
  CHECK(where(policy("day", "latency > 1s", "set replicas = 10",
                     "  during \"Mon-Fri 07:00-20:00\"\n") +
              policy("night", "latency > 1s", "set replicas = 2",
                     "  during \"Sat,Sun 20:00-08:00\"\n")) == Where{"16:3 W0701"});
}

TEST_CASE("each action is reported once per code, against the first policy it meets") {
  CHECK(analyse(policy("a", "latency > 1s", "set replicas = replicas + 1") +
                policy("b", "cpu > 50%", "set replicas = replicas + 2") +
                policy("c", "memory > 50%", "set replicas = replicas + 3")) ==
        Report{"a.setpoint:15:3 W0703 'a' and 'b' can set 'replicas' at the same time with the "
               "same priority 0, in no set order",
               "  a.setpoint:9:3 note: 'a' raises 'replicas' here",
               "a.setpoint:21:3 W0703 'a' and 'c' can set 'replicas' at the same time with the "
               "same priority 0, in no set order",
               "  a.setpoint:9:3 note: 'a' raises 'replicas' here"});
}

TEST_CASE("a conflict across files is reported in the later file with a note in the earlier") {
  Checked c = check_texts({kPrelude + policy("grow", "latency > 500ms", "set replicas = 5"),
                           std::string(kPrelude).substr(0, std::string(kPrelude).find("knob")) +
                               policy("shrink", "cpu < 20%", "set replicas = 2")});
  CHECK(report(c) == Report{"b.setpoint:7:3 W0701 'grow' and 'shrink' can act at the same time "
                            "and move 'replicas' in opposite directions",
                            "  a.setpoint:9:3 note: 'grow' sets 'replicas' to 5 here"});
}

TEST_CASE("policies whose expectations may read a series in common are validated apart") {
  std::string knobs = "knob a : int in 0..10\nknob b : int in 0..10\nknob c : int in 0..10\n";
  auto p = [](const std::string& name, const std::string& expect) {
    return "policy " + name + " {\n  trigger up == 0 for 5m\n  action set " + name + " = " + name +
           " + 1\n  expect " + expect + " decreases by 10% within 10m\n}\n";
  };
  // Different selectors of one metric are in common; another metric is not.
  Program prog = compiled({knobs + p("a", "sum(rate(http_requests_total{code=\"500\"}[5m]))") +
                           p("b", "http_requests_total{job=\"api\"}") +
                           p("c", "avg(process_resident_memory_bytes)")});
  CHECK(exclusions(prog) == std::vector<std::pair<std::string, std::string>>{{"a", "b"}});
  // Selectors that ask for different values of one label select no series in common; a name
  // given as `__name__` is the metric's name; the same selector in two policies is in common.
  prog = compiled({knobs + p("a", "sum(rate(http_requests_total{job=\"api\"}[5m]))") +
                   p("b", "sum(rate(http_requests_total{job=\"web\", code=\"500\"}[5m]))") +
                   p("c", "sum(rate({__name__=\"http_requests_total\", code=\"500\"}[5m]))")});
  CHECK(exclusions(prog) ==
        std::vector<std::pair<std::string, std::string>>{{"a", "c"}, {"b", "c"}});
  prog = compiled(
      {knobs + p("a", "up{job=\"api\"}") + p("b", "up{job=\"api\"}") + p("c", "up{job=\"web\"}")});
  CHECK(exclusions(prog) == std::vector<std::pair<std::string, std::string>>{{"a", "b"}});
  // Across files, and through lets.
  prog = compiled({knobs + "let mem = avg(process_resident_memory_bytes)\n" + p("a", "mem"),
                   p("b", "max(process_resident_memory_bytes)") + p("c", "up")});
  CHECK(exclusions(prog) == std::vector<std::pair<std::string, std::string>>{{"a", "b"}});
  // A selector without a fixed name may read any metric.
  prog = compiled({knobs + p("a", "sum(rate({__name__=~\"http_.*\"}[5m]))") + p("b", "up") +
                   p("c", "avg(process_resident_memory_bytes)")});
  CHECK(exclusions(prog) ==
        std::vector<std::pair<std::string, std::string>>{{"a", "b"}, {"a", "c"}});
  // Policies without expectations are never validated.
  prog = compiled(
      {"policy n {\n  trigger up == 0 for 5m\n  action notify \"x\"\n}\n" + knobs + p("a", "up")});
  CHECK(exclusions(prog).empty());
}

TEST_CASE("many ors are not split when what holds outside them is already apart") {
  // 2^14 cases if each `or` were split; the comparison outside them settles it at once.
  std::string many = "cpu > 80%";
  for (int i = 0; i < 14; ++i) {
    many += " and (queue_" + std::to_string(i) + " > 1 or wait_" + std::to_string(i) + " > 1)";
  }
  CHECK(analyse(policy("up", many, "set replicas = replicas + 1") +
                policy("down", "cpu < 60%", "set replicas = replicas - 1")) == Report{});
  // The same ors against a condition they do not exclude: one case is enough to tell.
  CHECK(where(policy("up", many, "set replicas = replicas + 1") +
              policy("down", "latency > 1s", "set replicas = replicas - 1")) ==
        Where{"15:3 W0701"});
}

TEST_CASE("a comparison that no value passes never lets its policy act") {
  // `replicas < -Inf` touches `replicas <= 10` only at -Inf, where no value is.
  CHECK(analyse(policy("never", "replicas < -Inf", "set replicas = 5") +
                policy("down", "replicas <= 10", "set replicas = 10")) == Report{});
  CHECK(analyse(policy("never", "cpu > 50% and replicas > Inf", "set replicas = replicas + 1") +
                policy("down", "latency > 1s", "set replicas = replicas - 1")) == Report{});
  // `replicas >= Inf` holds at Inf: it and `replicas < Inf` do touch.
  CHECK(where(policy("top", "replicas >= Inf", "set replicas = 5") +
              policy("rest", "replicas < Inf", "set replicas = 10")) == Where{"15:3 W0702"});
}
