// GET /api/v1/report, `setpoint ctl report` and the validation outcomes on GET /metrics: the
// real daemon on loopback, metrics pushed until a policy acts and its validation ends. And the
// rule that tells those outcomes from the engine's events, held to the engine's own counters.
#include <curl/curl.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/daemon.h"
#include "support/daemon_harness.h"
#include "support/engine_scenario.h"
#include "support/fixtures.h"
#include "support/process.h"
#include "support/prometheus_server.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

// ---- the classifier over the engine core ----

// The open validations of policies without an `expect`, as the daemon hands them over.
std::vector<uint64_t> silent_open(const Engine& engine) {
  std::vector<uint64_t> out;
  for (const EngineState::ValidationState& v : engine.state().validations) {
    if (engine.rules(engine.policy_index(v.policy)).expects.empty()) out.push_back(v.action);
  }
  return out;
}

// Evaluates every 15 s from `from_s` to `until_s`, counting each evaluation's events as the
// daemon does; returns the events as text.
std::string tally_run(Scenario& s, ValidationTally& tally, int64_t until_s, int64_t from_s = 0) {
  std::string out;
  for (int64_t t = from_s * 1000; t <= until_s * 1000; t += kStep) {
    std::vector<Event> events = s.engine->evaluate(t);
    std::vector<uint64_t> open = silent_open(*s.engine);
    tally.count(events, &open);
    for (const Event& e : events) out += event_text(e) + "\n";
  }
  return out;
}

// "confirmed 1, failed 0, error 0, inconclusive 0"
std::string totals(const ValidationTally& t) {
  std::string out;
  for (uint8_t o = 0; o < 4; ++o) {
    out += (o ? ", " : "") + std::string(ValidationTally::kNames[o]) + " " +
           std::to_string(t.total(static_cast<ValidationTally::Outcome>(o)));
  }
  return out;
}

const char* kGrowPool = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
)";

// ---- the daemon ----

// A daemon in `dir` on `policy`: metrics pushed, `pool` written to the file `pool` by an exec
// actuator and read back from it, evaluations every 200 ms, the control API on a fixed port
// (so that `setpoint ctl --config` finds it).
DaemonFiles report_config(TempDir& dir, const std::string& policy) {
  write_text(dir.file("policies.setpoint"), policy);
  write_text(dir.file("pool"), "20\n");
  write_daemon_token(dir.file("token"));
  std::string listen = "127.0.0.1:" + std::to_string(free_local_port());
  write_text(dir.file("setpoint.toml"),
             "policies = [\"policies.setpoint\"]\n"
             "state_file = \"state.db\"\n"
             "evaluation_interval = \"200ms\"\n"
             "shutdown_deadline = \"5s\"\n"
             "\n[control]\nlisten = \"" +
                 listen +
                 "\"\ntoken_file = \"token\"\n"
                 "\n[push]\nenabled = true\n"
                 "\n[knob.pool]\nactuator = \"exec\"\n"
                 "argv = [\"/bin/sh\", \"-c\", \"printf '%s\\\\n' \\\"$1\\\" > " +
                 dir.file("pool") +
                 "\", \"sh\", \"{value}\"]\n"
                 "read_argv = [\"/bin/cat\", \"" +
                 dir.file("pool") + "\"]\ntimeout = \"10s\"\nretry = { attempts = 1 }\n");
  return {dir.file("setpoint.toml"), listen, dir.file("daemon.log")};
}

std::string pool(const TempDir& dir) {
  std::string s = read_text(dir.file("pool"));
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// The validation outcome lines of GET /metrics, in the order they are written.
std::string validation_lines(const std::string& metrics) {
  std::string out;
  size_t at = 0;
  while ((at = metrics.find("\nsetpoint_validations_total{", at)) != std::string::npos) {
    size_t end = metrics.find('\n', at + 1);
    out += metrics.substr(at + 1, end - at);
    at = end;
  }
  return out;
}

std::string all_zero_but(const std::string& outcome) {
  std::string out;
  for (const char* o : ValidationTally::kNames) {
    out += std::string("setpoint_validations_total{outcome=\"") + o + "\"} " +
           (outcome == o ? "1" : "0") + "\n";
  }
  return out;
}

// GET over libcurl, for the Content-Type the harness's client does not keep.
struct Fetched {
  long status = 0;
  std::string content_type;
  std::string body;
};

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Fetched fetch(const std::string& url) {
  Fetched f;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &f.body);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &f.status);
    char* type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    if (type) f.content_type = type;
  }
  curl_easy_cleanup(curl);
  return f;
}

