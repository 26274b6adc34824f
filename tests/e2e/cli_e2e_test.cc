// The real binary, as a user runs it: exit codes, output formats, and files on disk.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/process.h"

using namespace setpoint::test;

namespace {

const char* kGood =
    "let p95 = quantile_over_time(0.95, http_request_duration_seconds[5m])\n"
    "knob cache_ttl : duration in 0s..1h\n"
    "\n"
    "policy cache {\n"
    "  trigger p95 > 500ms for 5m\n"
    "  action set cache_ttl = 5m\n"
    "  expect p95 decreases by 20% within 10m\n"
    "}\n";

}  // namespace

TEST_CASE("check exits 0 on clean policies and says what it checked") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), kGood);
  ProcessResult r = run_setpoint({"check", dir.path()});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "checked 1 file: 0 errors, 0 warnings\n");
}

TEST_CASE("check exits 1 on errors and prints file:line:col, the line, a caret and a hint") {
  TempDir dir;
  std::string text = kGood;
  text.replace(text.find("set cache_ttl"), 13, "set cache_tl");
  write_text(dir.file("a.setpoint"), text);
  ProcessResult r = run_setpoint({"check", dir.file("a.setpoint")});
  CHECK(r.exit_code == 1);
  CHECK(r.out == dir.file("a.setpoint") +
                     ":6:14: error[E0201]: unknown knob 'cache_tl'\n"
                     " 6 |   action set cache_tl = 5m\n"
                     "   |              ^^^^^^^^\n"
                     " = hint: did you mean 'cache_ttl'?\n"
                     "\n"
                     "checked 1 file: 1 error, 0 warnings\n");
}

TEST_CASE("check --format json prints one array with positions from 1") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), "let x = rate(y)\n");
  ProcessResult r = run_setpoint({"check", "--format", "json", dir.path()});
  CHECK(r.exit_code == 1);
  auto json = nlohmann::json::parse(r.out);
  REQUIRE(json.is_array());
  REQUIRE(json.size() == 1);
  CHECK(json[0] ==
        nlohmann::json{
            {"file", dir.file("a.setpoint")},
            {"line", 1},
            {"column", 14},
            {"end_line", 1},
            {"end_column", 15},
            {"severity", "error"},
            {"code", "E0301"},
            {"message", "rate() needs a range vector as argument 1, found an instant vector"},
            {"hint", "add a range to the selector, as in rate(metric[5m])"}});
}

TEST_CASE("check exits 2 for usage and I/O errors") {
  CHECK(run_setpoint({"check"}).exit_code == 2);
  CHECK(run_setpoint({"check", "--format", "xml", "x"}).exit_code == 2);
  ProcessResult r = run_setpoint({"check", "/nonexistent/policies"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "setpoint: /nonexistent/policies: no such file or directory\n");
  CHECK(run_setpoint({"frobnicate"}).exit_code == 2);
}

TEST_CASE("fmt rewrites a file in place, and a second run changes nothing") {
  TempDir dir;
  std::string path = dir.file("a.setpoint");
  write_text(path, "let   x=rate(y[5m])  # why\n");
  ProcessResult r = run_setpoint({"fmt", path});
  CHECK(r.exit_code == 0);
  CHECK(read_text(path) == "let x = rate(y[5m])  # why\n");
  CHECK(run_setpoint({"fmt", "--check", path}).exit_code == 0);
}

TEST_CASE("fmt --check lists files that would change and changes nothing") {
  TempDir dir;
  write_text(dir.file("ugly.setpoint"), "let x=1\n");
  write_text(dir.file("fine.setpoint"), "let x = 1\n");
  ProcessResult r = run_setpoint({"fmt", "--check", dir.path()});
  CHECK(r.exit_code == 1);
  CHECK(r.out == dir.file("ugly.setpoint") + "\n");
  CHECK(read_text(dir.file("ugly.setpoint")) == "let x=1\n");
}

TEST_CASE("fmt --diff prints a unified diff and changes nothing") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), "let a = 1\nlet x=1\n");
  ProcessResult r = run_setpoint({"fmt", "--diff", dir.file("a.setpoint")});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "--- " + dir.file("a.setpoint") + "\n+++ " + dir.file("a.setpoint") +
                     " (formatted)\n"
                     "@@ -1,2 +1,2 @@\n let a = 1\n-let x=1\n+let x = 1\n");
  CHECK(read_text(dir.file("a.setpoint")) == "let a = 1\nlet x=1\n");
}

