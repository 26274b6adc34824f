#include <catch2/catch.hpp>

#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;
using Summary = std::vector<std::string>;

namespace {

const char* kPrelude =
    "let p95 = quantile_over_time(0.95, http_request_duration_seconds{job=\"api\"}[5m])\n"
    "let cpu = avg by (instance) (rate(process_cpu_seconds_total[1m]))\n"
    "let rss = process_resident_memory_bytes\n"
    "knob cache_ttl : duration in 0s..1h\n"
    "knob db_pool : int in 4..256\n";

Checked policy(const std::string& clauses) {
  return check_text(std::string(kPrelude) + "policy p {\n" + clauses + "}\n");
}

}  // namespace

TEST_CASE("a well-formed policy checks clean") {
  Checked c = policy(
      "  trigger p95 > 500ms for 5m\n"
      "  when cpu < 80%\n"
      "  action set cache_ttl = clamp(cache_ttl * 2, 30s, 10m)\n"
      "  expect p95 decreases by 20% within 10m\n"
      "  rollback when p95 > baseline * 1.2\n");
  CHECK(c.summary() == Summary{});
}

TEST_CASE("a bare number compared with a duration is a warning with the fix") {
  Checked c = policy("  trigger p95 > 500 for 5m\n  action notify \"x\"\n");
  REQUIRE(c.diagnostics.list().size() == 1);
  const Diagnostic& d = c.diagnostics.list()[0];
  CHECK(
      c.summary() ==
      Summary{"7:17 W0401 comparing a duration with the bare number 500, which means 500 seconds"});
  CHECK(d.hint == "write 500ms if you mean milliseconds, or 500s for seconds");
  CHECK(policy("  trigger p95 > 2 for 5m\n  action notify \"x\"\n").diagnostics.list()[0].hint ==
        "write 2s to say the unit");
  CHECK(policy("  trigger p95 > 0 for 5m\n  action notify \"x\"\n").summary() == Summary{});
}

TEST_CASE("comparing a duration with a byte size is an error") {
  CHECK(policy("  trigger p95 > 1GiB for 5m\n  action notify \"x\"\n").summary() ==
        Summary{"7:11 E0402 cannot compare a duration with a byte size"});
  CHECK(policy("  trigger rss > 30s for 5m\n  action notify \"x\"\n").summary() ==
        Summary{"7:11 E0402 cannot compare a byte size with a duration"});
}

TEST_CASE("units are inferred through functions, aggregations and arithmetic") {
  Checked c = check_text(
      "let a = rate(process_cpu_seconds_total[1m])\n"  // seconds per second: a ratio
      "let b = histogram_quantile(0.9, rate(x_seconds_bucket[5m]))\n"
      "let c = sum(rate(http_requests_total[5m]))\n"
      "let d = count(up)\n"
      "let e = a * 100\n"
      "let f = node_memory_used_bytes / node_memory_total_bytes\n"
      "let g = rate(http_request_duration_seconds_sum[5m]) / "
      "rate(http_request_duration_seconds_count[5m])\n"
      "let h = sum(rate(errors_total[5m])) / sum(rate(requests_total[5m]))\n"
      "let i = quantile_over_time(0.99, latency_seconds[5m]) / quantile_over_time(0.5, "
      "latency_seconds[5m])\n"
      "let j = vector(5m)\n");
  REQUIRE(c.summary() == Summary{});
  auto dim = [&](size_t item) { return c.program.exprs[0][c.modules[0].items[item].expr].dim; };
  CHECK(dim(0) == Dim::Ratio);
  CHECK(dim(1) == Dim::Seconds);
  CHECK(dim(2) == Dim::PerSecond);
  CHECK(dim(3) == Dim::Plain);
  CHECK(dim(4) == Dim::Ratio);
  CHECK(dim(5) == Dim::Ratio);
  CHECK(dim(6) == Dim::Seconds);  // average latency
  CHECK(dim(7) == Dim::Plain);    // a ratio of rates may pass 1
  CHECK(dim(8) == Dim::Plain);
  CHECK(dim(9) == Dim::Seconds);
}

TEST_CASE("average latency compares with a duration: a rate does not") {
  CHECK(
      check_text("let avg_latency = rate(x_seconds_sum[5m]) / rate(x_seconds_count[5m])\n"
                 "policy p {\n  trigger avg_latency > 500ms for 5m\n  action notify \"slow\"\n}\n")
          .summary() == Summary{});
  CHECK(
      check_text(
          "policy p {\n  trigger rate(requests_total[1m]) > 5m for 5m\n  action notify \"x\"\n}\n")
          .summary() == Summary{"2:11 E0402 cannot compare a per-second rate with a duration"});
}

