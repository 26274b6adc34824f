// The engine core decides as an operator coming from Prometheus expects: `for` holds per label
// set and resets on any false or missing evaluation, a firing acts once, and cooldowns, limits,
// modes, priorities and emergencies stand between a firing and an action.
#include "interpreter/engine.h"

#include <catch2/catch.hpp>
#include <sstream>

#include "support/engine_scenario.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

const char* kGrowPool = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
}
)";

}  // namespace

TEST_CASE("a trigger fires after holding at every evaluation for its whole `for`") {
  Scenario s(kGrowPool);
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 60, 0.5);
  s.fill(series("load"), 60, 400, 2);
  CHECK(s.run(240) ==
        "1970-01-01T00:01:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:03:00Z grow_pool firing\n"
        "1970-01-01T00:03:00Z grow_pool applied pool 20 -> 30\n");
  CHECK(s.engine->knob("pool") == 30);
}

TEST_CASE("one false evaluation resets a pending hold") {
  Scenario s(kGrowPool);
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 120, 2);
  s.fill(series("load"), 120, 135, 0.5);  // one evaluation below the threshold
  s.fill(series("load"), 135, 600, 2);
  CHECK(s.run(300) ==
        "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:02:00Z grow_pool resolved (hold reset before its `for` passed)\n"
        "1970-01-01T00:02:15Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:04:15Z grow_pool firing\n"
        "1970-01-01T00:04:15Z grow_pool applied pool 20 -> 30\n");
}

TEST_CASE("missing data resets a hold and never acts") {
  Scenario s(kGrowPool);
  s.engine->set_knob("pool", 20);
  uint32_t id = s.store.series(series("load"));
  for (int64_t t = 0; t < 90'000; t += kStep) s.store.sample(id, t, 2);
  s.store.sample(id, 90'000, stale_marker());  // the target went away
  CHECK(s.run(600) ==
        "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:01:30Z grow_pool resolved (hold reset before its `for` passed)\n");
  CHECK(s.engine->knob("pool") == 20);
}

TEST_CASE("a firing acts once, however long it keeps firing") {
  Scenario s(kGrowPool);
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 1200, 2);
  std::string events = s.run(1200);
  // Recorded load does not answer the knob: the validation finds no effect, and the knob stays.
  CHECK(events ==
        "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:02:00Z grow_pool firing\n"
        "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n"
        "1970-01-01T00:07:00Z grow_pool inconclusive (load did not change (95% CI 0%..0%), p = 1 "
        ">= 0.05: inconclusive, not significant (promised 10%))\n");
}

TEST_CASE("each label set of a vector trigger is an instance of its own") {
  Scenario s(R"(
policy hot {
  trigger temp > 80 for 30s
  action notify "hot"
}
)");
  s.fill(series("temp", {{"host", "a"}}), 0, 300, 90);
  s.fill(series("temp", {{"host", "b"}}), 0, 60, 50);
  s.fill(series("temp", {{"host", "b"}}), 60, 300, 95);
  CHECK(s.run(120) ==
        "1970-01-01T00:00:00Z hot{host=\"a\"} pending (for 30s)\n"
        "1970-01-01T00:00:30Z hot{host=\"a\"} firing\n"
        "1970-01-01T00:00:30Z hot{host=\"a\"} notified (hot)\n"
        "1970-01-01T00:01:00Z hot{host=\"b\"} pending (for 30s)\n"
        "1970-01-01T00:01:30Z hot{host=\"b\"} firing\n"
        "1970-01-01T00:01:30Z hot{host=\"b\"} notified (hot)\n");
}

TEST_CASE("events name their instances rightly after the label table starts again") {
  // Past max_label_sets the engine forgets the evaluator's label ids between evaluations, so
  // ids are handed out afresh: the labels events carry, made once per id, must follow.
  const char* policies = R"(
policy hot {
  trigger temp > 80 for 30s
  action notify "hot"
}
)";
  EngineOptions small;
  small.eval.max_label_sets = 3;
  Scenario limited(policies, small), unlimited(policies);
  for (Scenario* s : {&limited, &unlimited}) {
    s->fill(series("temp", {{"host", "a"}}), 0, 300, 90);
    s->fill(series("temp", {{"host", "b"}}), 0, 60, 50);
    s->fill(series("temp", {{"host", "b"}}), 60, 300, 95);
    s->fill(series("temp", {{"host", "c"}}), 0, 45, 95);
    s->fill(series("temp", {{"host", "c"}}), 45, 300, 40);
  }
  const std::string expected =
      "1970-01-01T00:00:00Z hot{host=\"a\"} pending (for 30s)\n"
      "1970-01-01T00:00:00Z hot{host=\"c\"} pending (for 30s)\n"
      "1970-01-01T00:00:30Z hot{host=\"a\"} firing\n"
      "1970-01-01T00:00:30Z hot{host=\"a\"} notified (hot)\n"
      "1970-01-01T00:00:30Z hot{host=\"c\"} firing\n"
      "1970-01-01T00:00:30Z hot{host=\"c\"} notified (hot)\n"
      "1970-01-01T00:00:45Z hot{host=\"c\"} resolved (trigger no longer holds)\n"
      "1970-01-01T00:01:00Z hot{host=\"b\"} pending (for 30s)\n"
      "1970-01-01T00:01:30Z hot{host=\"b\"} firing\n"
      "1970-01-01T00:01:30Z hot{host=\"b\"} notified (hot)\n";
  CHECK(unlimited.run(150) == expected);
  CHECK(limited.run(150) == expected);
}

