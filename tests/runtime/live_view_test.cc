// The terminal view of `setpoint run --live`: event lines timed from the start, and the status
// block's lines.
#include "runtime/live_view.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>

using namespace setpoint;

namespace {
constexpr int64_t kStart = 1'796'130'000'000;
}

TEST_CASE("an event line starts with the time since the start", "[live-view]") {
  Event e;
  e.kind = EventKind::Applied;
  e.t_ms = kStart + 75'400;
  e.policy = "grow_pool";
  e.knob = "pool_size";
  e.from = 2;
  e.to = 8;
  CHECK(LiveView::event_line(e, kStart) == "+01:15 grow_pool applied pool_size 2 -> 8");
}

TEST_CASE("the status block shows the clock, knobs, sources and each policy's state",
          "[live-view]") {
  EngineState s;
  s.knobs = {{"batch_size", 1}, {"pool_size", 8}};
  EngineState::PolicyState idle, pending, validating, quarantined;
  idle.name = "idle_one";
  pending.name = "holding";
  pending.instances.push_back({Labels{{"job", "api"}}, kStart + 10'000, false, false});
  validating.name = "grow_pool";
  quarantined.name = "bad";
  quarantined.quarantined = true;
  quarantined.quarantine_reason = "1 failed validation: the limit of 1 is exhausted";
  quarantined.consecutive_failures = 1;
  s.policies = {idle, pending, validating, quarantined};
  EngineState::ValidationState v;
  v.action = 3;
  v.policy = "grow_pool";
  v.end_ms = kStart + 30'000;
  s.validations.push_back(v);
  SourceHealth up, down;
  up.name = "demo";
  up.up = true;
  up.samples = 120;
  down.name = "other";
  down.last_error = "connection refused";
  std::vector<std::string> lines =
      LiveView::status_lines(s, {up, down}, kStart, kStart + 80'000, kStart + 14'000);
  CHECK(lines == std::vector<std::string>{
                     "setpoint run  00:14 of 01:20  |  batch_size=1  pool_size=8",
                     "  sources: demo up (120 samples)  other DOWN (0 samples): connection refused",
                     "  idle_one                idle",
                     "  holding                 pending{job=\"api\"} for 4s",
                     "  grow_pool               validating action 3, verdict in 16s",
                     "  bad                     QUARANTINED: 1 failed validation: the limit of 1 "
                     "is exhausted  (1 failed in a row)",
                 });
}

TEST_CASE("off a terminal only event lines are written", "[live-view]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f);
  LiveView view(f, false, kStart, std::nullopt);
  CHECK_FALSE(view.due(kStart + 10'000));
  view.status(EngineState{}, {}, kStart + 1000);
  Event e;
  e.kind = EventKind::Firing;
  e.t_ms = kStart + 2000;
  e.policy = "p";
  view.event(e);
  view.close();
  std::rewind(f);
  char buf[256] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  CHECK(std::string(buf, n) == "+00:02 p firing\n");
}