TEST_CASE("fmt leaves a file that does not parse untouched and says why") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), "let x = (1\n");
  ProcessResult r = run_setpoint({"fmt", dir.file("a.setpoint")});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("error[E0100]: expected ')', found end of file") != std::string::npos);
  CHECK(r.err.find("not formatted because it does not parse") != std::string::npos);
  CHECK(read_text(dir.file("a.setpoint")) == "let x = (1\n");
}

TEST_CASE("fmt - formats standard input to standard output") {
  ProcessResult r = run_setpoint({"fmt", "-"}, "let x=1 # c\n");
  CHECK(r.exit_code == 0);
  CHECK(r.out == "let x = 1  # c\n");
}

TEST_CASE("the shipped policy library checks clean and is formatted") {
  ProcessResult check = run_setpoint({"check", source_path("policies")});
  INFO(check.out);
  CHECK(check.exit_code == 0);
  CHECK(check.out.find("0 errors, 0 warnings") != std::string::npos);
  CHECK(run_setpoint({"fmt", "--check", source_path("policies")}).exit_code == 0);
}

TEST_CASE("list shows each policy's trigger, actions and expectations") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), kGood);
  ProcessResult r = run_setpoint({"list", dir.path()});
  CHECK(r.exit_code == 0);
  CHECK(r.out == dir.file("a.setpoint") +
                     "\n"
                     "  knob cache_ttl : duration in 0s..1h\n"
                     "  policy cache  (priority 0, mode auto)\n"
                     "    trigger     p95 > 500ms for 5m\n"
                     "    action      set cache_ttl = 5m\n"
                     "    expect      p95 decreases by 20% within 10m\n"
                     "1 file, 1 policy, 0 emergencies\n");
}

TEST_CASE("list shows the mode a policy gets from its file's defaults") {
  TempDir dir;
  write_text(dir.file("a.setpoint"),
             "defaults {\n  mode propose\n}\n\npolicy p {\n  trigger x > 1 for 1m\n  action notify "
             "\"x\"\n}\n");
  ProcessResult r = run_setpoint({"list", dir.path()});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("  policy p  (priority 0, mode propose)\n") != std::string::npos);
}

TEST_CASE("graph prints the compiled nodes in dependency order") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), kGood);
  ProcessResult r = run_setpoint({"graph", dir.path()});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "n0    number      0.95\n"
        "n1    selector    http_request_duration_seconds\n"
        "n2    range       [5m]  <- n1\n"
        "n3    function    quantile_over_time  (p95)  <- n0 n2  (used 2 times)\n"
        "n4    number      500ms\n"
        "n5    binary      >  <- n3 n4\n"
        "n6    trigger     trigger for 5m  <- n5\n"
        "n7    number      5m\n"
        "n8    expectation expect decreases by 20% within 10m  <- n3\n"
        "n9    policy      cache  <- n6 n8\n"
        "n10   action      set cache_ttl  <- n9 n7\n"
        "n11   knob        cache_ttl  <- n10\n");
}

TEST_CASE("graph --stats counts nodes and what sharing saved") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), kGood);
  ProcessResult r = run_setpoint({"graph", "--stats", dir.path()});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "12 nodes, 12 edges\n"
        "  action: 1\n  binary: 1\n  expectation: 1\n  function: 1\n  knob: 1\n  number: 3\n"
        "  policy: 1\n  range: 1\n  selector: 1\n  trigger: 1\n"
        "expressions: 11 written, 7 compiled; sharing saves 4 (36%)\n");
}

TEST_CASE("graph --format dot renders with Graphviz") {
  ProcessResult graph = run_setpoint({"graph", "--format", "dot", source_path("policies")});
  REQUIRE(graph.exit_code == 0);
  ProcessResult dot = run_process({"/usr/bin/dot", "-Tsvg"}, graph.out);
  CHECK(dot.exit_code == 0);
  CHECK(dot.err.empty());
  CHECK(dot.out.find("<svg") != std::string::npos);
}

