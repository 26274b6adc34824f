#include <catch2/catch.hpp>

#include "interpreter/program.h"
#include "runtime/policy_loader.h"
#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

struct Compiled {
  Checked checked;
  Program program;
};

Compiled compile(const std::vector<std::string>& texts) {
  Compiled c{check_texts(texts), {}};
  REQUIRE_FALSE(c.checked.diagnostics.has_errors());
  c.program = compile_program(c.checked.modules, c.checked.program, c.checked.diagnostics);
  return c;
}

size_t count(const Program& p, NodeKind kind) {
  size_t n = 0;
  for (NodeId v : p.order) n += p.graph[v].kind == kind;
  return n;
}

std::string policy(const std::string& name, const std::string& trigger,
                   const std::string& extra = "") {
  return "policy " + name + " {\n  trigger " + trigger + " for 5m\n  action notify \"x\"\n" +
         extra + "}\n";
}

}  // namespace

TEST_CASE("a let used by several policies is one node, named after the let") {
  Compiled c = compile({"let p95 = quantile_over_time(0.95, x_seconds[5m])\n" +
                        policy("a", "p95 > 1s") + policy("b", "p95 > 2s")});
  const Program& p = c.program;
  CHECK(count(p, NodeKind::Function) == 1);
  CHECK(count(p, NodeKind::Selector) == 1);
  CHECK(count(p, NodeKind::Binary) == 2);  // different thresholds are different comparisons
  CHECK(count(p, NodeKind::Trigger) == 2);
  NodeId quantile = kNoNode;
  for (NodeId v : p.order) {
    if (p.graph[v].kind == NodeKind::Function) quantile = v;
  }
  REQUIRE(quantile != kNoNode);
  CHECK(p.graph[quantile].names == std::vector<std::string>{"p95"});
  CHECK(p.graph[quantile].uses == 2);
  CHECK(boost::out_degree(quantile, p.graph) == 2);
}

TEST_CASE("equal expressions are one node across files after normalisation") {
  Compiled c = compile(
      {policy("a", "rate(http_requests_total{code=\"500\", job=\"api\"}[300s]) > 1"),
       policy("b", "(rate(http_requests_total{job=\"api\",code=\"500\"}[5m])) > 1"),
       policy("c", "rate({__name__=\"http_requests_total\", job=\"api\", code=\"500\"}[5m]) > 1")});
  const Program& p = c.program;
  CHECK(count(p, NodeKind::Selector) == 1);
  CHECK(count(p, NodeKind::Range) == 1);
  CHECK(count(p, NodeKind::Function) == 1);
  CHECK(count(p, NodeKind::Binary) == 1);
  CHECK(count(p, NodeKind::Trigger) == 1);  // same condition and hold: shared too
  CHECK(count(p, NodeKind::Policy) == 3);
  CHECK(p.expressions_written == 15);
  CHECK(p.expressions_compiled == 5);
}

TEST_CASE("numbers are shared by value whatever their unit spelling, grouping labels by set") {
  Compiled c = compile({policy("a", "sum by (job, instance) (x_seconds) > 500ms"),
                        policy("b", "sum by (instance, job) (x_seconds) > 0.5s")});
  CHECK(count(c.program, NodeKind::Aggregation) == 1);
  CHECK(count(c.program, NodeKind::Number) == 1);
  CHECK(count(c.program, NodeKind::Binary) == 1);
}

TEST_CASE("actions feed the knobs they set: reading a knob is a separate node") {
  Compiled c =
      compile({"knob pool : int in 1..100\n"
               "policy a {\n  trigger x > 1 for 5m\n  action set pool = pool + 1\n"
               "  expect x decreases by 5% within 5m\n}\n"
               "policy b {\n  trigger y > 1 for 5m\n  action set pool = pool - 1\n"
               "  expect y decreases by 5% within 5m\n}\n"});
  const Program& p = c.program;
  CHECK(count(p, NodeKind::Knob) == 1);
  CHECK(count(p, NodeKind::KnobValue) == 1);
  CHECK(count(p, NodeKind::Action) == 2);
  for (NodeId v : p.order) {
    if (p.graph[v].kind == NodeKind::Knob) CHECK(boost::in_degree(v, p.graph) == 2);
  }
}

TEST_CASE("the order puts every input before what consumes it, policies after what they wait for") {
  Compiled c = compile({policy("late", "x > 1", "  after early\n") + policy("early", "y > 1")});
  const Program& p = c.program;
  REQUIRE(p.order.size() == boost::num_vertices(p.graph));
  std::vector<size_t> position(p.order.size());
  for (size_t i = 0; i < p.order.size(); ++i) position[p.order[i]] = i;
  for (auto [e, end] = boost::edges(p.graph); e != end; ++e) {
    CHECK(position[boost::source(*e, p.graph)] < position[boost::target(*e, p.graph)]);
  }
  REQUIRE(p.policies.size() == 2);
  CHECK(p.policies[0].name == "late");
  REQUIRE(p.policies[0].after.size() == 1);
  CHECK(p.policies[p.policies[0].after[0]].name == "early");
}

TEST_CASE("a cycle through after is reported once with its path, and check finds it") {
  Checked c =
      check_texts({policy("a", "x > 1", "  after b\n") + policy("b", "x > 2", "  after a\n")});
  CHECK(c.summary() == std::vector<std::string>{
                           "9:9 E0212 policies wait for each other in a cycle: a after b after a"});
  REQUIRE(c.diagnostics.list()[0].notes.size() == 1);
  CHECK(c.diagnostics.list()[0].notes[0].message == "'a' waits for 'b' here");
}

TEST_CASE("the shipped library compiles, and sharing saves work") {
  PolicySet set = load_policy_set({source_path("policies")});
  REQUIRE_FALSE(set.diagnostics.has_errors());
  REQUIRE(set.is_compiled);
  CHECK(set.compiled.policies.size() == 14);
  CHECK(set.compiled.expressions_compiled < set.compiled.expressions_written);
}