// The page's table of events: the same in two pages while no new event came.
std::string events_table(const std::string& html) {
  size_t from = html.find("<table class=\"events\">");
  size_t to = html.find("</table>", from);
  return from == std::string::npos || to == std::string::npos ? "" : html.substr(from, to - from);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("one confirmed validation of two expectations counts once", "[validation-tally]") {
  Scenario s(std::string(kGrowPool) + "  expect load decreases by 20% within 5m\n}\n");
  s.engine->set_knob("pool", 20);
  load_shift(s, 135, 2.0, 1.0);
  ValidationTally tally;
  std::string events = tally_run(s, tally, 480);
  INFO(events);
  CHECK(events.find("00:07:00Z grow_pool confirmed") != std::string::npos);
  CHECK(totals(tally) == "confirmed 1, failed 0, error 0, inconclusive 0");
}

TEST_CASE("a regression and a rollback condition are failed validations", "[validation-tally]") {
  SECTION("regressed") {
    Scenario s(std::string(kGrowPool) + "}\n");
    s.engine->set_knob("pool", 20);
    load_shift(s, 135, 2.0, 3.0);
    ValidationTally tally;
    std::string events = tally_run(s, tally, 480);
    INFO(events);
    CHECK(events.find("rolled_back pool 30 -> 20 (validation regressed)") != std::string::npos);
    CHECK(totals(tally) == "confirmed 0, failed 1, error 0, inconclusive 0");
    CHECK(s.engine->state().policies[0].consecutive_failures == 1);
  }
  SECTION("a rollback condition of an action that set two knobs") {
    Scenario s(R"(
knob pool : int in 1..100
knob queue : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  action set queue = queue + 5
  expect load decreases by 10% within 5m
  rollback when errors > baseline + 5%
}
)");
    s.engine->set_knob("pool", 20);
    s.engine->set_knob("queue", 10);
    load_shift(s, 900, 2.0, 2.0);
    s.fill(series("errors"), 0, 180, 0.01);
    s.fill(series("errors"), 180, 900, 0.10);
    ValidationTally tally;
    std::string events = tally_run(s, tally, 600);
    INFO(events);
    CHECK(events.find("rolled_back pool 30 -> 20 (rollback condition held") != std::string::npos);
    CHECK(events.find("rolled_back queue 15 -> 10 (rollback condition held") != std::string::npos);
    CHECK(totals(tally) == "confirmed 0, failed 1, error 0, inconclusive 0");
    CHECK(s.engine->state().policies[0].consecutive_failures == 1);
  }
}