TEST_CASE("a knob value outside the declared bounds is an error") {
  CHECK(policy("  trigger p95 > 1s for 5m\n  action set cache_ttl = 2h\n  expect p95 decreases by "
               "10% within 5m\n")
            .summary() ==
        Summary{"8:26 E0501 value '2h' is outside the bounds of 'cache_ttl', 0s..1h"});
  CHECK(policy("  trigger p95 > 1s for 5m\n  action set db_pool = 2\n  expect p95 decreases by 10% "
               "within 5m\n")
            .summary() ==
        Summary{"8:24 E0501 value '2' is outside the bounds of 'db_pool', 4..256"});
  CHECK(policy("  trigger p95 > 1s for 5m\n  action set db_pool = 4.5\n  expect p95 decreases by "
               "10% within 5m\n")
            .summary() ==
        Summary{"8:24 E0403 'db_pool' is an int knob; '4.5' is not a whole number"});
}

TEST_CASE("knob declarations need bounds in the knob's unit, smallest first") {
  CHECK(check_text("knob a : duration in 0..10\n").summary() ==
        Summary{"1:25 E0403 a duration knob needs durations as bounds, found '10'"});
  CHECK(
      check_text(
          "knob b : bytes in 64MiB..4GiB\nknob c : percent in 0%..100%\nknob d : float in -1..1\n")
          .summary() == Summary{});
  CHECK(check_text("knob e : int in 10..1\n").summary() ==
        Summary{"1:17 E0502 knob 'e' has an empty range: its minimum is above its maximum"});
}

TEST_CASE("baseline belongs on one side of a comparison in a rollback condition") {
  CHECK(policy("  trigger p95 > 1s for 5m\n  action notify \"x\"\n  rollback when p95 > baseline + "
               "100ms\n")
            .summary() == Summary{});
  CHECK(
      policy(
          "  trigger p95 > 1s for 5m\n  action notify \"x\"\n  rollback when baseline > baseline\n")
          .summary() == Summary{"9:17 E0305 baseline on both sides of a comparison"});
  CHECK(policy("  trigger p95 > 1s for 5m\n  action notify \"x\"\n  rollback when baseline * 2\n")
            .summary() == Summary{"9:17 E0305 baseline must be one side of a comparison"});
  CHECK(policy("  trigger p95 > baseline for 5m\n  action notify \"x\"\n").summary() ==
        Summary{"7:17 E0305 baseline only has a meaning in a rollback condition"});
}

TEST_CASE("PromQL argument types are checked") {
  CHECK(check_text("let a = rate(x)\n").summary() ==
        Summary{"1:14 E0301 rate() needs a range vector as argument 1, found an instant vector"});
  CHECK(check_text("let a = abs(x[5m])\n").summary() ==
        Summary{"1:13 E0301 abs() needs an instant vector as argument 1, found a range vector"});
  CHECK(check_text("let a = topk(x, y)\n").summary() ==
        Summary{"1:14 E0301 topk() needs a scalar as argument 1, found an instant vector"});
  CHECK(check_text("let a = histogram_quantile(0.9)\n").summary() ==
        Summary{"1:9 E0302 histogram_quantile() takes 2 arguments, found 1"});
  CHECK(check_text("let a = round(x, 1, 2)\n").summary() ==
        Summary{"1:9 E0302 round() takes 1 to 2 arguments, found 3"});
  CHECK(check_text("let a = x[5m] + 1\n").summary() ==
        Summary{"1:9 E0303 a range vector cannot be an operand of '+'"});
  CHECK(check_text("let a = 1 + on (job) x\n").summary() ==
        Summary{"1:9 E0304 vector matching needs vectors on both sides"});
  CHECK(check_text("let a = rate(x[5m])[5m]\n").summary() ==
        Summary{"1:9 E0307 a range [5m] applies only to a metric selector"});
  CHECK(check_text("let s = x{job=\"a\"}\nlet a = rate(s[5m])\n").summary() == Summary{});
}

TEST_CASE("unknown functions suggest the nearest one") {
  Checked c = check_text("let a = avg_over_tim(x[5m])\n");
  CHECK(c.summary() == Summary{"1:9 E0203 unknown function 'avg_over_tim'"});
  CHECK(c.diagnostics.list()[0].hint == "did you mean 'avg_over_time'?");
}