TEST_CASE("a value is clamped to the knob's bounds: an unknown knob value stops the action") {
  Scenario s(R"(
knob pool : int in 1..25
policy grow_pool {
  trigger load > 1
  action set pool = pool + 10
  expect load decreases by 10% within 5m
}
)");
  s.fill(series("load"), 0, 300, 2);
  CHECK(s.run(15) ==
        "1970-01-01T00:00:00Z grow_pool firing\n"
        "1970-01-01T00:00:00Z grow_pool skipped (the current value of knob pool is unknown)\n");
  s.engine->set_knob("pool", 20);
  CHECK(s.run(30, 30) == "1970-01-01T00:00:30Z grow_pool applied pool 20 -> 25\n");
}

TEST_CASE("cooldown and limit stand between a new firing and an action") {
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1
  action set pool = pool + 1
  cooldown 2m
  limit 2 per 1h
}
)");
  s.engine->set_knob("pool", 10);
  // Three separate firings, 1 minute apart.
  for (int k = 0; k < 3; ++k) {
    s.fill(series("load"), k * 60, k * 60 + 15, 2);
    s.fill(series("load"), k * 60 + 15, k * 60 + 60, 0);
  }
  s.fill(series("load"), 180, 400, 2);
  std::string events = s.run(390);
  CHECK(events ==
        "1970-01-01T00:00:00Z grow_pool firing\n"
        "1970-01-01T00:00:00Z grow_pool applied pool 10 -> 11\n"
        "1970-01-01T00:00:15Z grow_pool resolved (trigger no longer holds)\n"
        "1970-01-01T00:01:00Z grow_pool firing\n"
        "1970-01-01T00:01:00Z grow_pool skipped (cooldown 2m after the last action)\n"
        "1970-01-01T00:01:15Z grow_pool resolved (trigger no longer holds)\n"
        "1970-01-01T00:02:00Z grow_pool firing\n"
        "1970-01-01T00:02:00Z grow_pool applied pool 11 -> 12\n"
        "1970-01-01T00:02:15Z grow_pool resolved (trigger no longer holds)\n"
        "1970-01-01T00:03:00Z grow_pool firing\n"
        "1970-01-01T00:03:00Z grow_pool skipped (cooldown 2m after the last action)\n"
        "1970-01-01T00:04:00Z grow_pool skipped (rate limit: 2 actions per 1h reached)\n");
}

TEST_CASE("propose and dry-run modes say what they would do and change nothing") {
  Scenario s(R"(
knob pool : int in 1..100
policy ask {
  mode propose
  trigger load > 1
  action set pool = pool * 2
  expect load decreases by 10% within 5m
}
policy try {
  mode dry-run
  trigger load > 1
  action set pool = pool + 1
  expect load decreases by 10% within 5m
}
)");
  s.engine->set_knob("pool", 8);
  s.fill(series("load"), 0, 60, 2);
  CHECK(s.run(0) ==
        "1970-01-01T00:00:00Z ask firing\n"
        "1970-01-01T00:00:00Z ask proposed pool 8 -> 16 (awaiting approval)\n"
        "1970-01-01T00:00:00Z try firing\n"
        "1970-01-01T00:00:00Z try would_apply pool 8 -> 9 (dry-run)\n");
  CHECK(s.engine->knob("pool") == 8);
}