TEST_CASE("inconclusive results and errors are told apart as the engine counts them",
          "[validation-tally]") {
  SECTION("not significant: inconclusive, twice") {
    Scenario s(std::string(kGrowPool) + "}\n");
    s.engine->set_knob("pool", 20);
    s.fill(series("load"), 0, 435, 2);
    s.fill(series("load"), 435, 450, 1);
    s.fill(series("load"), 450, 1200, 2);
    ValidationTally tally;
    INFO(tally_run(s, tally, 900));
    CHECK(totals(tally) == "confirmed 0, failed 0, error 0, inconclusive 2");
    CHECK(s.engine->state().policies[0].inconclusive == 2);
  }
  SECTION("several series for the instance: an error") {
    Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger max(load) > 1.5 for 2m
  action set pool = pool + 10
  expect load decreases by 10% within 5m
}
)");
    s.engine->set_knob("pool", 20);
    s.fill(series("load", {{"host", "a"}}), 0, 600, 2);
    s.fill(series("load", {{"host", "b"}}), 0, 600, 2);
    ValidationTally tally;
    INFO(tally_run(s, tally, 420));
    CHECK(totals(tally) == "confirmed 0, failed 0, error 1, inconclusive 0");
    CHECK(s.engine->state().policies[0].consecutive_errors == 1);
  }
  SECTION("an expectation that cannot be evaluated: an error") {
    Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger max(load) > 1.5 for 2m
  action set pool = pool + 10
  expect load / on () cap decreases by 10% within 5m
}
)");
    s.engine->set_knob("pool", 20);
    s.fill(series("load", {{"host", "a"}}), 0, 600, 2);
    s.fill(series("load", {{"host", "b"}}), 0, 600, 2);
    s.fill(series("cap"), 0, 600, 4);
    ValidationTally tally;
    INFO(tally_run(s, tally, 420));
    CHECK(totals(tally) == "confirmed 0, failed 0, error 1, inconclusive 0");
    CHECK(s.engine->state().policies[0].consecutive_errors == 1);
  }
  SECTION("a baseline median of 0: an error") {
    Scenario s(R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  expect errors decreases by 10% within 5m
}
)");
    s.engine->set_knob("pool", 20);
    s.fill(series("load"), 0, 600, 2);
    s.fill(series("errors"), 0, 600, 0);
    ValidationTally tally;
    std::string events = tally_run(s, tally, 420);
    INFO(events);
    CHECK(events.find("no relative change is defined: error") != std::string::npos);
    CHECK(totals(tally) == "confirmed 0, failed 0, error 1, inconclusive 0");
    CHECK(s.engine->state().policies[0].consecutive_errors == 1);
  }
  SECTION("a failed actuator: an error") {
    Scenario s(std::string(kGrowPool) + "}\n");
    s.engine->set_knob("pool", 20);
    s.fill(series("load"), 0, 600, 2);
    ValidationTally tally;
    tally_run(s, tally, 120);
    std::vector<Event> failed = s.engine->action_failed(1, 125'000, "exit status 3");
    std::vector<uint64_t> open = silent_open(*s.engine);
    tally.count(failed, &open);
    CHECK(totals(tally) == "confirmed 0, failed 0, error 1, inconclusive 0");
    CHECK(s.engine->state().policies[0].consecutive_errors == 1);
  }
}

TEST_CASE("a validation of rollback conditions only ends confirmed without an event",
          "[validation-tally]") {
  const char* policy = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2m
  action set pool = pool + 10
  rollback when errors > baseline + 5%
}
)";
  SECTION("nothing held: confirmed after its 10 minutes") {
    Scenario s(policy);
    s.engine->set_knob("pool", 20);
    s.fill(series("load"), 0, 1200, 2);
    s.fill(series("errors"), 0, 1200, 0.01);
    ValidationTally tally;
    std::string events = tally_run(s, tally, 720);
    INFO(events);
    CHECK(events.find("applied pool 20 -> 30") != std::string::npos);
    CHECK(s.engine->state().validations.empty());
    CHECK(totals(tally) == "confirmed 1, failed 0, error 0, inconclusive 0");
  }
  SECTION("rolled back by an operator first: not counted, as the engine skips it") {
    Scenario s(policy);
    s.engine->set_knob("pool", 20);
    s.fill(series("load"), 0, 1200, 2);
    s.fill(series("errors"), 0, 1200, 0.01);
    ValidationTally tally;
    tally_run(s, tally, 150);
    std::string error;
    std::vector<Event> undone = s.engine->rollback(1, 155'000, &error);
    REQUIRE(error.empty());
    std::vector<uint64_t> open = silent_open(*s.engine);
    tally.count(undone, &open);
    INFO(tally_run(s, tally, 720, 165));
    CHECK(s.engine->state().validations.empty());
    CHECK(totals(tally) == "confirmed 0, failed 0, error 0, inconclusive 0");
  }
}

