// The live demo with a real Prometheus in the loop: two copies of the demo side by side, one read
// by setpoint's own scrape source and one through Prometheus by its query source, decide alike.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/run_recording.h"
#include "support/fixtures.h"
#include "support/process.h"
#include "support/prometheus_server.h"

using namespace setpoint::test;

namespace {

using Clock = std::chrono::steady_clock;

// Both copies run the same short profile: 3 s quiet, then a surge long enough for the demo's
// whole story (grow the pool, switch the cache on, try bigger batches and roll them back).
constexpr const char* kLoadProfile = "quiet:3s@60,surge:40s@400";
constexpr const char* kRunDuration = "40s";
constexpr const char* kSeed = "7";

// A process the test started: stopped (SIGTERM to its group, SIGKILL after 10 s) and reaped when
// the object goes, so nothing outlives a failed REQUIRE.
class DemoTwinChild {
 public:
  DemoTwinChild(const std::vector<std::string>& argv, std::string log_path)
      : log_path_(std::move(log_path)), pid_(spawn_background(argv, log_path_)) {}
  ~DemoTwinChild() { stop(); }
  DemoTwinChild(const DemoTwinChild&) = delete;
  DemoTwinChild& operator=(const DemoTwinChild&) = delete;

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return false;
  }

  // Waits for it to end by itself; its exit status, or -1 when a signal ended it or it still ran
  // at `limit` (then it is stopped).
  int wait_exit(std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (running()) {
      stop();
      return -1;
    }
    return exit_code_;
  }