TEST_CASE("graph --format json lists nodes, policies and their order") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), kGood);
  ProcessResult r = run_setpoint({"graph", "--format", "json", dir.path()});
  REQUIRE(r.exit_code == 0);
  auto json = nlohmann::json::parse(r.out);
  CHECK(json["nodes"].size() == 12);
  CHECK(json["nodes"][3] == nlohmann::json{{"id", 3},
                                           {"kind", "function"},
                                           {"label", "quantile_over_time"},
                                           {"names", {"p95"}},
                                           {"inputs", {0, 2}},
                                           {"uses", 2}});
  CHECK(json["policies"][0]["name"] == "cache");
}

TEST_CASE("graph refuses policies with errors") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), "let x = rate(y)\n");
  ProcessResult r = run_setpoint({"graph", dir.path()});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("error[E0301]") != std::string::npos);
}

namespace {

// first and second expect changes in http_requests_total (through different selectors), third
// in another metric.
const char* kSharedExpectations =
    "knob a : int in 0..10\n"
    "knob b : int in 0..10\n"
    "knob c : int in 0..10\n"
    "\n"
    "policy first {\n"
    "  trigger up == 0 for 5m\n"
    "  action set a = a + 1\n"
    "  expect sum(rate(http_requests_total{code=\"500\"}[5m])) decreases by 10% within 10m\n"
    "}\n"
    "\n"
    "policy second {\n"
    "  trigger up == 0 for 5m\n"
    "  action set b = b + 1\n"
    "  expect sum(rate(http_requests_total{job=\"api\"}[5m])) increases by 10% within 10m\n"
    "}\n"
    "\n"
    "policy third {\n"
    "  trigger up == 0 for 5m\n"
    "  action set c = c + 1\n"
    "  expect avg(process_resident_memory_bytes) decreases by 10% within 10m\n"
    "}\n";

}  // namespace

TEST_CASE("graph --stats lists the policies whose expectations must be validated apart") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), kSharedExpectations);
  ProcessResult r = run_setpoint({"graph", "--stats", dir.path()});
  REQUIRE(r.exit_code == 0);
  size_t at = r.out.find("validated apart");
  REQUIRE(at != std::string::npos);
  CHECK(r.out.substr(at) ==
        "validated apart (their expectations read a metric in common):\n"
        "  first / second\n");
}

TEST_CASE("graph --format json lists validation exclusions as pairs of policy names") {
  TempDir dir;
  write_text(dir.file("a.setpoint"), kSharedExpectations);
  ProcessResult r = run_setpoint({"graph", "--format", "json", dir.path()});
  REQUIRE(r.exit_code == 0);
  auto json = nlohmann::json::parse(r.out);
  CHECK(json["validation_exclusions"] == nlohmann::json::array({{"first", "second"}}));
  // A set with nothing to keep apart still has the key, as an empty list.
  write_text(dir.file("a.setpoint"), kGood);
  r = run_setpoint({"graph", "--format", "json", dir.path()});
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["validation_exclusions"] == nlohmann::json::array());
}

TEST_CASE("check reports policies pulling one knob both ways as a warning and exits 0") {
  TempDir dir;
  write_text(dir.file("a.setpoint"),
             "let cpu = avg(rate(process_cpu_seconds_total[1m]))\n"
             "knob replicas : int in 1..10\n"
             "\n"
             "policy up {\n"
             "  trigger cpu > 80% for 5m\n"
             "  action set replicas = replicas + 1\n"
             "  expect cpu decreases by 10% within 10m\n"
             "}\n"
             "\n"
             "policy down {\n"
             "  trigger cpu < 80% for 5m\n"
             "  action set replicas = replicas - 1\n"
             "  expect cpu increases by 10% within 10m\n"
             "}\n");
  ProcessResult r = run_setpoint({"check", "--format", "json", dir.path()});
  CHECK(r.exit_code == 0);
  auto json = nlohmann::json::parse(r.out);
  REQUIRE(json.size() == 2);
  CHECK(json[0]["code"] == "W0702");
  CHECK(json[0]["line"] == 12);
  CHECK(json[0]["column"] == 3);
  CHECK(json[1]["severity"] == "note");
  CHECK(json[1]["line"] == 6);
  CHECK(json[1]["message"] == "'up' raises 'replicas' here");
}
