// `setpoint test` as a user runs it: exit codes and the exact text of passing, failing and
// malformed test files.
#include <catch2/catch.hpp>

#include "support/fixtures.h"
#include "support/process.h"

using namespace setpoint::test;

namespace {

const char* kPolicy =
    "let p95 = max_over_time(latency_seconds[1m])\n"
    "knob cache_ttl : duration in 0s..1h\n"
    "\n"
    "policy cache {\n"
    "  trigger p95 > 500ms for 1m\n"
    "  action set cache_ttl = 5m\n"
    "  expect p95 decreases by 20% within 10m\n"
    "}\n";

std::string test_file(const std::string& at) {
  return "policies = [\"cache.setpoint\"]\n"
         "interval = \"15s\"\n"
         "[knobs]\n"
         "cache_ttl = \"60s\"\n"
         "[[series]]\n"
         "series = 'latency_seconds{job=\"api\"}'\n"
         "values = '0.9x20'\n"
         "[[expect]]\n"
         "at = \"" +
         at +
         "\"\n"
         "policy = \"cache\"\n"
         "event = \"applied\"\n"
         "value = \"5m\"\n";
}

}  // namespace

TEST_CASE("test exits 0 and counts the expectation when the policy acts when expected") {
  TempDir dir;
  write_text(dir.file("cache.setpoint"), kPolicy);
  write_text(dir.file("cache_test.toml"), test_file("1m"));
  ProcessResult r = run_setpoint({"test", dir.path()});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "ok " + dir.file("cache_test.toml") + " (1 expectation)\n1 passed, 0 failed\n");
  CHECK(r.err == "");
}

TEST_CASE("test exits 1 and shows the expected event beside the policy's actual ones") {
  TempDir dir;
  write_text(dir.file("cache.setpoint"), kPolicy);
  write_text(dir.file("cache_test.toml"), test_file("1m30s"));
  ProcessResult r = run_setpoint({"test", dir.file("cache_test.toml")});
  CHECK(r.exit_code == 1);
  CHECK(r.out == dir.file("cache_test.toml") +
                     ":8: FAIL [[expect]] cache applied at 1m30s\n"
                     "  expected  1m30s  cache applied -> 300\n"
                     "  actual    1m     cache{job=\"api\"} firing\n"
                     "            1m     cache{job=\"api\"} applied cache_ttl 60 -> 300\n"
                     "0 passed, 1 failed\n");
}

TEST_CASE("test exits 2 on a TOML error and says file:line:col") {
  TempDir dir;
  write_text(dir.file("cache.setpoint"), kPolicy);
  write_text(dir.file("cache_test.toml"), "policies = [\"cache.setpoint\"]\ninterval = 15\n");
  ProcessResult r = run_setpoint({"test", dir.file("cache_test.toml")});
  CHECK(r.exit_code == 2);
  CHECK(r.err == dir.file("cache_test.toml") +
                     ":2:12: \"interval\" must be a duration string; hint: write interval = "
                     "\"15s\" for seconds\n");
  CHECK(r.out == "0 passed, 0 failed\n");
}

TEST_CASE("the repository's policy tests pass") {
  ProcessResult r = run_setpoint({"test", source_path("policies")});
  CHECK(r.err == "");
  CHECK(r.exit_code == 0);
}