  void stop() {
    if (pid_ <= 0) return;
    send(SIGTERM);
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0) {
      send(SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  std::string log() const { return read_text(log_path_); }

 private:
  // To its process group; to the process alone while it has not made that group yet (it does
  // so right after fork).
  void send(int sig) {
    if (kill(-pid_, sig) != 0) kill(pid_, sig);
  }

  std::string log_path_;
  pid_t pid_;
  int exit_code_ = -1;
};

// One copy of the demo: its folder, its service, later its daemon and its load.
struct DemoTwin {
  explicit DemoTwin(std::string folder) : dir(std::move(folder)) {}
  std::string dir;
  std::unique_ptr<DemoTwinChild> service;
  int port = 0;
  std::unique_ptr<DemoTwinChild> daemon;
  std::unique_ptr<DemoTwinChild> load;
  std::string config() const { return dir + "/setpoint.toml"; }
  std::string recording() const { return dir + "/recording.prom"; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

// Starts the service on a port the OS picks and reads it back from its port file; "" when it is
// up, otherwise what went wrong with its log.
std::string start_service(DemoTwin& twin) {
  std::string port_file = twin.dir + "/service.port";
  twin.service = std::make_unique<DemoTwinChild>(
      std::vector<std::string>{SETPOINT_DEMO_SERVICE, "--listen", "127.0.0.1:0", "--port-file",
                               port_file, "--seed", kSeed},
      twin.dir + "/service.log");
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline && twin.service->running()) {
    struct stat st {};
    if (stat(port_file.c_str(), &st) == 0 && st.st_size > 0) {
      twin.port = std::stoi(read_text(port_file));
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "the demo service did not start:\n" + twin.service->log();
}

// The shipped demo config for one copy: its service's port, the demo's policies by absolute
// path; state file and control socket stay relative, so they land in the copy's own folder.
// With `prometheus_url`, the [[scrape]] table becomes a [[query]] of that server. "" when the
// shipped file no longer has what is replaced here.
std::string demo_config(const std::string& port, const std::string& prometheus_url) {
  std::string text = read_text(source_path("examples/demo/setpoint.toml"));
  auto replace_all = [&](const std::string& from, const std::string& to) {
    size_t n = 0;
    for (size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
      ++n;
    }
    return n;
  };
  if (replace_all("127.0.0.1:8089", "127.0.0.1:" + port) == 0) return "";
  std::string policies = source_path("examples/demo/policies/demo.setpoint");
  if (replace_all("policies = [\"policies/\"]", "policies = [\"" + policies + "\"]") != 1)
    return "";
  if (prometheus_url.empty()) return text;
  size_t scrape = text.find("[[scrape]]");
  size_t end = scrape == std::string::npos ? scrape : text.find("\n\n", scrape);
  if (end == std::string::npos) return "";
  // Prometheus scrapes every 1s; polling it as often reads each sample about one scrape late.
  text.replace(scrape, end - scrape,
               "[[query]]\nname = \"prometheus\"\nurl = \"" + prometheus_url +
                   "\"\ninterval = \"1s\"\ntimeout = \"900ms\"");
  return text;
}

// A decision of a run: "grow_pool applied pool_size 2 -> 8", "grow_pool confirmed". The reason
// is left out: a verdict's numbers (p-value, interval) come from each run's own samples.
struct DemoDecision {
  int64_t t_ms = 0;
  std::string text;
};

std::vector<DemoDecision> decisions(const std::string& recording) {
  static const std::vector<std::string> kinds = {"applied", "confirmed", "inconclusive",
                                                 "regressed", "rolled_back"};
  std::vector<DemoDecision> out;
  for (const auto& [t_ms, event] : setpoint::read_run_annotations(recording).events) {
    // "POLICY KIND [KNOB FROM -> TO] [(REASON)]"
    std::istringstream in(event);
    std::string policy, kind, knob, from, arrow, to;
    in >> policy >> kind;
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) continue;
    std::string text = policy + " " + kind;
    if (in >> knob && knob[0] != '(') {
      text += " " + knob;
      if (in >> from >> arrow >> to && arrow == "->") text += " " + from + " -> " + to;
    }
    out.push_back({t_ms, text});
  }
  return out;
}

std::vector<std::string> texts(const std::vector<DemoDecision>& list) {
  std::vector<std::string> out;
  for (const DemoDecision& d : list) out.push_back(d.text);
  return out;
}

// "+14.0s grow_pool applied pool_size 2 -> 8" per line, timed from `start_ms`, for the failure
// message.
std::string timeline(const std::vector<DemoDecision>& list, int64_t start_ms) {
  std::string out;
  char t[32];
  for (const DemoDecision& d : list) {
    std::snprintf(t, sizeof t, "+%.1fs ", static_cast<double>(d.t_ms - start_ms) / 1000);
    out += "  " + std::string(t) + d.text + "\n";
  }
  return out;
}

// One run of both copies side by side. Each verdict rests on some ten live samples of each
// side, so a borderline one can fall either way in either copy: a first run whose decisions
// differ is reported and run again, and the second run's must agree. A systematic difference
// (the query source reading late, or wrong) differs both times.
bool run_twins(bool last_attempt) {
  // Declared first, so it goes last: every process below is stopped before its files go.
  TempDir dir;
  DemoTwin a(dir.file("a")), b(dir.file("b"));
  REQUIRE(mkdir(a.dir.c_str(), 0700) == 0);
  REQUIRE(mkdir(b.dir.c_str(), 0700) == 0);
  REQUIRE(mkdir(dir.file("prometheus").c_str(), 0700) == 0);
  REQUIRE(start_service(a) == "");
  REQUIRE(start_service(b) == "");

  // Prometheus scrapes B's service every second into a TSDB in the temporary directory. The
  // daemons start once it has scraped, so B's first poll already finds samples.
  PrometheusServer prometheus(dir.file("prometheus"), dir.file("prometheus/data"),
                              PrometheusScrapeJob{"demo", b.address()});
  {
    bool up = prometheus.wait_until_up("demo", std::chrono::seconds(20));
    INFO("Prometheus has not scraped B's service:\n" << prometheus.log());
    REQUIRE(up);
  }

  std::string config_a = demo_config(std::to_string(a.port), "");
  std::string config_b = demo_config(std::to_string(b.port), prometheus.url());
  REQUIRE(config_a != "");
  REQUIRE(config_b != "");
  REQUIRE(config_b.find("[[scrape]]") == std::string::npos);
  write_text(a.config(), config_a);
  write_text(b.config(), config_b);
  for (const DemoTwin* twin : {&a, &b}) {
    ProcessResult check = run_setpoint({"check", "--config", twin->config()});
    INFO(check.out << check.err);
    REQUIRE(check.exit_code == 0);
  }

  // Both daemons, then both loads, at once: the two copies see the same profile from the same
  // moment, each daemon with its own state file and control socket.
  for (DemoTwin* twin : {&a, &b}) {
    twin->daemon = std::make_unique<DemoTwinChild>(
        std::vector<std::string>{SETPOINT_BINARY, "run", "--config", twin->config(), "--duration",
                                 kRunDuration, "--live", "--record", twin->recording()},
        twin->dir + "/setpoint.log");
  }
  for (DemoTwin* twin : {&a, &b}) {
    twin->load = std::make_unique<DemoTwinChild>(
        std::vector<std::string>{SETPOINT_DEMO_LOAD, "--target", twin->address(), "--profile",
                                 kLoadProfile, "--seed", kSeed},
        twin->dir + "/load.log");
  }
  int exit_a = a.daemon->wait_exit(std::chrono::seconds(90));
  int exit_b = b.daemon->wait_exit(std::chrono::seconds(30));
  for (DemoTwin* twin : {&a, &b}) {
    twin->load->stop();
    twin->service->stop();
  }
  prometheus.stop();
  INFO("A (scrape source):\n"
       << a.daemon->log() << "\nB (query source):\n"
       << b.daemon->log() << "\nservice A:\n"
       << a.service->log() << "service B:\n"
       << b.service->log());
  REQUIRE(exit_a == 0);
  REQUIRE(exit_b == 0);
  // B's samples came through Prometheus, which adds the target's `instance` to every series;
  // A's scrape adds only the config's `job`.
  CHECK(read_text(b.recording()).find("instance=\"" + b.address() + "\"") != std::string::npos);
  CHECK(read_text(a.recording()).find("instance=") == std::string::npos);

  // A's daemon reads its service the moment it scrapes; B's reads a sample only at its next
  // poll of Prometheus, up to a second after Prometheus scraped it, so B decides about a second
  // later than A. The times differ; the decisions (policy, kind, knob, from, to) and their
  // order may not.
  std::vector<DemoDecision> decided_a = decisions(a.recording());
  std::vector<DemoDecision> decided_b = decisions(b.recording());
  auto knobs = setpoint::read_run_annotations(a.recording()).knobs;
  int64_t start_ms = knobs.empty() ? 0 : knobs.front().t_ms;
  INFO("decisions of A (scrape source):\n"
       << timeline(decided_a, start_ms) << "decisions of B (query source via Prometheus):\n"
       << timeline(decided_b, start_ms));
  std::vector<std::string> story = texts(decided_a);
  auto applied = std::find(story.begin(), story.end(), "grow_pool applied pool_size 2 -> 8");
  REQUIRE(applied != story.end());
  bool confirmed = std::find(applied, story.end(), "grow_pool confirmed") != story.end();
  bool alike = texts(decided_b) == story;
  if (!last_attempt && !(confirmed && alike)) {
    WARN(
        "the two demos decided differently; a verdict on a few seconds of live samples can "
        "fall either way, so they run once more:\n"
        << timeline(decided_a, start_ms) << "and through Prometheus:\n"
        << timeline(decided_b, start_ms));
    return false;
  }
  CHECK(confirmed);
  CHECK(alike);
  return true;
}

}  // namespace

TEST_CASE(
    "the demo read through a real Prometheus takes the decisions of the demo scraped directly",
    "[e2e][prometheus]") {
#ifdef SETPOINT_SANITIZED
  // Under ASan the daemon reading through Prometheus lags by seconds and its triggers flap
  // between poll and timer evaluations, so its story may not finish within the run: a timing
  // artefact of the slower build (the optimized build runs this test), not a memory error.
  WARN("skipped in a sanitizer build: it compares timings, which ASan stretches");
  SUCCEED();
  return;
#endif
  if (find_program("prometheus").empty()) {
    WARN("prometheus is not installed (Debian package prometheus): the test is skipped");
    SUCCEED();
    return;
  }
  if (!run_twins(false)) run_twins(true);
}
