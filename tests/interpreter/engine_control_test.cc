// What reaches the engine core from outside an evaluation: an actuator that failed, and an
// operator's controls, each leaving the engine believing what is really true of the knobs; and
// what validation outcomes do to a policy: the limits of `quarantine`, `on inconclusive`.
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

namespace {

// Flat load: every validation is inconclusive ("did not change"). One evaluation below the
// threshold at 7m15s resolves the first firing, so a second one acts at 9m30s.
std::unique_ptr<Scenario> flat_load_twice(const std::string& clauses) {
  auto s = std::make_unique<Scenario>(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
)" + clauses + "}\n");
  s->engine->set_knob("pool", 20);
  s->fill(series("load"), 0, 435, 2);
  s->fill(series("load"), 435, 450, 1);
  s->fill(series("load"), 450, 1200, 2);
  return s;
}

const char* kNotSignificant =
    "inconclusive (load did not change (95% CI 0%..0%), p = 1 >= 0.05: inconclusive, not "
    "significant (promised 10%))\n";

}  // namespace

TEST_CASE("inconclusive validations count towards their own limit, which quarantines") {
  auto s = flat_load_twice("  quarantine after 3 failures, 2 inconclusive\n");
  std::string events = s->run(900);
  CHECK(events == std::string("1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
                              "1970-01-01T00:02:00Z grow_pool firing\n"
                              "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n"
                              "1970-01-01T00:07:00Z grow_pool ") +
                      kNotSignificant +
                      "1970-01-01T00:07:15Z grow_pool resolved (trigger no longer holds)\n"
                      "1970-01-01T00:07:30Z grow_pool pending (for 2m)\n"
                      "1970-01-01T00:09:30Z grow_pool firing\n"
                      "1970-01-01T00:09:30Z grow_pool applied pool 30 -> 40\n"
                      "1970-01-01T00:14:30Z grow_pool " +
                      kNotSignificant +
                      "1970-01-01T00:14:30Z grow_pool quarantined (2 inconclusive validations: "
                      "the limit of 2 is exhausted)\n");
  EngineState::PolicyState st = s->engine->state().policies[0];
  CHECK(st.inconclusive == 2);
  CHECK(st.consecutive_failures == 0);
  CHECK(st.quarantine_reason == "2 inconclusive validations: the limit of 2 is exhausted");
  CHECK(s->engine->knob("pool") == 40);  // `quarantine after` keeps the change
}

TEST_CASE("quarantine and rollback undoes the action judged when its limit is exhausted") {
  std::string events =
      flat_load_twice("  quarantine and rollback after 2 inconclusive\n")->run(900);
  CHECK(events.substr(events.find("00:14:30Z")) ==
        std::string("00:14:30Z grow_pool ") + kNotSignificant +
            "1970-01-01T00:14:30Z grow_pool rolled_back pool 40 -> 30 (2 inconclusive "
            "validations: the limit of 2 is exhausted)\n"
            "1970-01-01T00:14:30Z grow_pool quarantined (2 inconclusive validations: the limit "
            "of 2 is exhausted)\n");
}

TEST_CASE("on inconclusive rollback undoes the change once, without counting a failure") {
  auto s = flat_load_twice(
      "  on inconclusive rollback\n  quarantine and rollback after 1 failure, 1 inconclusive\n");
  std::string events = s->run(900);
  CHECK(events == std::string("1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
                              "1970-01-01T00:02:00Z grow_pool firing\n"
                              "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n"
                              "1970-01-01T00:07:00Z grow_pool ") +
                      kNotSignificant +
                      "1970-01-01T00:07:00Z grow_pool rolled_back pool 30 -> 20 (validation "
                      "inconclusive)\n"
                      "1970-01-01T00:07:00Z grow_pool quarantined (1 inconclusive validation: "
                      "the limit of 1 is exhausted)\n"
                      "1970-01-01T00:07:15Z grow_pool resolved (trigger no longer holds)\n"
                      "1970-01-01T00:07:30Z grow_pool pending (for 2m)\n"
                      "1970-01-01T00:09:30Z grow_pool firing\n"
                      "1970-01-01T00:09:30Z grow_pool skipped (quarantined after 1 inconclusive "
                      "validation: the limit of 1 is exhausted)\n"
                      "1970-01-01T00:12:00Z grow_pool recovered (load after the rollback: median "
                      "2 (16 samples) against 2 (9 samples) before the action, did not change "
                      "(95% CI 0%..0%), p = 1 >= 0.05: recovered, not significantly higher than "
                      "before the action)\n");
  CHECK(s->engine->state().policies[0].consecutive_failures == 0);
  CHECK(s->engine->knob("pool") == 20);
}

