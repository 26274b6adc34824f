// A restart neither resets a hold nor acts twice: the engine's state goes to JSON (as the
// daemon stores it) and back into a new engine over the same policies.
#include "runtime/engine_state_json.h"

#include <catch2/catch.hpp>

#include "support/engine_scenario.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

const char* kPool = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
}
)";

EngineState round_trip(const Engine& engine) {
  std::string error;
  std::optional<EngineState> back =
      engine_state_from_json(engine_state_to_json(engine.state()), error);
  INFO(error);
  REQUIRE(back);
  return *back;
}

}  // namespace

TEST_CASE("a pending hold resumes after a restart with the time it had held") {
  Scenario before(kPool);
  before.engine->set_knob("pool", 20);
  before.fill(series("load"), 0, 900, 2);
  CHECK(before.run(60) == "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n");
  EngineState saved = round_trip(*before.engine);

  // Down from 1m to 5m: held 1m before the outage, so it fires 1m after the restart.
  Scenario after(kPool);
  after.fill(series("load"), 0, 900, 2);
  after.engine->restore(saved, 300'000);
  CHECK(after.engine->knob("pool") == 20);
  CHECK(after.run(360, 300) ==
        "1970-01-01T00:06:00Z grow_pool firing\n"
        "1970-01-01T00:06:00Z grow_pool applied pool 20 -> 30\n");
}

TEST_CASE("a firing that acted before a restart does not act again after it") {
  Scenario before(kPool);
  before.engine->set_knob("pool", 20);
  before.fill(series("load"), 0, 900, 2);
  before.run(120);
  EngineState saved = round_trip(*before.engine);
  CHECK(saved.actions.size() == 1);
  CHECK(saved.validations.size() == 1);

  Scenario after(kPool);
  after.fill(series("load"), 0, 900, 2);
  after.engine->restore(saved, 150'000);
  CHECK(after.engine->knob("pool") == 30);
  std::string events = after.run(240, 150);
  CHECK(events.find("applied") == std::string::npos);
  // A later action is numbered after the restored ones.
  CHECK(after.engine->state().next_action == 2);
}

TEST_CASE("a validation in progress resumes with its baseline and reaches its verdict") {
  Scenario before(kPool);
  before.engine->set_knob("pool", 20);
  load_shift(before, 135, 2.0, 1.0);
  before.run(150);
  EngineState saved = round_trip(*before.engine);
  REQUIRE(saved.validations.size() == 1);
  CHECK(saved.validations[0].expect_baselines[0].size() == 9);

  Scenario after(kPool);
  load_shift(after, 135, 2.0, 1.0);
  after.engine->restore(saved, 165'000);
  std::string events = after.run(600, 165);
  CHECK(events.find("grow_pool confirmed (load fell 50%") != std::string::npos);
}

TEST_CASE("engine state that is not JSON, or from another version, is refused with a reason") {
  std::string error;
  CHECK_FALSE(engine_state_from_json("{not json", error));
  CHECK(error.rfind("engine state: ", 0) == 0);
  CHECK_FALSE(engine_state_from_json(R"({"version": 99})", error));
  CHECK(error == "engine state version 99 is not 1");
  CHECK_FALSE(engine_state_from_json(R"({"version": 1, "policies": 3})", error));
}

TEST_CASE("a stabilization window resumes after a restart with the recommendations it held") {
  const char* policies = R"(
knob pool : int in 1..100 stabilize down 2m
policy shrink_pool {
  trigger load < 0.5
  action set pool = pool - 4
}
)";
  Scenario before(policies);
  before.engine->set_knob("pool", 20);
  before.fill(series("load"), 0, 60, 1);
  before.fill(series("load"), 60, 600, 0.2);
  before.run(120);
  EngineState saved = round_trip(*before.engine);
  REQUIRE(saved.knob_histories.size() == 1);
  CHECK(saved.knob_histories[0].knob == "pool");
  // 20 (nothing asked) at 15 s to 45 s, then 16 from 60 s: the window is 2m.
  CHECK(saved.knob_histories[0].recommendations.size() == 8);
  CHECK(saved.knob_histories[0].recommendations.front().value == 20);
  CHECK(saved.knob_histories[0].recommendations.back().value == 16);

  // The 20 recommended at 45 s still holds the pool until 2m45s, restart or not.
  Scenario after(policies);
  after.fill(series("load"), 0, 60, 1);
  after.fill(series("load"), 60, 600, 0.2);
  after.engine->restore(saved, 135'000);
  // The firing itself was restored: it is not announced again, only why it still waits.
  CHECK(after.run(180, 135) ==
        "1970-01-01T00:02:15Z shrink_pool skipped (stabilizing: the highest recommendation for "
        "pool in the last 2m is 20)\n"
        "1970-01-01T00:02:45Z shrink_pool applied pool 20 -> 16\n");
}

TEST_CASE("validation counts, the quarantine's reason and knob changes survive the round trip") {
  EngineState s;
  EngineState::PolicyState p;
  p.name = "grow_pool";
  p.consecutive_failures = 1;
  p.consecutive_errors = 2;
  p.inconclusive = 3;
  p.quarantined = true;
  p.quarantine_reason = "3 inconclusive validations: the limit of 3 is exhausted";
  s.policies.push_back(p);
  EngineState::ValidationState v;
  v.policy = "grow_pool";
  v.error = "evaluation failed: multiple matches for labels";
  s.validations.push_back(v);
  s.knob_histories.push_back({"pool", {{15'000, 20}, {30'000, 16.5}}, {{30'000, -4, 7}}});
  std::string error;
  std::optional<EngineState> back = engine_state_from_json(engine_state_to_json(s), error);
  INFO(error);
  REQUIRE(back);
  const EngineState::PolicyState& q = back->policies.at(0);
  CHECK(q.consecutive_failures == 1);
  CHECK(q.consecutive_errors == 2);
  CHECK(q.inconclusive == 3);
  CHECK(q.quarantine_reason == "3 inconclusive validations: the limit of 3 is exhausted");
  CHECK(back->validations.at(0).error == "evaluation failed: multiple matches for labels");
  REQUIRE(back->knob_histories.size() == 1);
  const EngineState::KnobHistoryState& h = back->knob_histories[0];
  CHECK(h.knob == "pool");
  REQUIRE(h.recommendations.size() == 2);
  CHECK(h.recommendations[1].t_ms == 30'000);
  CHECK(h.recommendations[1].value == 16.5);
  REQUIRE(h.changes.size() == 1);
  CHECK(h.changes[0].delta == -4);
  CHECK(h.changes[0].action == 7);
}

TEST_CASE("engine state written before validation limits and damping existed still loads") {
  std::string error;
  std::optional<EngineState> s = engine_state_from_json(
      R"({"version": 1, "policies": [{"name": "p", "instances": [], "last_action": null,
          "action_times": [], "consecutive_failures": 2, "quarantined": false, "paused": false}],
          "actions": [], "validations": [], "proposals": [], "knobs": {}, "paused_until": null,
          "pause_reason": "", "last_eval": null, "next_action": 1})",
      error);
  INFO(error);
  REQUIRE(s);
  CHECK(s->policies[0].consecutive_failures == 2);
  CHECK(s->policies[0].consecutive_errors == 0);
  CHECK(s->policies[0].quarantine_reason.empty());
  CHECK(s->knob_histories.empty());
}

TEST_CASE("a policy's digest moves exactly when its stored state would") {
  Scenario s(kPool);
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 900, 2);
  std::vector<int64_t> quiet, pending, still_pending, firing;
  s.engine->policy_digest(0, quiet);
  CHECK(s.run(0) == "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n");
  s.engine->policy_digest(0, pending);
  CHECK(pending != quiet);
  // Held for 15 s more: the hold's start is what is stored, and it did not move.
  CHECK(s.run(15, 15) == "");
  s.engine->policy_digest(0, still_pending);
  CHECK(still_pending == pending);
  CHECK(policy_state_to_json(s.engine->policy_state(0)) ==
        R"({"action_times":[],"consecutive_errors":0,"consecutive_failures":0,)"
        R"("inconclusive":0,"instances":[{"acted":false,"active_since":0,"firing":false,)"
        R"("labels":{}}],"last_action":null,"name":"grow_pool","paused":false,)"
        R"("quarantine_reason":"","quarantined":false})");
  s.run(120, 30);
  s.engine->policy_digest(0, firing);
  CHECK(firing != pending);
  // The parts add up to the whole: the shared state holds no policy.
  CHECK(s.engine->shared_state().policies.empty());
  CHECK(engine_state_to_json(s.engine->state()).size() >
        engine_state_to_json(s.engine->shared_state()).size());
}

TEST_CASE("a policy's own row wins over the shared document, and a wrong row is refused") {
  EngineState doc;
  EngineState::PolicyState old_grow, other;
  old_grow.name = "grow_pool";
  old_grow.paused = true;
  other.name = "shrink_pool";
  other.consecutive_failures = 2;
  doc.policies = {old_grow, other};
  EngineState::PolicyState grow;
  grow.name = "grow_pool";
  grow.last_action_ms = 120'000;
  EngineState::PolicyState added;
  added.name = "drain";
  added.instances.push_back({{{"job", "api"}}, 45'000, true, true});
  std::string error;
  std::optional<EngineState> s = engine_state_from_json(
      engine_state_to_json(doc),
      {{"drain", policy_state_to_json(added)}, {"grow_pool", policy_state_to_json(grow)}}, error);
  INFO(error);
  REQUIRE(s);
  REQUIRE(s->policies.size() == 3);
  CHECK(s->policies[0].name == "grow_pool");
  CHECK_FALSE(s->policies[0].paused);
  CHECK(s->policies[0].last_action_ms == 120'000);
  CHECK(s->policies[1].consecutive_failures == 2);
  CHECK(s->policies[2].name == "drain");
  REQUIRE(s->policies[2].instances.size() == 1);
  CHECK(s->policies[2].instances[0].labels == Labels{{"job", "api"}});
  CHECK(s->policies[2].instances[0].active_since == 45'000);
  CHECK(s->policies[2].instances[0].acted);

  CHECK_FALSE(engine_state_from_json(engine_state_to_json(doc),
                                     {{"drain", policy_state_to_json(grow)}}, error));
  CHECK(error == "policy state: the row of drain holds the state of grow_pool");
  CHECK_FALSE(
      engine_state_from_json(engine_state_to_json(doc), {{"drain", "{\"name\": 1}"}}, error));
  CHECK(error.rfind("policy state: ", 0) == 0);
}
