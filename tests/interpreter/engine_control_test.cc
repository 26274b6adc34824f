// What reaches the engine core from outside an evaluation: an actuator that failed, and an
// operator's controls. Each leaves the engine believing what is really true of the knobs.
#include <catch2/catch.hpp>

#include "support/engine_scenario.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

const char* kValidatedPool = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
  quarantine after 1 consecutive failures
}
)";

const char* kProposedPool = R"(
knob pool : int in 1..100
policy grow_pool {
  mode propose
  trigger load > 1.5
  action set pool = pool + 10
  expect load decreases by 10% within 5m
}
)";

std::string text(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) out += event_text(e) + "\n";
  return out;
}

}  // namespace

TEST_CASE("an action whose actuator failed leaves the knob as it was and is never validated") {
  Scenario s(kValidatedPool);
  s.engine->set_knob("pool", 20);
  load_shift(s, 135, 2.0, 1.0);
  CHECK(s.run(120) ==
        "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:02:00Z grow_pool firing\n"
        "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n");
  CHECK(text(s.engine->action_failed(1, 121'000, "exit status 3")) ==
        "1970-01-01T00:02:01Z grow_pool action_failed pool 20 -> 30 (exit status 3)\n");
  CHECK(s.engine->knob("pool") == 20);
  // The validation went with the action: no verdict comes at 7m.
  CHECK(s.run(600, 135) == "1970-01-01T00:02:15Z grow_pool resolved (trigger no longer holds)\n");
  CHECK(s.engine->action_failed(1, 601'000, "again").empty());
}

TEST_CASE("a failed rollback makes the knob unknown, so no policy acts on it until it is read") {
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5
  action set pool = pool + 10
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 600, 2);
  s.run(0);
  std::string error;
  CHECK(text(s.engine->rollback(1, 10'000, &error)) ==
        "1970-01-01T00:00:10Z grow_pool rolled_back pool 30 -> 20 (rolled back by an operator)\n");
  CHECK(text(s.engine->rollback_failed(1, 11'000, "HTTP 503")) ==
        "1970-01-01T00:00:11Z grow_pool rollback_failed pool 30 -> 20 (HTTP 503; the knob's value "
        "is unknown until it is read again)\n");
  CHECK_FALSE(s.engine->knob("pool"));
  CHECK(s.engine->rollback(1, 12'000, &error).empty());
  CHECK(error == "action 1 was already rolled back");
  CHECK(s.engine->rollback(7, 12'000, &error).empty());
  CHECK(error == "no action 7");
}

TEST_CASE("a proposal is applied when approved, and validated like an automatic action") {
  Scenario s(kProposedPool);
  s.engine->set_knob("pool", 20);
  load_shift(s, 135, 2.0, 1.0);
  CHECK(s.run(0) ==
        "1970-01-01T00:00:00Z grow_pool firing\n"
        "1970-01-01T00:00:00Z grow_pool proposed pool 20 -> 30 (awaiting approval)\n");
  CHECK(s.engine->knob("pool") == 20);
  REQUIRE(s.engine->state().proposals.size() == 1);
  CHECK(s.engine->state().proposals[0].id == 1);
  std::string error;
  CHECK(text(s.engine->approve(1, 120'000, &error)) ==
        "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30 (approved by an operator)\n");
  CHECK(s.engine->knob("pool") == 30);
  CHECK(s.engine->state().validations.size() == 1);
  CHECK(s.engine->approve(1, 121'000, &error).empty());
  CHECK(error == "no proposal 1 awaits approval");
}

TEST_CASE("a rejected proposal is not proposed again while its firing lasts") {
  Scenario s(kProposedPool);
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 600, 2);
  s.run(0);
  std::string error;
  CHECK(text(s.engine->reject(1, 5'000, &error)) ==
        "1970-01-01T00:00:05Z grow_pool rejected (rejected by an operator)\n");
  CHECK(s.run(300, 15) == "");
  CHECK(s.engine->state().proposals.empty());
}

TEST_CASE("an operator pauses one policy or all of them, and resumes them") {
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5
  action set pool = pool + 10
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 600, 2);
  std::string error;
  CHECK(text(s.engine->pause("grow_pool", 0, std::nullopt, &error)) ==
        "1970-01-01T00:00:00Z grow_pool paused (paused by an operator)\n");
  CHECK(s.run(15) ==
        "1970-01-01T00:00:00Z grow_pool firing\n"
        "1970-01-01T00:00:00Z grow_pool skipped (paused by an operator)\n");
  CHECK(text(s.engine->resume("grow_pool", 20'000, &error)) ==
        "1970-01-01T00:00:20Z grow_pool resumed (resumed by an operator)\n");
  CHECK(s.run(30, 30) == "1970-01-01T00:00:30Z grow_pool applied pool 20 -> 30\n");
  CHECK(s.engine->pause("nope", 31'000, std::nullopt, &error).empty());
  CHECK(error == "no policy named nope");

  CHECK(text(s.engine->pause("", 40'000, 100'000, &error)) ==
        "1970-01-01T00:00:40Z  paused (automatic actions paused by an operator)\n");
  CHECK(s.engine->state().paused_until == 100'000);
}

TEST_CASE("a quarantined policy acts again only once an operator releases it") {
  Scenario s(kValidatedPool);
  s.engine->set_knob("pool", 20);
  load_shift(s, 135, 2.0, 3.0);
  s.run(420);
  REQUIRE(s.engine->state().policies[0].quarantined);
  std::string error;
  CHECK(text(s.engine->release("grow_pool", 430'000, &error)) ==
        "1970-01-01T00:07:10Z grow_pool released (released by an operator)\n");
  CHECK_FALSE(s.engine->state().policies[0].quarantined);
  CHECK(s.engine->release("grow_pool", 431'000, &error).empty());
  CHECK(error == "grow_pool is not quarantined");
}

TEST_CASE("an emergency stop rolls back every action since a time and pauses everything") {
  Scenario s(R"(
knob pool : int in 1..100
knob cache : int in 0..1000
policy grow_pool {
  trigger load > 1.5
  action set pool = pool + 10
}
policy grow_cache {
  trigger load > 1.5
  action set cache = cache + 100
}
)");
  s.engine->set_knob("pool", 20);
  s.engine->set_knob("cache", 0);
  s.fill(series("load"), 0, 600, 2);
  s.run(0);
  CHECK(text(s.engine->emergency_stop(0, 60'000)) ==
        "1970-01-01T00:01:00Z grow_cache rolled_back cache 100 -> 0 (emergency stop by an "
        "operator)\n"
        "1970-01-01T00:01:00Z grow_pool rolled_back pool 30 -> 20 (emergency stop by an operator)\n"
        "1970-01-01T00:01:00Z  paused (automatic actions paused by an emergency stop)\n");
  CHECK(s.engine->knob("pool") == 20);
  CHECK(s.engine->knob("cache") == 0);
}