TEST_CASE("on inconclusive keep is the default: the change stays and nothing is counted") {
  std::string keep = flat_load_twice("  on inconclusive keep\n")->run(900);
  std::string none = flat_load_twice("")->run(900);
  CHECK(keep == none);
  CHECK(keep.find("rolled_back") == std::string::npos);
}

TEST_CASE("failed actuators are consecutive errors with a limit of their own") {
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5
  action set pool = pool + 10
  expect load decreases by 10% within 5m
  quarantine after 2 errors
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load"), 0, 15, 2);
  s.fill(series("load"), 15, 30, 1);
  s.fill(series("load"), 30, 600, 2);
  s.run(0);
  CHECK(text(s.engine->action_failed(1, 5'000, "exit status 3")) ==
        "1970-01-01T00:00:05Z grow_pool action_failed pool 20 -> 30 (exit status 3)\n");
  CHECK(s.engine->state().policies[0].consecutive_errors == 1);
  CHECK(s.run(30, 15) ==
        "1970-01-01T00:00:15Z grow_pool resolved (trigger no longer holds)\n"
        "1970-01-01T00:00:30Z grow_pool firing\n"
        "1970-01-01T00:00:30Z grow_pool applied pool 20 -> 30\n");
  CHECK(text(s.engine->action_failed(2, 35'000, "exit status 3")) ==
        "1970-01-01T00:00:35Z grow_pool action_failed pool 20 -> 30 (exit status 3)\n"
        "1970-01-01T00:00:35Z grow_pool quarantined (2 validation errors: the limit of 2 is "
        "exhausted)\n");
  std::string error;
  CHECK(text(s.engine->release("grow_pool", 40'000, &error)) ==
        "1970-01-01T00:00:40Z grow_pool released (released by an operator)\n");
  EngineState::PolicyState st = s.engine->state().policies[0];
  CHECK(st.consecutive_errors == 0);
  CHECK(st.quarantine_reason.empty());
}

TEST_CASE("an expectation that matches several series is an error, not an inconclusive result") {
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger max(load) > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
  quarantine after 1 error, 1 inconclusive
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load", {{"host", "a"}}), 0, 600, 2);
  s.fill(series("load", {{"host", "b"}}), 0, 600, 2);
  std::string events = s.run(420);
  CHECK(events.substr(events.find("00:07:00Z")) ==
        "00:07:00Z grow_pool inconclusive (load has several series for this instance: it cannot "
        "be measured)\n"
        "1970-01-01T00:07:00Z grow_pool quarantined (1 validation error: the limit of 1 is "
        "exhausted)\n");
}

TEST_CASE("an expectation Prometheus refuses to evaluate is an error, and never stops the engine") {
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger max(load) > 1.5 for 2m
  action set pool = pool + 10
  expect load / on () cap decreases by 10% within 5m
  quarantine after 1 error
}
)");
  s.engine->set_knob("pool", 20);
  s.fill(series("load", {{"host", "a"}}), 0, 600, 2);
  s.fill(series("load", {{"host", "b"}}), 0, 600, 2);
  s.fill(series("cap"), 0, 600, 4);
  std::string events = s.run(420);
  CHECK(events.substr(events.find("00:07:00Z")) ==
        "00:07:00Z grow_pool inconclusive (load / on () cap could not be evaluated: multiple "
        "matches for labels: many-to-one matching must be explicit (group_left/group_right))\n"
        "1970-01-01T00:07:00Z grow_pool quarantined (1 validation error: the limit of 1 is "
        "exhausted)\n");
}

TEST_CASE("a policy's own quarantine and on inconclusive replace its file's defaults") {
  Scenario s(R"(
knob pool : int in 1..100
defaults {
  quarantine and rollback after 3 failures, 2 errors
  on inconclusive rollback
}
policy a {
  trigger load > 1.5
  action set pool = pool + 1
}
policy b {
  trigger load > 1.5
  action set pool = pool + 1
  quarantine after 4 inconclusive
  on inconclusive keep
}
)");
  const PolicyRules& a = s.engine->rules(0);
  CHECK(a.failure_limit == 3);
  CHECK(a.error_limit == 2);
  CHECK(a.inconclusive_limit == 0);
  CHECK(a.rollback_at_limit);
  CHECK(a.rollback_inconclusive);
  const PolicyRules& b = s.engine->rules(1);
  CHECK(b.failure_limit == 0);
  CHECK(b.error_limit == 0);
  CHECK(b.inconclusive_limit == 4);
  CHECK_FALSE(b.rollback_at_limit);
  CHECK_FALSE(b.rollback_inconclusive);
}