TEST_CASE("names: duplicates, misspelled lets, unknown knobs and policies") {
  CHECK(check_text("let a = 1\nlet a = 2\n").summary() ==
        Summary{"2:5 E0204 let 'a' is defined twice"});
  CHECK(check_text("knob a : int in 1..2\nlet a = 1\n").summary() ==
        Summary{"2:5 E0204 name 'a' is defined twice"});
  Checked c = policy(
      "  trigger cpu > 1% for 5m\n  action set db_pol = 8\n  after q\n  expect cpu decreases by 5% "
      "within 5m\n");
  CHECK(c.summary() == Summary{"8:14 E0201 unknown knob 'db_pol'", "9:9 E0202 unknown policy 'q'"});
  CHECK(c.diagnostics.list()[0].hint == "did you mean 'db_pool'?");
}

TEST_CASE("lets and knobs may be used across files: policies are one namespace") {
  Checked c = check_texts(
      {"knob pool : int in 1..10\npolicy a {\n  trigger x > 1 for 1m\n  action notify \"a\"\n}\n",
       "knob pool : int in 1..10\npolicy b {\n  trigger x > 1 for 1m\n  action set pool = 2\n"
       "  expect x decreases by 5% within 5m\n  after a\n}\n"});
  CHECK(c.summary() == Summary{});
  Checked dup =
      check_texts({"policy a {\n  trigger x > 1 for 1m\n  action notify \"a\"\n}\n",
                   "emergency a {\n  trigger x > 1 for 1m\n  action rollback all since 5m\n}\n"});
  CHECK(dup.summary() == Summary{"1:11 E0204 emergency 'a' is defined twice"});
}

TEST_CASE("a cycle between lets is reported once, with its whole path") {
  Checked c = check_text("let a = b + 1\nlet b = c\nlet c = a\n");
  CHECK(c.summary() == Summary{"3:9 E0211 let 'a' depends on itself: a -> b -> c -> a"});
  REQUIRE(c.diagnostics.list()[0].notes.size() == 2);
  CHECK(c.diagnostics.list()[0].notes[0].message == "'b' is used here");
  CHECK(c.diagnostics.list()[0].notes[1].message == "'c' is used here");
}

TEST_CASE("blocks accept their own clauses only, once unless repeatable") {
  CHECK(check_text("defaults {\n  expect x decreases by 5% within 5m\n}\n").summary() ==
        Summary{"2:3 E0603 'expect' is not allowed in defaults"});
  CHECK(check_text("emergency e {\n  trigger x > 1 for 1m\n  action rollback all since 30m\n  then "
                   "pause 1h\n}\n")
            .summary() == Summary{});
  CHECK(policy("  trigger p95 > 1s for 5m\n  action rollback all since 5m\n").summary() ==
        Summary{"8:3 E0603 `rollback all` is only allowed in an emergency"});
  CHECK(policy("  trigger p95 > 1s for 5m\n  trigger p95 > 2s for 5m\n  action notify \"x\"\n")
            .summary() == Summary{"8:3 E0602 'trigger' is given twice"});
  CHECK(policy("  action notify \"x\"\n").summary() ==
        Summary{"6:8 E0601 policy 'p' has no trigger"});
  CHECK(policy("  trigger p95 > 1s for 5m\n").summary() ==
        Summary{"6:8 E0601 policy 'p' has no action"});
}

TEST_CASE("numbers in clauses are range-checked") {
  CHECK(policy("  priority 1001\n  trigger p95 > 1s for 5m\n  action notify \"x\"\n").summary() ==
        Summary{"7:12 E0606 priority must be a whole number from 0 to 1000, found '1001'"});
  CHECK(policy("  trigger p95 > 1s for 5m\n  action notify \"x\"\n  limit 0 per 1h\n").summary() ==
        Summary{"9:9 E0606 the limit must be a whole number from 1 to 1000000, found '0'"});
  CHECK(policy("  trigger p95 > 1s for 5m\n  action notify \"x\"\n  expect p95 decreases by 120% "
               "within 5m\n")
            .summary() ==
        Summary{"9:27 E0606 a decrease must be more than 0% and at most 100%, found '120%'"});
}

TEST_CASE("time windows and zones are checked against the tz database") {
  CHECK(policy("  trigger p95 > 1s for 5m\n  action notify \"x\"\n  during \"Sat,Sun 00:00-24:00 "
               "America/New_York\"\n")
            .summary() == Summary{});
  Checked c = policy(
      "  trigger p95 > 1s for 5m\n  action notify \"x\"\n  during \"Mon-Fri 01:00-05:00 "
      "Europe/Berln\"\n");
  CHECK(c.summary() == Summary{"9:31 E0605 unknown time zone 'Europe/Berln'"});
  CHECK(c.diagnostics.list()[0].hint == "did you mean 'Europe/Berlin'?");
}