TEST_CASE("one action per knob per evaluation: priority decides, `after` orders") {
  Scenario s(R"(
knob pool : int in 1..100
policy low {
  priority 10
  trigger load > 1
  action set pool = 50
}
policy high {
  priority 90
  trigger load > 1
  action set pool = 40
}
)");
  s.engine->set_knob("pool", 10);
  s.fill(series("load"), 0, 60, 2);
  CHECK(s.run(15) ==
        "1970-01-01T00:00:00Z high firing\n"
        "1970-01-01T00:00:00Z high applied pool 10 -> 40\n"
        "1970-01-01T00:00:00Z low firing\n"
        "1970-01-01T00:00:00Z low skipped (knob pool is being changed by high)\n"
        "1970-01-01T00:00:15Z low applied pool 40 -> 50\n");
}

TEST_CASE("instances of one policy change a shared knob once per evaluation") {
  // Both hosts compute pool + 1 from the same snapshot: two changes at once would report the
  // second as applied while it changes nothing.
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1
  action set pool = pool + 1
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load", {{"host", "a"}}), 0, 60, 2);
  s.fill(series("load", {{"host", "b"}}), 0, 60, 2);
  CHECK(s.run(15) ==
        "1970-01-01T00:00:00Z grow_pool{host=\"a\"} firing\n"
        "1970-01-01T00:00:00Z grow_pool{host=\"a\"} applied pool 20 -> 21\n"
        "1970-01-01T00:00:00Z grow_pool{host=\"b\"} firing\n"
        "1970-01-01T00:00:00Z grow_pool{host=\"b\"} skipped (knob pool is being changed by "
        "grow_pool{host=\"a\"})\n"
        "1970-01-01T00:00:15Z grow_pool{host=\"b\"} applied pool 21 -> 22\n");
  CHECK(s.engine->knob("pool") == 22);
}

TEST_CASE("a verdict that could not measure is marked an error, an inconclusive one is not") {
  Scenario s(R"(
knob pool : int in 1..100
knob cache : int in 1..100
policy fix_errors {
  trigger load > 1 for 2m
  action set pool = pool + 1
  expect errors decreases by 10% within 5m
}
policy cut_load {
  trigger load > 1 for 2m
  action set cache = cache + 1
  expect load decreases by 10% within 5m
}
)");
  s.engine->set_knob("pool", 20);
  s.engine->set_knob("cache", 20);
  s.fill(series("load"), 0, 900, 2);
  s.fill(series("errors"), 0, 900, 0);  // a baseline median of 0: no relative change exists
  std::vector<Event> verdicts;
  for (int64_t t = 0; t <= 450'000; t += kStep) {
    for (const Event& e : s.engine->evaluate(t)) {
      if (e.kind == EventKind::Inconclusive) verdicts.push_back(e);
    }
  }
  REQUIRE(verdicts.size() == 2);
  CHECK(verdicts[0].policy == "fix_errors");
  CHECK(verdicts[0].error);
  CHECK(verdicts[0].reason ==
        "errors has a baseline median of 0, so no relative change is defined: error");
  CHECK(verdicts[1].policy == "cut_load");
  CHECK_FALSE(verdicts[1].error);
}

TEST_CASE("an emergency rolls back every action since a time and pauses automation") {
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1
  action set pool = pool + 10
  expect load decreases by 10% within 5m
}
emergency stop {
  trigger errors > 0.5
  action rollback all since 10m
  then pause 1h
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 30, 2);
  s.fill(series("load"), 30, 60, 0);
  s.fill(series("load"), 60, 600, 2);
  s.fill(series("errors"), 0, 45, 0);
  s.fill(series("errors"), 45, 600, 1);
  CHECK(s.run(75) ==
        "1970-01-01T00:00:00Z grow_pool firing\n"
        "1970-01-01T00:00:00Z grow_pool applied pool 20 -> 30\n"
        "1970-01-01T00:00:30Z grow_pool resolved (trigger no longer holds)\n"
        "1970-01-01T00:00:45Z stop firing\n"
        "1970-01-01T00:00:45Z grow_pool rolled_back pool 30 -> 20 (emergency stop)\n"
        "1970-01-01T00:00:45Z stop paused (automatic actions paused for 1h)\n"
        "1970-01-01T00:01:00Z grow_pool firing\n"
        "1970-01-01T00:01:00Z grow_pool skipped (paused: automatic actions are paused by "
        "emergency stop)\n");
  CHECK(s.engine->knob("pool") == 20);
}

