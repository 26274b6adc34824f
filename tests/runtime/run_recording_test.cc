// The recording `setpoint run --record` writes: samples in Prometheus text with timestamps,
// and the annotations `simulate` reads back to evaluate when the daemon did.
#include "runtime/run_recording.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "runtime/metrics_reader.h"
#include "runtime/recording.h"
#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

TEST_CASE("a run recording holds the store's samples and its annotations, and reads back",
          "[run-recording]") {
  WindowStore store;
  uint32_t a = store.series({{"__name__", "demo_requests_total"}, {"code", "200"}});
  uint32_t b = store.series({{"__name__", "weird"}, {"path", "a\"b\\c\nd"}});
  store.append(a, 1000, 1);
  store.append(a, 2000, 2.5);
  store.append(b, 1500, 0.1);
  store.append(b, 2500, stale_marker());  // ends the series: not written
  RunAnnotations in;
  in.knobs = {{"pool_size", 2, 900}, {"cache_ttl", 60, 1200}};
  in.evaluations = {1000, 2000};
  in.events = {{2000, "grow_pool applied pool_size 2 -> 8"}};
  in.notes = {"a note"};
  in.policies = "00ff00ff00ff00ff";
  in.restored = true;
  TempDir dir;
  std::string error;
  REQUIRE(write_run_recording(dir.file("run.prom"), store, in, error));
  CHECK(read_text(dir.file("run.prom")) ==
        "# setpoint run recording: replay it with setpoint simulate --metrics\n"
        "# setpoint note a note\n"
        "# setpoint policies 00ff00ff00ff00ff\n"
        "# setpoint restored\n"
        "# setpoint knob pool_size 2 900\n"
        "# setpoint knob cache_ttl 60 1200\n"
        "# setpoint event 2000 grow_pool applied pool_size 2 -> 8\n"
        "# setpoint evaluated 1000\n"
        "# setpoint evaluated 2000\n"
        "demo_requests_total{code=\"200\"} 1 1000\n"
        "demo_requests_total{code=\"200\"} 2.5 2000\n"
        "weird{path=\"a\\\"b\\\\c\\nd\"} 0.1 1500\n");

  RunAnnotations out = read_run_annotations(dir.file("run.prom"));
  REQUIRE(out.knobs.size() == 2);
  CHECK(out.knobs[1].knob == "cache_ttl");
  CHECK(out.knobs[1].value == 60);
  CHECK(out.knobs[1].t_ms == 1200);
  CHECK(out.evaluations == std::vector<int64_t>{1000, 2000});
  CHECK(out.events == in.events);
  CHECK(out.notes == in.notes);
  CHECK(out.policies == "00ff00ff00ff00ff");
  CHECK(out.restored);

  // The samples read back as a recording, labels unescaped, the comment lines ignored.
  Recording recording;
  ReadReport report;
  REQUIRE(read_metrics_file(dir.file("run.prom"), std::nullopt, recording, report));
  CHECK(report.skipped == 0);
  recording.finish();
  REQUIRE(recording.points().size() == 3);
  CHECK(recording.labels()[1] == Labels{{"__name__", "weird"}, {"path", "a\"b\\c\nd"}});
}

TEST_CASE("annotations are read from the head of a file only, and bad lines are left out",
          "[run-recording]") {
  TempDir dir;
  write_text(dir.file("r.prom"),
             "# setpoint evaluated 12x\n"
             "# setpoint knob pool\n"
             "# setpoint evaluated 5\n"
             "# HELP x y\n"
             "x 1 5\n"
             "# setpoint evaluated 6\n");
  RunAnnotations a = read_run_annotations(dir.file("r.prom"));
  CHECK(a.evaluations == std::vector<int64_t>{5});
  CHECK(a.knobs.empty());
  CHECK(read_run_annotations(dir.file("missing.prom")).evaluations.empty());
}

TEST_CASE("only what evaluations decide is compared with a replay", "[run-recording]") {
  CHECK(replayable(EventKind::Applied));
  CHECK(replayable(EventKind::Confirmed));
  CHECK(replayable(EventKind::RolledBack));
  CHECK_FALSE(replayable(EventKind::ActionFailed));
  CHECK_FALSE(replayable(EventKind::Paused));
  CHECK_FALSE(replayable(EventKind::Rejected));
}
