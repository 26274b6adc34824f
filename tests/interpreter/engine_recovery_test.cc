// After a rollback the engine checks that the metrics an action was expected to move return to
// where they were before it: recovered, not recovered, or unknown when the data cannot show it
// (docs/validation.md, "After a rollback"). Informational: no limit counts it, nothing acts on it.
#include <catch2/catch.hpp>

#include "runtime/engine_state_json.h"
#include "support/engine_scenario.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

// Acts at 2m; the validation's settle delay is 1m (20% of 5m) and its verdict comes at 7m, so a
// recovery check after a rollback at 7m observes 8m..12m and reports at 12m.
const char* kPool = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
}
)";

// load every 15 s with a small repeating jitter (so the windows are not all ties): 2 before the
// action takes effect at 2m15s, `during` until the rollback takes effect at 7m15s, then `after`
// until `until_s` (no samples from then on).
void load_phases(Scenario& s, double during, double after, int64_t until_s = 1200) {
  uint32_t id = s.store.series(series("load"));
  for (int64_t t = 0, k = 0; t < until_s; t += 15, ++k) {
    double jitter = 0.01 * static_cast<double>(k % 5);
    s.store.sample(id, t * 1000, (t < 135 ? 2.0 : t < 435 ? during : after) + jitter);
  }
}

const char* kRegressedAndRolledBack =
    "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
    "1970-01-01T00:02:00Z grow_pool firing\n"
    "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n"
    "1970-01-01T00:07:00Z grow_pool regressed (load rose 50% (95% CI 49%..50%), p = 2.3e-05 < "
    "0.05: regressed)\n"
    "1970-01-01T00:07:00Z grow_pool rolled_back pool 30 -> 20 (validation regressed)\n";

std::string text(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) out += event_text(e) + "\n";
  return out;
}

}  // namespace