TEST_CASE("a policy that acts without expecting anything, or without a hold, is warned about") {
  CHECK(policy("  trigger p95 > 1s for 5m\n  action set db_pool = 8\n").codes() ==
        std::vector<std::string>{"W0608"});
  CHECK(policy("  trigger p95 > 1s\n  action notify \"x\"\n").codes() ==
        std::vector<std::string>{"W0609"});
  CHECK(policy("  trigger p95\n  action notify \"x\"\n").codes() ==
        std::vector<std::string>{"W0609", "W0306"});
}

TEST_CASE("an item that failed to parse does not cascade into unknown-name errors") {
  Checked c = check_text(
      "let p95 = rate(x[5m]\npolicy p {\n  trigger p95 > 1 for 1m\n  action notify \"x\"\n}\n");
  CHECK(c.codes() == std::vector<std::string>{"E0100"});
}

TEST_CASE("an error in one clause hides neither the errors nor the checks of the others") {
  Checked c = check_text(
      "knob pool : int in 1..10\n"
      "policy p {\n"
      "  trigger rate(x) > 1 for 5m\n"
      "  cooldwn 5m\n"
      "  action set pol = 2\n"
      "  limit 3 per\n"
      "  expect x decreases by 5% within 5m\n"
      "}\n");
  CHECK(c.summary() ==
        Summary{
            "3:16 E0301 rate() needs a range vector as argument 1, found an instant vector",
            "4:3 E0103 unknown clause 'cooldwn'",
            "5:14 E0201 unknown knob 'pol'",
            "6:14 E0107 expected a duration, found 'expect'",
        });
}

TEST_CASE("by/without is written once, and only on aggregations") {
  CHECK(check_text("let a = sum by (job) (x) without (pod)\n").summary() ==
        Summary{"1:26 E0304 an aggregation takes one 'by' or 'without' clause"});
  CHECK(check_text("let a = rate by (job) (x[5m])\n").summary() ==
        Summary{"1:14 E0304 'by' only applies to aggregation operators such as sum or avg"});
}

TEST_CASE("baseline's side may only scale or shift it, and the other side must measure") {
  CHECK(policy("  trigger p95 > 1s for 5m\n  action notify \"x\"\n  rollback when p95 - baseline > "
               "100ms\n")
            .summary() ==
        Summary{
            "9:17 E0305 the side of a comparison that holds baseline may only scale or shift it"});
  CHECK(
      policy("  trigger p95 > 1s for 5m\n  action notify \"x\"\n  rollback when baseline > 1\n")
          .summary() ==
      Summary{
          "9:17 E0305 baseline is compared with a constant, which has no value before the action"});
  CHECK(policy("  trigger p95 > 1s for 5m\n  action notify \"x\"\n  rollback when (baseline + "
               "50ms) * 1.1 < p95\n")
            .summary() == Summary{});
}

TEST_CASE("percent knobs take percentages, like their bounds") {
  Checked c = check_text(
      "knob sample : percent in 0%..100%\n"
      "policy p {\n  trigger x > 1 for 1m\n  action set sample = 0.5\n  expect x decreases by 5% "
      "within 5m\n}\n");
  CHECK(c.summary() ==
        Summary{"4:23 E0403 value '0.5' is a plain number, but 'sample' is a percent knob"});
  CHECK(c.diagnostics.list()[0].hint == "write it with a unit, such as 0.5%");
}

TEST_CASE("a negative bare number is quoted with its sign") {
  CHECK(policy("  trigger p95 > -5 for 5m\n  action notify \"x\"\n").summary() ==
        Summary{"7:18 W0401 comparing a duration with the bare number -5, which means -5 seconds"});
}

TEST_CASE("a zero hold is no hold: a clause out of place is reported once") {
  CHECK(policy("  trigger p95 > 1s for 0s\n  action notify \"x\"\n").codes() ==
        std::vector<std::string>{"W0609"});
  CHECK(check_text("emergency e {\n  trigger x > 1 for 1m\n  action rollback all since 5m\n  after "
                   "nothing\n}\n")
            .summary() == Summary{"4:3 E0603 'after' is not allowed in an emergency"});
}

TEST_CASE("a let of another file, or a let with matchers, is read as a metric and said so") {
  Checked c = check_texts({"let p95 = quantile_over_time(0.95, x_seconds[5m])\n",
                           "policy p {\n  trigger p95 > 1s for 5m\n  action notify \"x\"\n}\n"});
  CHECK(c.summary() ==
        Summary{"2:11 W0206 'p95' is a let of another file, so here it is read as a metric name"});
  CHECK(
      check_text("let p95 = quantile_over_time(0.95, x_seconds[5m])\nlet q = p95{job=\"a\"}\n")
          .summary() ==
      Summary{
          "2:9 W0206 'p95' is a let, but with label matchers it selects the metric of that name"});
}

