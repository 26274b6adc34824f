// Policy unit tests: reading the TOML test format and running expectations through the engine.
// Exact messages and times; the policies are written to a temporary directory.
#include "runtime/policy_test.h"

#include <catch2/catch.hpp>

#include "support/fixtures.h"

using namespace setpoint;
using setpoint::test::TempDir;
using setpoint::test::write_text;

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

const char* kHeader =
    "policies = [\"cache.setpoint\"]\n"
    "interval = \"15s\"\n"
    "[knobs]\n"
    "cache_ttl = \"60s\"\n"
    "[[series]]\n"
    "series = 'latency_seconds{job=\"api\"}'\n"
    "values = '0.9x20'\n";

std::vector<std::string> parse_errors(const std::string& text) {
  std::vector<std::string> errors;
  std::optional<PolicyTest> t = parse_policy_test(text, "t_test.toml", errors);
  CHECK(!t);
  return errors;
}

// Runs the test text against kPolicy; the run's results in order.
PolicyTestRun run(const std::string& text, std::vector<std::string>& errors) {
  TempDir dir;
  write_text(dir.file("cache.setpoint"), kPolicy);
  std::optional<PolicyTest> t = parse_policy_test(text, dir.file("t_test.toml"), errors);
  REQUIRE(t);
  PolicySet set = load_policy_set(t->policies);
  REQUIRE(set.file_errors.empty());
  REQUIRE(!set.diagnostics.has_errors());
  PolicyTestRun r = run_policy_test(*t, set, nullptr, errors);
  for (ExpectedEventResult& x : r.results) x.expectation = nullptr;  // t dies here
  return r;
}

}  // namespace

