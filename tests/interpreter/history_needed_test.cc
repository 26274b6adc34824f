// How far back the policies read the store: what `check --config` asks of `retention`, and what a
// replay's store keeps.
#include "interpreter/history_needed.h"

#include <catch2/catch.hpp>

#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

// One module of `text`, which must parse without a diagnostic.
std::vector<Module> one_module(const std::string& text) {
  Diagnostics d;
  std::vector<Module> modules;
  modules.push_back(parse_text(text, d));
  REQUIRE(d.list().empty());
  return modules;
}

// The seconds the policy's trigger reads.
double trigger_need(const std::string& trigger) {
  return longest_history(one_module("knob k : int in 1..9\npolicy p {\n  trigger " + trigger +
                                    "\n  action set k = 2\n}\n"),
                         false)
      .seconds;
}

}  // namespace

TEST_CASE("an instant selector reads the newest sample only and a range its window") {
  CHECK(trigger_need("x > 1") == 0);
  CHECK(trigger_need("rate(c[1m]) > 1") == 60);
  // The selector inside the range reads the window, not a lookback on top of it.
  CHECK(trigger_need("avg_over_time(a[5m]) > 1 and b < 2") == 300);
  CHECK(trigger_need("avg by (job) (x) > 1 for 10m") == 0);
}

TEST_CASE("under an offset or a subquery, an instant selector may take a sample 5m older") {
  CHECK(trigger_need("x offset 10m > 1") == 900);
  CHECK(trigger_need("rate(c[1m] offset 10m) > 1") == 660);
  CHECK(trigger_need("max_over_time(rate(c[1m])[10m:1m]) > 1") == 660);
  CHECK(trigger_need("max_over_time(x[10m:1m]) > 1") == 900);
}

TEST_CASE("with `within`, the longest expectation's window counts too, and says where it is") {
  std::vector<Module> modules = one_module(
      "knob k : int in 1..9\npolicy p {\n  trigger rate(c[1m]) > 1\n  action set k = 2\n"
      "  expect x decreases by 10% within 2m\n}\n");
  CHECK(longest_history(modules, false).seconds == 60);
  HistoryNeed need = longest_history(modules, true);
  CHECK(need.seconds == 120);
  REQUIRE(need.module == &modules[0]);
  CHECK(modules[0].file->position(need.span.begin).line == 5);
  CHECK(modules[0].file->position(need.span.begin).column == 36);
}

TEST_CASE("a let read under an offset reads its own expression that much earlier") {
  std::vector<Module> modules = one_module(
      "let y = avg_over_time(x[10m])\nlet z = y\nknob k : int in 1..9\npolicy p {\n"
      "  trigger z offset 10m > 1\n  action set k = 2\n}\n");
  // 10m offset + 10m window; the bare names also allow a 5m lookback, which is less.
  CHECK(longest_history(modules, false).seconds == 1200);
}
