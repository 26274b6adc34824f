// `setpoint run --duration --live --record --report`: what a person watching a run sees, and
// the recording it leaves, which `setpoint simulate` replays to the same decisions.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "support/canned_http_server.h"
#include "support/fixtures.h"
#include "support/process.h"

using namespace setpoint::test;

namespace {

// The events of a `--live` run or of a replay, without their times: "grow_pool applied pool 20
// -> 30". The live view starts a line with "+MM:SS ", simulate with a UTC time.
std::vector<std::string> event_lines(const std::string& out) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < out.size()) {
    size_t end = out.find('\n', at);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(at, end - at);
    at = end + 1;
    bool live = line.size() > 7 && line[0] == '+' && line[3] == ':' && line[6] == ' ';
    bool replay = line.size() > 21 && line[4] == '-' && line[10] == 'T' && line[20] == ' ';
    if (live) lines.push_back(line.substr(7));
    if (replay) lines.push_back(line.substr(21));
  }
  return lines;
}

bool has(const std::vector<std::string>& lines, const std::string& line) {
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

}  // namespace

TEST_CASE("a live run prints its events, and its recording replays to the same decisions",
          "[e2e][run-output]") {
  TempDir dir;
  // The load is 1 for the first four scrapes, then 2: the policy holds for 1 s, acts once, and
  // its expectation (load falls by 20%) is judged on what the target keeps saying.
  std::atomic<int> scrapes{0};
  CannedHttpServer target([&](const CannedRequest&) {
    int n = scrapes++;
    return CannedResponse{200,
                          std::string("# TYPE load gauge\nload ") + (n < 4 ? "1" : "2") + "\n"};
  });
  write_text(dir.file("policies.setpoint"), R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5 for 1s
  action set pool = pool + 10
  expect load decreases by 20% within 3s
}
)");
  write_text(dir.file("pool"), "20\n");
  write_text(dir.file("setpoint.toml"),
             "policies = [\"policies.setpoint\"]\n"
             "state_file = \"state.db\"\n"
             "evaluation_interval = \"500ms\"\n"
             "[control]\nlisten = \"127.0.0.1:0\"\n"
             "[[scrape]]\nname = \"target\"\nurl = \"" +
                 target.url("/metrics") +
                 "\"\ninterval = \"250ms\"\njitter = 0\n"
                 "[knob.pool]\nactuator = \"exec\"\n"
                 "argv = [\"/bin/sh\", \"-c\", \"printf '%s\\\\n' \\\"$1\\\" > " +
                 dir.file("pool") +
                 "\", \"sh\", \"{value}\"]\n"
                 "read_argv = [\"/bin/cat\", \"" +
                 dir.file("pool") + "\"]\n");
  ProcessResult run =
      run_setpoint({"run", "--config", dir.file("setpoint.toml"), "--duration", "6s", "--live",
                    "--record", dir.file("run.prom"), "--report", dir.file("run.html")});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  std::vector<std::string> live = event_lines(run.out);
  CHECK(has(live, "grow_pool firing"));
  CHECK(has(live, "grow_pool applied pool 20 -> 30"));
  // Not piped to a terminal: no status block, but the summary and the replay command.
  CHECK(run.out.find("\x1b[") == std::string::npos);
  CHECK(run.out.find("grow_pool                           1        1") != std::string::npos);
  std::string replay_command = "setpoint simulate --policies " + dir.file("policies.setpoint") +
                               " --metrics " + dir.file("run.prom");
  CHECK(run.out.find("replay it to the same decisions with:\n  " + replay_command + "\n") !=
        std::string::npos);
  CHECK(read_text(dir.file("pool")) == "30\n");

  std::string recording = read_text(dir.file("run.prom"));
  CHECK(recording.rfind("# setpoint run recording", 0) == 0);
  CHECK(recording.find("# setpoint knob pool 20 ") != std::string::npos);
  CHECK(recording.find("# setpoint evaluated ") != std::string::npos);

  ProcessResult sim = run_setpoint(
      {"simulate", "--policies", dir.file("policies.setpoint"), "--metrics", dir.file("run.prom")});
  INFO(sim.out << sim.err);
  REQUIRE(sim.exit_code == 0);
  CHECK(event_lines(sim.out) == live);

  std::string report = read_text(dir.file("run.html"));
  CHECK(report.find("<title>setpoint run</title>") != std::string::npos);
  CHECK(report.find("grow_pool") != std::string::npos);
  CHECK(report.find("knob at the start: pool=20") != std::string::npos);
}

TEST_CASE("setpoint run refuses a duration that is not one", "[e2e][run-output]") {
  ProcessResult run = run_setpoint({"run", "--config", "/nonexistent.toml", "--duration", "soon"});
  CHECK(run.exit_code == 2);
  CHECK(run.err == "setpoint: --duration takes a positive duration such as 90s or 10m\n");
}