TEST_CASE("the counts of a quarantine clause are range-checked, each kind given once") {
  const std::string acts = "  trigger p95 > 1s for 5m\n  action notify \"x\"\n";
  CHECK(policy(acts + "  quarantine after 3 failures, 2 errors, 4 inconclusive\n").summary() ==
        Summary{});
  CHECK(policy(acts + "  quarantine after 0 errors, 1.5 inconclusive\n").summary() ==
        Summary{"9:20 E0606 the number of errors must be a whole number from 1 to 1000, found '0'",
                "9:30 E0606 the number of inconclusive validations must be a whole number from 1 "
                "to 1000, found '1.5'"});
  Checked twice = policy(acts + "  quarantine after 3 failures, 2 errors, 1 consecutive failure\n");
  CHECK(twice.summary() == Summary{"9:44 E0611 the limit on failures is given twice"});
  REQUIRE(twice.diagnostics.list()[0].notes.size() == 1);
  CHECK(twice.diagnostics.list()[0].notes[0].message == "first given here");
}

TEST_CASE("on inconclusive is a clause of its own: once, in policies and defaults") {
  const std::string acts = "  trigger p95 > 1s for 5m\n  action notify \"x\"\n";
  CHECK(
      policy(acts + "  quarantine after 2 inconclusive\n  on inconclusive rollback\n").summary() ==
      Summary{});
  CHECK(policy(acts + "  on inconclusive keep\n  on inconclusive rollback\n").summary() ==
        Summary{"10:3 E0602 'on inconclusive' is given twice"});
  CHECK(check_text("defaults {\n  on inconclusive rollback\n}\n").summary() == Summary{});
  Checked e = check_text(
      "emergency e {\n  trigger x > 1 for 1m\n  action rollback all since 30m\n  on inconclusive "
      "rollback\n}\n");
  CHECK(e.summary() == Summary{"4:3 E0603 'on inconclusive' is not allowed in an emergency"});
  CHECK(e.diagnostics.list()[0].hint == "an emergency's actions are not validated or rolled back");
}

TEST_CASE("a knob's damping options are checked against its type, each given once") {
  CHECK(check_text("knob pool : int in 4..256 stabilize up 0s down 5m, tolerance 10%, max step 8 "
                   "per 1m\nknob ttl : duration in 0s..1h max step 50% per 10m\n")
            .summary() == Summary{});
  CHECK(check_text("knob pool : int in 4..256 tolerance 0.1, max step 0 per 1m\n").summary() ==
        Summary{"1:37 E0610 a tolerance is a percentage of the current value, found '0.1'",
                "1:51 E0610 a max step must be more than 0, found '0'"});
  CHECK(check_text("knob pool : int in 4..256 tolerance 100%, stabilize down 2h\n").summary() ==
        Summary{"1:37 E0610 a tolerance must be more than 0% and less than 100%, found '100%'",
                "1:58 E0610 a stabilization window is at most 1h, found '2h'"});
  CHECK(check_text("knob pool : int in 4..256 max step 5m per 0s\n").summary() ==
        Summary{"1:36 E0403 max step '5m' is a duration, but 'pool' is an int knob",
                "1:43 E0610 the period of a max step must be more than 0s"});
  CHECK(check_text("knob pool : int in 4..256 max step 1.5 per 1m\n").summary() ==
        Summary{"1:36 E0403 'pool' is an int knob; max step '1.5' is not a whole number"});
  Checked twice = check_text("knob pool : int in 4..256 tolerance 5%, tolerance 10%\n");
  CHECK(twice.summary() == Summary{"1:41 E0610 'tolerance' is given twice"});
  CHECK(twice.diagnostics.list()[0].notes[0].message == "first given here");
  CHECK(check_text("knob pool : int in 4..256 stabilize up 1m up 2m\n").summary() ==
        Summary{"1:43 E0610 'stabilize up' is given twice"});
}

TEST_CASE("a knob declared in several files must be damped the same way in each") {
  CHECK(check_texts({"knob pool : int in 4..256 stabilize down 5m\n",
                     "knob pool : int in 4..256 stabilize down 300s\n"})
            .summary() == Summary{});
  CHECK(check_texts({"knob pool : int in 4..256 stabilize down 5m\n",
                     "knob pool : int in 4..256 stabilize down 10m\n"})
            .codes() == std::vector<std::string>{"E0205"});
}