TEST_CASE("the same inputs give the same events, byte for byte") {
  auto once = [] {
    Scenario s(kGrowPool);
    s.engine->set_knob("pool", 20);
    s.fill(series("load", {{"host", "a"}}), 0, 900, 2);
    s.fill(series("load", {{"host", "b"}}), 300, 900, 3);
    return s.run(900);
  };
  std::string first = once();
  CHECK_FALSE(first.empty());
  CHECK(once() == first);
}

TEST_CASE("a firing outside its time window waits for the window") {
  Scenario s(R"(
policy night {
  trigger load > 1
  during "00:02-00:03 UTC"
  action notify "inside"
}
)");
  s.fill(series("load"), 0, 300, 2);
  CHECK(s.run(240) ==
        "1970-01-01T00:00:00Z night firing\n"
        "1970-01-01T00:00:00Z night skipped (outside its time window)\n"
        "1970-01-01T00:02:00Z night notified (inside)\n");
}

namespace {

// load at a 15 s step: `before` until t_s, then `after`, with a small repeating jitter so the
// windows are not all ties.
const char* kValidated = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
  quarantine after 1 consecutive failures
}
)";

}  // namespace

TEST_CASE("an action whose promised effect is measured is confirmed, with its evidence") {
  Scenario s(kValidated);
  s.engine->set_knob("pool", 20);
  load_shift(s, 135, 2.0, 1.0);
  std::string events = s.run(600);
  CHECK(events ==
        "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:02:00Z grow_pool firing\n"
        "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n"
        "1970-01-01T00:02:15Z grow_pool resolved (trigger no longer holds)\n"
        "1970-01-01T00:07:00Z grow_pool confirmed (load fell 50% (95% CI 49%..50%), p = 2.3e-05 "
        "< 0.05: confirmed (promised 10%))\n");
  CHECK(s.engine->knob("pool") == 30);
}

TEST_CASE("an action that makes things worse is rolled back, and quarantines its policy") {
  Scenario s(kValidated);
  s.engine->set_knob("pool", 20);
  load_shift(s, 135, 2.0, 3.0);
  std::string events = s.run(600);
  CHECK(events ==
        "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:02:00Z grow_pool firing\n"
        "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n"
        "1970-01-01T00:07:00Z grow_pool regressed (load rose 50% (95% CI 49%..50%), p = 2.3e-05 "
        "< 0.05: regressed)\n"
        "1970-01-01T00:07:00Z grow_pool rolled_back pool 30 -> 20 (validation regressed)\n"
        "1970-01-01T00:07:00Z grow_pool quarantined (1 failed validation: the limit of 1 is "
        "exhausted)\n");
  CHECK(s.engine->knob("pool") == 20);
}

TEST_CASE("a rollback condition compares with the baseline before the action and undoes it") {
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
  rollback when errors > baseline + 5%
}
)");
  s.engine->set_knob("pool", 20);
  load_shift(s, 900, 2.0, 2.0);
  s.fill(series("errors"), 0, 180, 0.01);
  s.fill(series("errors"), 180, 900, 0.10);
  std::string events = s.run(240);
  CHECK(events ==
        "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:02:00Z grow_pool firing\n"
        "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n"
        "1970-01-01T00:03:00Z grow_pool rolled_back pool 30 -> 20 (rollback condition held: "
        "rollback when errors > baseline + 5%)\n");
  CHECK(s.engine->knob("pool") == 20);
}