TEST_CASE("GET /api/v1/report serves the daemon's report, and ctl report writes it", "[e2e]") {
  TempDir dir;
  DaemonProcess d(report_config(dir, R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 2s
  action set pool = pool + 10
  expect load decreases by 20% within 4s
}
)"));
  d.start();
  REQUIRE(d.until([&] { return pool(dir) == "30"; }, "load 2\n"));
  REQUIRE(d.until([&] { return validation_lines(d.metrics()) == all_zero_but("confirmed"); },
                  "load 1\n"));
  CHECK(has_line(d.metrics(), "setpoint_policies_quarantined 0"));

  Fetched page = fetch("http://" + d.files().listen + "/api/v1/report");
  REQUIRE(page.status == 200);
  CHECK(page.content_type == "text/html; charset=utf-8");
  const std::string& html = page.body;
  CHECK(html.rfind("<!DOCTYPE html>\n", 0) == 0);
  CHECK(contains(html, "<title>setpoint daemon</title>"));
  CHECK(contains(html, "<p class=\"note\">daemon report from "));
  CHECK(contains(html, "knob when the daemon started: pool=20"));
  CHECK_FALSE(contains(html, "live run"));
  // The chart of `load`, with the action and its verdict marked on it.
  size_t chart = html.find("<svg xmlns=\"http://www.w3.org/2000/svg\"");
  REQUIRE(chart != std::string::npos);
  std::string chart_title = "<title>load</title>";
  CHECK(html.compare(html.find("<title>", chart), chart_title.size(), chart_title) == 0);
  size_t applied = html.find("<g class=\"marker applied\"><title>", chart);
  REQUIRE(applied != std::string::npos);
  std::string title = "grow_pool applied pool 20 -&gt; 30</title>";
  CHECK(html.compare(html.find("</title>", applied) + 8 - title.size(), title.size(), title) == 0);
  CHECK(contains(html, "<g class=\"marker confirmed\"><title>"));
  CHECK(contains(html, "<td>grow_pool</td><td>{}</td><td>applied</td><td>pool 20 -&gt; 30</td>"));
  CHECK(contains(html, "<td>confirmed</td>"));
  CHECK(contains(html, "load fell 50%"));

  ProcessResult out = run_setpoint({"ctl", "--config", dir.file("setpoint.toml"), "report"});
  CHECK(out.exit_code == 0);
  CHECK(events_table(out.out) == events_table(html));
  ProcessResult ctl = run_setpoint(
      {"ctl", "--config", dir.file("setpoint.toml"), "report", "-o", dir.file("report.html")});
  INFO(ctl.err);
  REQUIRE(ctl.exit_code == 0);
  CHECK(ctl.out.empty());
  std::string written = read_text(dir.file("report.html"));
  CHECK(written.rfind("<!DOCTYPE html>\n", 0) == 0);
  CHECK(contains(written, "<title>setpoint daemon</title>"));
  // The same page, but for its end time and the evaluations since: the same events.
  CHECK(events_table(written) == events_table(html));
  CHECK_FALSE(events_table(html).empty());
  CHECK(d.terminate() == 0);
}

TEST_CASE("a rollback condition that holds is one failed validation on /metrics", "[e2e]") {
  TempDir dir;
  DaemonProcess d(report_config(dir, R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5
  action set pool = pool + 10
  rollback when errors > 0.5
  quarantine after 1 failure
}
)"));
  d.start();
  CHECK(validation_lines(d.metrics()) == all_zero_but(""));
  REQUIRE(d.until([&] { return pool(dir) == "30"; }, "load 2\nerrors 0\n"));
  REQUIRE(d.until([&] { return pool(dir) == "20"; }, "load 2\nerrors 1\n"));
  REQUIRE(d.until([&] { return d.policies()[0].value("quarantined", false); }, ""));
  // More evaluations change nothing: the validation is over, and counted once.
  for (int i = 0; i < 5; ++i) REQUIRE(d.push_taken("load 2\nerrors 1\n"));
  std::string metrics = d.metrics();
  CHECK(validation_lines(metrics) == all_zero_but("failed"));
  CHECK(has_line(metrics, "setpoint_policies_quarantined 1"));

  HttpResponse page = d.get("/api/v1/report");
  REQUIRE(page.status == 200);
  CHECK(contains(page.body, "<g class=\"marker rolled_back\"><title>"));
  CHECK(contains(page.body, "rollback condition held: rollback when errors &gt; 0.5"));
  CHECK(contains(page.body, "<td>quarantined</td>"));
  CHECK(d.terminate() == 0);
}
