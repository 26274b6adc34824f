// How far back the policies read the store: what `check --config` asks of `retention`, and what a
// replay's store keeps.
#include "interpreter/history_needed.h"

#include <catch2/catch.hpp>

#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

// The seconds the policy's trigger reads, and the longest need of the module with `within`.
double trigger_need(const std::string& trigger) {
  Diagnostics d;
  std::vector<Module> modules;
  modules.push_back(parse_text(
      "knob k : int in 1..9\npolicy p {\n  trigger " + trigger + "\n  action set k = 2\n}\n", d));
  REQUIRE(d.list().empty());
  return longest_history(modules, false).seconds;
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
  Diagnostics d;
  std::vector<Module> modules;
  modules.push_back(
      parse_text("knob k : int in 1..9\npolicy p {\n  trigger rate(c[1m]) > 1\n  action set k = 2\n"
                 "  expect x decreases by 10% within 2m\n}\n",
                 d));
  REQUIRE(d.list().empty());
  CHECK(longest_history(modules, false).seconds == 60);
  HistoryNeed need = longest_history(modules, true);
  CHECK(need.seconds == 120);
  REQUIRE(need.module == &modules[0]);
  CHECK(modules[0].file->position(need.span.begin).line == 5);
  CHECK(modules[0].file->position(need.span.begin).column == 36);
}

TEST_CASE("a let read under an offset reads its own expression that much earlier") {
  Diagnostics d;
  std::vector<Module> modules;
  modules.push_back(
      parse_text("let y = avg_over_time(x[10m])\nlet z = y\nknob k : int in 1..9\npolicy p {\n"
                 "  trigger z offset 10m > 1\n  action set k = 2\n}\n",
                 d));
  REQUIRE(d.list().empty());
  // 10m offset + 10m window; the bare names also allow a 5m lookback, which is less.
  CHECK(longest_history(modules, false).seconds == 1200);
}