TEST_CASE("a test file's paths resolve against its directory and durations take units") {
  std::vector<std::string> errors;
  std::optional<PolicyTest> t = parse_policy_test(
      std::string(kHeader) +
          "[[expect]]\nat = \"1m30s\"\npolicy = \"cache\"\nevent = \"applied\"\n"
          "knob = \"cache_ttl\"\nvalue = \"5m\"\ninstance = { job = \"api\", x = \"\" }\n"
          "[[never]]\npolicy = \"cache\"\nevent = \"rolled_back\"\n",
      "dir/sub/t_test.toml", errors);
  REQUIRE(errors.empty());
  REQUIRE(t);
  CHECK(t->policies == std::vector<std::string>{"dir/sub/cache.setpoint"});
  CHECK(t->interval_ms == 15'000);
  CHECK(!t->duration_ms);
  REQUIRE(t->knobs.size() == 1);
  CHECK(t->knobs[0] == std::pair<std::string, double>{"cache_ttl", 60});
  REQUIRE(t->series.size() == 1);
  CHECK(t->series[0].values.size() == 21);
  REQUIRE(t->expectations.size() == 2);
  const ExpectedEvent& e = t->expectations[0];
  CHECK(!e.never);
  CHECK(e.at_ms == 90'000);
  CHECK(e.kind == EventKind::Applied);
  CHECK(e.knob == std::optional<std::string>("cache_ttl"));
  CHECK(e.value == std::optional<double>(300));
  CHECK(e.instance == std::optional<Labels>(Labels{{"job", "api"}}));  // empty value: absent
  CHECK(e.line == 8);
  CHECK(t->expectations[1].never);
  CHECK(t->expectations[1].kind == EventKind::RolledBack);
  CHECK(t->expectations[1].line == 15);
}

TEST_CASE("test file errors say file:line:col with a hint, in the file's order") {
  CHECK(parse_errors("policies = [\"a.setpoint\"]\ninterval = 15\n") ==
        std::vector<std::string>{
            "t_test.toml:2:12: \"interval\" must be a duration string; hint: write interval = "
            "\"15s\" for seconds"});
  CHECK(parse_errors("policies = [\"a.setpoint\"]\n[[expect]]\nat = \"1m\"\npolicy = \"p\"\n"
                     "event = \"aplied\"\n") ==
        std::vector<std::string>{
            "t_test.toml:5:9: unknown event \"aplied\"; hint: did you mean 'applied'?"});
  CHECK(parse_errors("polices = [\"a.setpoint\"]\n") ==
        std::vector<std::string>{
            "t_test.toml:1:1: unknown key \"polices\"; hint: did you mean 'policies'?",
            "t_test.toml:1:1: the test names no policies; hint: add policies = "
            "[\"caching.setpoint\"], relative to this file"});
  CHECK(parse_errors("policies = [\"a.setpoint\"]\n[[series]]\nseries = 'up'\nvalues = '1 x'\n") ==
        std::vector<std::string>{
            "t_test.toml:4:10: values at offset 2: unexpected \"x\" in \"x\", expected a value "
            "before \"x\"; hint: series are "
            "written as in promtool: metric{label=\"value\"} and values such as '0+10x60 _x3 "
            "stale'"});
  CHECK(parse_errors("policies = [\"a.setpoint\"\n") ==
        std::vector<std::string>{
            "t_test.toml:1:26: invalid TOML: Error while parsing array: encountered end-of-file; "
            "hint: see https://toml.io for the syntax"});
}

TEST_CASE("an expectation passes only at its exact time, with the knob's new value") {
  std::vector<std::string> errors;
  std::string text = std::string(kHeader) +
                     "[[expect]]\nat = \"0s\"\npolicy = \"cache\"\nevent = \"pending\"\n"
                     "[[expect]]\nat = \"1m\"\npolicy = \"cache\"\nevent = \"applied\"\n"
                     "knob = \"cache_ttl\"\nvalue = \"5m\"\n"
                     "[[expect]]\nat = \"1m15s\"\npolicy = \"cache\"\nevent = \"applied\"\n"
                     "[[expect]]\nat = \"1m\"\npolicy = \"cache\"\nevent = \"applied\"\n"
                     "value = 301\n"
                     "[[never]]\npolicy = \"cache\"\nevent = \"firing\"\n"
                     "[[never]]\npolicy = \"cache\"\nevent = \"rolled_back\"\n";
  PolicyTestRun r = run(text, errors);
  CHECK(errors.empty());
  REQUIRE(r.results.size() == 6);
  CHECK(r.results[0].passed);
  CHECK(r.results[1].passed);
  CHECK(!r.results[2].passed);  // a step late
  CHECK(!r.results[3].passed);  // the wrong value
  CHECK(!r.results[4].passed);  // it fired
  CHECK(r.results[5].passed);
  CHECK(r.failed == 3);
  // The late one shows the policy's events within two steps (30s) of 1m15s: those at 1m.
  std::vector<std::string> kinds;
  for (const Event& e : r.results[2].actual)
    kinds.push_back(offset_text(e.t_ms) + " " + event_kind_name(e.kind));
  CHECK(kinds == std::vector<std::string>{"1m firing", "1m applied"});
  REQUIRE(r.results[4].actual.size() == 1);
  CHECK(r.results[4].actual[0].t_ms == 60'000);
}

TEST_CASE("an unknown policy or knob in a test is an error at its position") {
  std::vector<std::string> errors;
  TempDir dir;
  std::string text =
      "policies = [\"cache.setpoint\"]\n[knobs]\nttl = 1\n"
      "[[never]]\npolicy = \"cahce\"\nevent = \"applied\"\n";
  PolicyTestRun r = run(text, errors);
  CHECK(r.results.empty());
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].ends_with(
      "t_test.toml:5:10: no policy \"cahce\" in the test's policies; hint: did you mean "
      "'cache'?"));
  CHECK(errors[1].ends_with(
      "t_test.toml: [knobs] ttl: no policy declares that knob; hint: knobs are declared with "
      "`knob`"));
}

TEST_CASE("offsets print as the largest units that are not zero") {
  CHECK(offset_text(0) == "0s");
  CHECK(offset_text(315'000) == "5m15s");
  CHECK(offset_text(3'600'000) == "1h");
  CHECK(offset_text(3'661'250) == "1h1m1s250ms");
  CHECK(offset_text(-30'000) == "-30s");
}

TEST_CASE("directories are searched for toml files whose name says test") {
  TempDir dir;
  write_text(dir.file("a_test.toml"), "");
  write_text(dir.file("tests.toml"), "");
  write_text(dir.file("effects.toml"), "");
  write_text(dir.file("b_test.setpoint"), "");
  std::vector<std::string> errors;
  CHECK(expand_test_paths({dir.path(), dir.file("a_test.toml")}, errors) ==
        std::vector<std::string>{dir.file("a_test.toml"), dir.file("tests.toml")});
  CHECK(errors.empty());
  expand_test_paths({dir.file("missing")}, errors);
  CHECK(errors == std::vector<std::string>{dir.file("missing") + ": no such file or directory"});
}

TEST_CASE("with an effect model the applied knob moves the series the policy watches") {
  TempDir dir;
  write_text(dir.file("cache.setpoint"), kPolicy);
  std::vector<std::string> errors;
  std::optional<PolicyTest> t = parse_policy_test(
      std::string(kHeader) + "[[expect]]\nat = \"2m\"\npolicy = \"cache\"\nevent = \"resolved\"\n",
      dir.file("t_test.toml"), errors);
  REQUIRE(t);
  PolicySet set = load_policy_set(t->policies);
  REQUIRE(!set.diagnostics.has_errors());
  // 60s -> 300s is log2(5) doublings, each halving the latency: 0.9 becomes 0.18 from 1m15s,
  // and the 1m window no longer holds a value above 500ms at 2m.
  std::optional<EffectModel> model = EffectModel::parse(
      "[[effect]]\nknob = \"cache_ttl\"\nmetric = \"latency_seconds\"\nper_doubling = -0.5\n",
      "effects.toml", errors);
  REQUIRE(model);
  PolicyTestRun with = run_policy_test(*t, set, &*model, errors);
  CHECK(errors.empty());
  REQUIRE(with.results.size() == 1);
  CHECK(with.results[0].passed);
  PolicyTestRun without = run_policy_test(*t, set, nullptr, errors);
  REQUIRE(without.results.size() == 1);
  CHECK(!without.results[0].passed);
}