TEST_CASE("a metric back at its baseline after a rollback is reported recovered") {
  Scenario s(kPool);
  s.engine->set_knob("pool", 20);
  load_phases(s, 3.0, 2.0);
  CHECK(s.run(705) == kRegressedAndRolledBack);
  REQUIRE(s.engine->state().recoveries.size() == 1);
  std::vector<Event> events = s.engine->evaluate(720'000);
  CHECK(text(events) ==
        "1970-01-01T00:12:00Z grow_pool recovered (load after the rollback: median 2.02 (16 "
        "samples) against 2.02 (9 samples) before the action, did not change (95% CI "
        "-0.50%..0.99%), p = 0.32 >= 0.05: recovered, not significantly higher than before the "
        "action)\n");
  REQUIRE(events.size() == 1);
  CHECK(events[0].action == 1);
  CHECK(s.engine->state().recoveries.empty());
  CHECK(s.engine->knob("pool") == 20);
}

TEST_CASE("a metric still worse than its baseline after a rollback is not recovered") {
  Scenario s(kPool);
  s.engine->set_knob("pool", 20);
  load_phases(s, 3.0, 3.0);
  CHECK(s.run(900) == std::string(kRegressedAndRolledBack) +
                          "1970-01-01T00:12:00Z grow_pool not_recovered (load after the "
                          "rollback: median 3.02 (16 samples) against 2.02 (9 samples) before "
                          "the action, rose 50% (95% CI 49%..50%), p = 2.3e-05 < 0.05: not "
                          "recovered, still significantly higher than before the action)\n");
  // The check counts toward no limit: only the regression was counted.
  EngineState::PolicyState st = s.engine->state().policies[0];
  CHECK(st.consecutive_failures == 1);
  CHECK(st.consecutive_errors == 0);
  CHECK(st.inconclusive == 0);
  CHECK_FALSE(st.quarantined);
}

TEST_CASE("data missing after a rollback never makes a recovery") {
  EngineOptions options;
  options.eval.lookback_ms = 60'000;  // the last sample, at 7m, is stale from 8m on
  Scenario s(kPool, options);
  s.engine->set_knob("pool", 20);
  load_phases(s, 3.0, 2.0, 435);
  CHECK(s.run(900) == std::string(kRegressedAndRolledBack) +
                          "1970-01-01T00:08:00Z grow_pool resolved (trigger no longer holds)\n"
                          "1970-01-01T00:12:00Z grow_pool recovery_unknown (recovery unknown: "
                          "load is missing 16 of 16 samples after the rollback (absent, NaN or "
                          "infinite): missing data never confirms)\n");
}

TEST_CASE("a recovery check resumes after a restart and reports the same, at the same time") {
  Scenario whole(kPool);
  whole.engine->set_knob("pool", 20);
  load_phases(whole, 3.0, 2.0);
  std::string events = whole.run(900);
  std::string recovered = events.substr(events.find("1970-01-01T00:12:00Z"));

  Scenario before(kPool);
  before.engine->set_knob("pool", 20);
  load_phases(before, 3.0, 2.0);
  CHECK(before.run(450) == kRegressedAndRolledBack);
  // Killed in the settle delay after the rollback: the state is all that survives, as JSON.
  std::string error;
  std::optional<EngineState> saved =
      engine_state_from_json(engine_state_to_json(before.engine->state()), error);
  INFO(error);
  REQUIRE(saved);
  CHECK(saved->validations.empty());
  REQUIRE(saved->recoveries.size() == 1);
  CHECK(saved->recoveries[0].action == 1);
  CHECK(saved->recoveries[0].rolled_back_ms == 420'000);
  CHECK(saved->recoveries[0].settle_ms == 480'000);
  CHECK(saved->recoveries[0].end_ms == 720'000);

  Scenario after(kPool);
  load_phases(after, 3.0, 2.0);
  after.engine->restore(*saved, 465'000);
  CHECK(after.run(900, 465) == recovered);
}

TEST_CASE("an operator's rollback during a validation starts a recovery check from then") {
  Scenario s(kPool);
  s.engine->set_knob("pool", 20);
  load_phases(s, 3.0, 2.0);
  s.run(300);
  std::string error;
  CHECK(text(s.engine->rollback(1, 301'000, &error)) ==
        "1970-01-01T00:05:01Z grow_pool rolled_back pool 30 -> 20 (rolled back by an operator)\n");
  // Rolled back at 5m01s: observed from 6m01s to 10m01s, reported at the evaluation after.
  CHECK(s.run(900, 315) ==
        "1970-01-01T00:10:15Z grow_pool recovered (load after the rollback: median 2.03 (16 "
        "samples) against 2.02 (9 samples) before the action, rose 0.50% (95% CI -0.50%..2.0%), "
        "p = 0.1 >= 0.05: recovered, not significantly higher than before the action)\n");
}

TEST_CASE("a knob set again after the rollback leaves the recovery unknown") {
  Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
}
policy shrink_pool {
  trigger load > 2.5 for 30s
  action set pool = pool - 5
}
)");
  s.engine->set_knob("pool", 20);
  load_phases(s, 3.0, 3.0);
  CHECK(s.run(900) ==
        "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:02:00Z grow_pool firing\n"
        "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n"
        "1970-01-01T00:02:15Z shrink_pool pending (for 30s)\n"
        "1970-01-01T00:02:45Z shrink_pool firing\n"
        "1970-01-01T00:02:45Z shrink_pool skipped (knob pool is held by the validation of "
        "grow_pool)\n"
        "1970-01-01T00:07:00Z grow_pool regressed (load rose 50% (95% CI 49%..50%), p = 2.3e-05 < "
        "0.05: regressed)\n"
        "1970-01-01T00:07:00Z grow_pool rolled_back pool 30 -> 20 (validation regressed)\n"
        "1970-01-01T00:07:00Z shrink_pool applied pool 20 -> 15\n"
        "1970-01-01T00:12:00Z grow_pool recovery_unknown (recovery unknown: pool was set again "
        "after the rollback (action 2), so load no longer shows what the rollback did)\n");
}

TEST_CASE("an emergency's rollback starts a recovery check at the evaluation that made it") {
  Scenario s(std::string(kPool) + R"(
emergency stop {
  trigger errors > 0.5
  action rollback all since 10m
  then pause 1h
}
)");
  s.engine->set_knob("pool", 20);
  uint32_t id = s.store.series(series("load"));
  for (int64_t t = 0, k = 0; t < 900; t += 15, ++k) {
    double jitter = 0.01 * static_cast<double>(k % 5);
    s.store.sample(id, t * 1000, (t >= 135 && t < 315 ? 3.0 : 2.0) + jitter);
  }
  s.fill(series("errors"), 0, 300, 0);
  s.fill(series("errors"), 300, 900, 1);
  CHECK(s.run(300) ==
        "1970-01-01T00:00:00Z grow_pool pending (for 2m)\n"
        "1970-01-01T00:02:00Z grow_pool firing\n"
        "1970-01-01T00:02:00Z grow_pool applied pool 20 -> 30\n"
        "1970-01-01T00:05:00Z stop firing\n"
        "1970-01-01T00:05:00Z grow_pool rolled_back pool 30 -> 20 (emergency stop)\n"
        "1970-01-01T00:05:00Z stop paused (automatic actions paused for 1h)\n");
  // The validation learns of the rollback at the next evaluation; the check runs from 5m.
  CHECK(s.run(315, 315).empty());
  REQUIRE(s.engine->state().recoveries.size() == 1);
  CHECK(s.engine->state().recoveries[0].rolled_back_ms == 300'000);
  CHECK(s.run(900, 330) ==
        "1970-01-01T00:10:00Z grow_pool recovered (load after the rollback: median 2.02 (16 "
        "samples) against 2.02 (9 samples) before the action, did not change (95% CI "
        "-0.50%..0.50%), p = 0.45 >= 0.05: recovered, not significantly higher than before the "
        "action)\n");
}
