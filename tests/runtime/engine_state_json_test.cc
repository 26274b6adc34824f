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
