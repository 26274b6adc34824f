// The engine finds what changed between evaluations in two ways (interpreter/engine_changes.cc):
// from the bits of a masked condition, looking only at the instances whose bits flipped, or by
// merging every instance present with the active ones. They must decide alike: the same
// trigger written so that it is not a mask (`unless` an absent metric leaves it as it is) runs
// the merge, and both replays must print the same events, byte for byte.
#include <catch2/catch.hpp>

#include "support/engine_scenario.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

std::string policies(const std::string& hot, const std::string& quick) {
  return R"(
knob pool : int in 1..1000
policy hot {
  trigger )" +
         hot + R"( for 1m
  action set pool = pool + 1
  cooldown 2m
}
policy quick {
  trigger )" +
         quick + R"(
  action notify "quick"
}
)";
}

// 24 instances whose values move by 3 and 2 a step, so that conditions hold a while and flip often;
// instance 5 appears at step 40, instance 7 stops at step 60 (gone 5 minutes later) and comes back
// at step 120, instance 11 has a gap of 10 minutes: the elements under the masks change too.
void fill(Scenario& s, int steps) {
  for (int i = 0; i < 24; ++i) {
    Labels instance{{"i", std::to_string(i)}};
    uint32_t a = s.store.series(series("a", instance));
    uint32_t b = s.store.series(series("b", instance));
    for (int k = 0; k < steps; ++k) {
      if (i == 5 && k < 40) continue;
      if (i == 7 && k >= 60 && k < 120) continue;
      if (i == 11 && k >= 80 && k < 120) continue;
      int64_t t = k * kStep;
      s.store.sample(a, t, (i * 37 + k * 3) % 100);
      s.store.sample(b, t, (i * 53 + k * 2) % 100);
    }
  }
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("the changed bits of a masked trigger decide as merging every instance does") {
  const int steps = 200;
  Scenario masked(policies("a > 50.5 and b < 60.5", "a > 80.5"));
  Scenario merged(
      policies("(a > 50.5 and b < 60.5) unless absent_metric", "(a > 80.5) unless absent_metric"));
  for (Scenario* s : {&masked, &merged}) {
    s->engine->set_knob("pool", 10);
    fill(*s, steps);
  }
  std::string by_bits = masked.run((steps - 1) * kStep / 1000);
  std::string by_merge = merged.run((steps - 1) * kStep / 1000);
  CHECK(by_bits == by_merge);
  // Every path through the state machine was taken.
  CHECK(count(by_merge, "hot{i=\"7\"} pending") == 3);
  CHECK(count(by_merge, " pending (for 1m)") == 133);
  CHECK(count(by_merge, "hold reset before its `for` passed") == 27);
  CHECK(count(by_merge, " notified (quick)") == 142);
  CHECK(count(by_merge, " applied pool ") == 25);
  CHECK(count(by_merge, "skipped (cooldown 2m after the last action)") == 104);
  CHECK(count(by_merge, "quick{i=\"5\"} firing") == 5);
  CHECK(count(by_merge, "quick{i=\"11\"} resolved (trigger no longer holds)") == 5);
}

TEST_CASE("a firing held back by a cooldown acts when the cooldown ends, without a flip") {
  // Two instances fire together: one acts, the other waits out the cooldown with its trigger
  // true all along (no bit changes), then acts.
  Scenario s(policies("a > 50.5", "a > 1000"));
  s.engine->set_knob("pool", 10);
  s.fill(series("a", {{"i", "x"}}), 0, 600, 60);
  s.fill(series("a", {{"i", "y"}}), 0, 600, 70);
  CHECK(s.run(240) ==
        "1970-01-01T00:00:00Z hot{i=\"x\"} pending (for 1m)\n"
        "1970-01-01T00:00:00Z hot{i=\"y\"} pending (for 1m)\n"
        "1970-01-01T00:01:00Z hot{i=\"x\"} firing\n"
        "1970-01-01T00:01:00Z hot{i=\"x\"} applied pool 10 -> 11\n"
        "1970-01-01T00:01:00Z hot{i=\"y\"} firing\n"
        "1970-01-01T00:01:00Z hot{i=\"y\"} skipped (cooldown 2m after the last action)\n"
        "1970-01-01T00:03:00Z hot{i=\"y\"} applied pool 11 -> 12\n");
}

TEST_CASE("a hold reset and begun again counts its `for` from the new start") {
  Scenario s(policies("a > 50.5", "a > 1000"));
  s.engine->set_knob("pool", 10);
  s.fill(series("a", {{"i", "x"}}), 0, 30, 60);
  s.fill(series("a", {{"i", "x"}}), 30, 45, 40);
  s.fill(series("a", {{"i", "x"}}), 45, 600, 60);
  CHECK(s.run(150) ==
        "1970-01-01T00:00:00Z hot{i=\"x\"} pending (for 1m)\n"
        "1970-01-01T00:00:30Z hot{i=\"x\"} resolved (hold reset before its `for` passed)\n"
        "1970-01-01T00:00:45Z hot{i=\"x\"} pending (for 1m)\n"
        "1970-01-01T00:01:45Z hot{i=\"x\"} firing\n"
        "1970-01-01T00:01:45Z hot{i=\"x\"} applied pool 10 -> 11\n");
}

TEST_CASE("an evaluation time beyond what an instance can hold decides nothing") {
  // Instances keep their time in 62 bits (about 73 million years); a time past that is
  // refused whole rather than wrapped into a hold that began in the wrong era.
  Scenario s(policies("vector(1) > 0", "vector(1) > 1000"));
  s.engine->set_knob("pool", 10);
  CHECK(s.engine->evaluate(int64_t{1} << 61).empty());
  CHECK(s.engine->evaluate(-(int64_t{1} << 61)).empty());
  CHECK(event_text(s.engine->evaluate(0).at(0)) == "1970-01-01T00:00:00Z hot pending (for 1m)");
}