TEST_CASE("a new value within the knob's tolerance is no action, reported once per firing") {
  Scenario s(R"(
knob pool : int in 1..100 tolerance 10%
policy grow_pool {
  trigger load > 1
  action set pool = pool + 1
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 300, 2);
  CHECK(s.run(60) ==
        "1970-01-01T00:00:00Z grow_pool firing\n"
        "1970-01-01T00:00:00Z grow_pool skipped (within the 10% tolerance of the current value)\n");
  CHECK(s.engine->knob("pool") == 20);
  // The firing is still waiting: once the change is more than 10%, it is made.
  s.engine->set_knob("pool", 5);
  CHECK(s.run(75, 75) == "1970-01-01T00:01:15Z grow_pool applied pool 5 -> 6\n");
}

TEST_CASE("a brief dip does not shrink a knob stabilized downwards") {
  const char* policies = R"(
knob pool : int in 1..100 stabilize down 2m
policy shrink_pool {
  trigger load < 0.5
  action set pool = pool - 4
}
)";
  Scenario dip(policies);
  dip.engine->set_knob("pool", 20);
  dip.fill(series("load"), 0, 60, 1);
  dip.fill(series("load"), 60, 105, 0.2);
  dip.fill(series("load"), 105, 600, 1);
  CHECK(dip.run(300) ==
        "1970-01-01T00:01:00Z shrink_pool firing\n"
        "1970-01-01T00:01:00Z shrink_pool skipped (stabilizing: the highest recommendation for "
        "pool in the last 2m is 20)\n"
        "1970-01-01T00:01:45Z shrink_pool resolved (trigger no longer holds)\n");
  CHECK(dip.engine->knob("pool") == 20);

  // Asked for over the whole window (60 s to 2m45s: the last 20 was at 45 s), it shrinks.
  Scenario low(policies);
  low.engine->set_knob("pool", 20);
  low.fill(series("load"), 0, 60, 1);
  low.fill(series("load"), 60, 600, 0.2);
  CHECK(low.run(300) ==
        "1970-01-01T00:01:00Z shrink_pool firing\n"
        "1970-01-01T00:01:00Z shrink_pool skipped (stabilizing: the highest recommendation for "
        "pool in the last 2m is 20)\n"
        "1970-01-01T00:02:45Z shrink_pool applied pool 20 -> 16\n");
}

TEST_CASE("stabilization windows differ per direction: a short one up, a long one down") {
  Scenario s(R"(
knob pool : int in 1..100 stabilize up 30s down 2m
policy grow_pool {
  trigger load > 2
  action set pool = pool + 10
}
policy shrink_pool {
  trigger load < 0.5
  action set pool = pool - 5
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 60, 1);
  s.fill(series("load"), 60, 180, 3);
  s.fill(series("load"), 180, 600, 0.2);
  CHECK(s.run(360) ==
        "1970-01-01T00:01:00Z grow_pool firing\n"
        "1970-01-01T00:01:00Z grow_pool skipped (stabilizing: the lowest recommendation for pool "
        "in the last 30s is 20)\n"
        "1970-01-01T00:01:15Z grow_pool applied pool 20 -> 30\n"
        "1970-01-01T00:03:00Z grow_pool resolved (trigger no longer holds)\n"
        "1970-01-01T00:03:00Z shrink_pool firing\n"
        "1970-01-01T00:03:00Z shrink_pool skipped (stabilizing: the highest recommendation for "
        "pool in the last 2m is 30)\n"
        "1970-01-01T00:04:45Z shrink_pool applied pool 30 -> 25\n");
}

TEST_CASE("an increase goes no higher than the lowest recommendation of its window") {
  Scenario s(R"(
knob pool : int in 1..100 stabilize up 30s
policy follow_load {
  trigger load > 1
  action set pool = load * 10
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 30, 0.5);
  s.fill(series("load"), 30, 45, 3);
  s.fill(series("load"), 45, 300, 4);
  // 20 (nothing asked) at 15 s, 30 asked at 30 s: at 45 s the window (15 s, 45 s] holds 30 and 40.
  CHECK(s.run(60) ==
        "1970-01-01T00:00:30Z follow_load firing\n"
        "1970-01-01T00:00:30Z follow_load skipped (stabilizing: the lowest recommendation for pool "
        "in the last 30s is 20)\n"
        "1970-01-01T00:00:45Z follow_load applied pool 20 -> 30 (damped from 40: the lowest "
        "recommendation of the last 30s)\n");
}

TEST_CASE("an emergency's change is never damped") {
  Scenario s(R"(
knob pool : int in 1..100 stabilize down 10m, max step 1 per 1h
emergency shed {
  trigger errors > 0.5
  action set pool = 4
}
)");
  s.engine->set_knob("pool", 40);
  s.fill(series("errors"), 0, 60, 1);
  CHECK(s.run(0) ==
        "1970-01-01T00:00:00Z shed firing\n"
        "1970-01-01T00:00:00Z shed applied pool 40 -> 4\n");
}

TEST_CASE("a max step clamps a change, counting the changes made earlier in its period") {
  Scenario s(R"(
knob pool : int in 1..100 max step 8 per 1m
policy grow_pool {
  trigger load > 1
  action set pool = pool * 2
}
)");
  s.engine->set_knob("pool", 10);
  s.fill(series("load"), 0, 15, 2);
  s.fill(series("load"), 15, 30, 0);
  s.fill(series("load"), 30, 300, 2);
  CHECK(s.run(90) ==
        "1970-01-01T00:00:00Z grow_pool firing\n"
        "1970-01-01T00:00:00Z grow_pool applied pool 10 -> 18 (damped from 20: max step 8 per 1m)\n"
        "1970-01-01T00:00:15Z grow_pool resolved (trigger no longer holds)\n"
        "1970-01-01T00:00:30Z grow_pool firing\n"
        "1970-01-01T00:00:30Z grow_pool skipped (the max step of 8 per 1m for pool is used up)\n"
        "1970-01-01T00:01:00Z grow_pool applied pool 18 -> 26 (damped from 36: max step 8 per "
        "1m)\n");
}

TEST_CASE("a percentage max step on an int knob is rounded away from the value, so it moves") {
  Scenario s(R"(
knob pool : int in 1..100 max step 10% per 1m
policy grow_pool {
  trigger load > 1
  action set pool = pool * 3
}
)");
  s.engine->set_knob("pool", 4);
  s.fill(series("load"), 0, 60, 2);
  CHECK(s.run(0) ==
        "1970-01-01T00:00:00Z grow_pool firing\n"
        "1970-01-01T00:00:00Z grow_pool applied pool 4 -> 5 (damped from 12: max step 10% per "
        "1m)\n");
}

TEST_CASE("damping of one knob leaves a firing's other knobs alone, and says so") {
  Scenario s(R"(
knob pool : int in 1..100 tolerance 10%
knob cache : int in 0..1000
policy grow {
  trigger load > 1
  action set pool = pool + 1
  action set cache = cache + 100
}
)");
  s.engine->set_knob("pool", 20);
  s.engine->set_knob("cache", 100);
  s.fill(series("load"), 0, 60, 2);
  CHECK(s.run(15) ==
        "1970-01-01T00:00:00Z grow firing\n"
        "1970-01-01T00:00:00Z grow skipped pool (within the 10% tolerance of the current value)\n"
        "1970-01-01T00:00:00Z grow applied cache 100 -> 200\n");
}

TEST_CASE("instances act in label order while their `when` adds label sets to the table") {
  // The `when` makes a new label set per instance while the instances are being handled, so the
  // label table grows under them (under ASan, a kept reference into it would be caught).
  Scenario s(R"P(
policy grow {
  trigger load > 1
  when label_replace(load, "copy", "$1", "host", "(.*)") > 0
  action notify "grow"
}
)P");
  std::string expected;
  for (int i = 0; i < 60; ++i) {
    char host[8];
    std::snprintf(host, sizeof host, "h%02d", i);
    s.fill(series("load", {{"host", host}}), 0, 15, 2);
    expected += std::string("1970-01-01T00:00:00Z grow{host=\"") + host + "\"} firing\n";
    expected += std::string("1970-01-01T00:00:00Z grow{host=\"") + host + "\"} notified (grow)\n";
  }
  CHECK(s.run(0) == expected);
}

TEST_CASE("a series that appears late has a baseline of its own values at their own times") {
  const char* policies = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 1m
  action set pool = pool + 10
  expect load decreases by 10% within 2m
}
)";
  Scenario s(policies);
  s.engine->set_knob("pool", 20);
  // `a` is tracked from the start and never fires; `b` appears at 5m, fires at 6m.
  s.fill(series("load", {{"i", "a"}}), 0, 600, 1);
  uint32_t b = s.store.series(series("load", {{"i", "b"}}));
  std::vector<double> expected;
  for (int64_t t = 300, k = 0; t < 600; t += 15, ++k) {
    s.store.sample(b, t * 1000, 2.0 + 0.01 * static_cast<double>(k));
    if (t <= 360) expected.push_back(2.0 + 0.01 * static_cast<double>(k));
  }
  CHECK(s.run(360) ==
        "1970-01-01T00:05:00Z grow_pool{i=\"b\"} pending (for 1m)\n"
        "1970-01-01T00:06:00Z grow_pool{i=\"b\"} firing\n"
        "1970-01-01T00:06:00Z grow_pool{i=\"b\"} applied pool 20 -> 30\n");
  EngineState state = s.engine->state();
  REQUIRE(state.validations.size() == 1);
  // Within 2m before the action, b has the 5 values from 5m to 6m; a's older times are not b's.
  CHECK(state.validations[0].expect_baselines[0] == expected);
  CHECK(state.validations[0].expect_baseline_series[0] == 1);
}
