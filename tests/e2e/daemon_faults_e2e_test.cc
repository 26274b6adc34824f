// `setpoint run` against things that go wrong: scrape targets that are down, slow or answer
// garbage, actuators that hang or fail, kill -9 during a validation, a state file that cannot
// grow, the control API on a unix socket, and `action run` through a [run.NAME] table.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/canned_http_server.h"
#include "support/daemon_harness.h"
#include "support/fixtures.h"
#include "support/process.h"

using namespace setpoint::test;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// `pool` grows by 10 while `load` is above 1.5: one action per firing.
const char* kGrowPool = R"(
knob pool : int in 1..1000
policy grow_pool {
  trigger load > 1.5
  action set pool = pool + 10
}
)";

// A TOML (and JSON) string literal.
std::string q(const std::string& text) { return json(text).dump(); }

// A config in `dir` for `policy`: evaluations every 200 ms, the control API on `listen` with
// the token file, then `tables` ([[scrape]], [push], [knob.*], [run.*]). A relative unix
// socket path is made absolute, as the daemon makes it.
DaemonFiles faults_config(const TempDir& dir, const std::string& policy, const std::string& tables,
                          const std::string& listen = "127.0.0.1:0") {
  write_text(dir.file("policies.setpoint"), policy);
  write_daemon_token(dir.file("token"));
  write_text(dir.file("setpoint.toml"),
             "policies = [\"policies.setpoint\"]\n"
             "state_file = \"state.db\"\n"
             "evaluation_interval = \"200ms\"\n"
             "shutdown_deadline = \"5s\"\n"
             "\n[control]\nlisten = " +
                 q(listen) + "\ntoken_file = \"token\"\n\n" + tables);
  std::string address =
      listen.rfind("unix:", 0) == 0 ? "unix:" + dir.file(listen.substr(5)) : listen;
  return {dir.file("setpoint.toml"), address, dir.file("daemon.log")};
}

// `pool` written to the file `pool` by the file actuator (and read back from it), once a try.
std::string pool_file_knob() {
  return "[knob.pool]\nactuator = \"file\"\npath = \"pool\"\nretry = { attempts = 1 }\n";
}

std::string scrape_table(const std::string& name, const std::string& url,
                         const std::string& interval, const std::string& timeout,
                         const std::string& extra = {}) {
  return "[[scrape]]\nname = " + q(name) + "\nurl = " + q(url) + "\ninterval = " + q(interval) +
         "\ntimeout = " + q(timeout) + "\njitter = 0\n" + extra + "\n";
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Whether the first policy has no instance left: its trigger no longer holds. Polled without
// pushing, so that an evaluation sees the last sample pushed before the next one replaces it
// (a sample pushed in the millisecond of an evaluation is stamped just after it).
bool resolved(DaemonProcess& d) {
  json p = d.policies();
  return !p.empty() && p[0].contains("instances") && p[0]["instances"].empty();
}

}  // namespace

TEST_CASE("a scrape target that refuses connections is down with why, and acts once it is up",
          "[daemon-faults]") {
  TempDir dir;
  write_text(dir.file("pool"), "20\n");
  RefusingScrapeTarget target;
  DaemonProcess d(faults_config(
      dir, kGrowPool, scrape_table("app", target.url(), "200ms", "200ms") + pool_file_knob()));
  d.start();
  REQUIRE(d.until(
      [&] {
        json s = source_health(d.status(), "app");
        return s.value("failures", 0) >= 3;
      },
      ""));
  json app = source_health(d.status(), "app");
  CHECK(app["up"] == false);
  CHECK(app["last_error"] == "connection refused");
  CHECK(app["samples"] == 0);
  std::string metrics = d.metrics();
  CHECK(has_line(metrics, "setpoint_source_up{source=\"app\",kind=\"scrape\"} 0"));
  // No data is no reason to act: nothing pending, nothing done.
  json policy = d.policies()[0];
  CHECK(policy["name"] == "grow_pool");
  CHECK(policy["instances"].empty());
  CHECK(d.actions().empty());
  CHECK(trimmed(read_text(dir.file("pool"))) == "20");

  target.open("# TYPE load gauge\nload 2\n");
  REQUIRE(d.until(
      [&] {
        json a = d.actions();
        return !a.empty() && a[0].value("status", "") == "applied";
      },
      ""));
  CHECK(trimmed(read_text(dir.file("pool"))) == "30");
  app = source_health(d.status(), "app");
  CHECK(app["up"] == true);
  CHECK(app["last_error"] == "");
  CHECK(target.served() >= 1);
  json a = d.actions();
  CHECK(a.size() == 1);
  CHECK(a[0]["before"] == 20.0);
  CHECK(a[0]["after"] == 30.0);
  CHECK(d.terminate() == 0);
}

TEST_CASE("a scrape target slower than the timeout is down as timed out and nothing acts on it",
          "[daemon-faults]") {
  TempDir dir;
  write_text(dir.file("pool"), "20\n");
  CannedHttpServer slow([](const CannedRequest&) {
    CannedResponse r;
    r.body = "load 2\n";
    r.delay_ms = 3000;
    return r;
  });
  DaemonProcess d(faults_config(
      dir, kGrowPool,
      scrape_table("app", slow.url("/metrics"), "400ms", "300ms") + pool_file_knob()));
  d.start();
  REQUIRE(d.until([&] { return source_health(d.status(), "app").value("failures", 0) >= 2; }, ""));
  json app = source_health(d.status(), "app");
  CHECK(app["up"] == false);
  CHECK(app["last_error"] == "timed out after 0.3s");
  CHECK(app["samples"] == 0);
  CHECK(d.policies()[0]["instances"].empty());
  CHECK(d.actions().empty());
  CHECK(trimmed(read_text(dir.file("pool"))) == "20");
  CHECK(d.terminate() == 0);
  // The daemon asked for what Prometheus asks for, with the timeout it would wait.
  std::vector<CannedRequest> asked = slow.requests();
  REQUIRE_FALSE(asked.empty());
  CHECK(asked[0].header("x-prometheus-scrape-timeout-seconds") == "0.3");
}

TEST_CASE("malformed scrape lines are counted and skipped, and a body over max_body fails",
          "[daemon-faults]") {
  TempDir dir;
  write_text(dir.file("pool"), "20\n");
  // Three lines that are not exposition text around one good sample; the last one is cut off.
  CannedHttpServer garbage([](const CannedRequest&) {
    CannedResponse r;
    r.body =
        "# TYPE load gauge\n"
        "load 2\n"
        "this line is not exposition text\n"
        "queue_depth{shard=\"a\" 7\n"
        "half_a_li";
    return r;
  });
  std::string huge_body;
  while (huge_body.size() < (size_t{10} << 20)) huge_body += "padding_series_total 1\n";
  CannedHttpServer huge([&huge_body](const CannedRequest&) {
    CannedResponse r;
    r.body = huge_body;
    return r;
  });
  // One scrape each in the test's time: the counts are those of exactly one body.
  DaemonProcess d(faults_config(
      dir, kGrowPool,
      scrape_table("app", garbage.url("/metrics"), "1m", "5s") +
          scrape_table("huge", huge.url("/metrics"), "1m", "5s", "max_body = \"1MiB\"\n") +
          pool_file_knob()));
  d.start();
  REQUIRE(d.until(
      [&] {
        json s = d.status();
        return source_health(s, "app").value("up", false) &&
               source_health(s, "huge").value("failures", 0) == 1;
      },
      ""));
  json s = d.status();
  json app = source_health(s, "app");
  CHECK(app["skipped_lines"] == 3);
  CHECK(app["attempts"] == 1);
  CHECK(app["last_error"] == "");
  json big = source_health(s, "huge");
  CHECK(big["up"] == false);
  CHECK(big["last_error"] == "body larger than 1048576 bytes");
  CHECK(big["samples"] == 0);
  std::string metrics = d.metrics();
  CHECK(has_line(metrics, "setpoint_source_skipped_lines_total{source=\"app\"} 3"));
  CHECK(has_line(metrics, "setpoint_source_failures_total{source=\"huge\"} 1"));
  // The good line still counts: load 2 acts.
  REQUIRE(d.until(
      [&] {
        json a = d.actions();
        return !a.empty() && a[0].value("status", "") == "applied";
      },
      ""));
  CHECK(trimmed(read_text(dir.file("pool"))) == "30");
  CHECK(d.terminate() == 0);
}

TEST_CASE("an actuator that hangs is killed at its timeout with its group and recorded as failed",
          "[daemon-faults]") {
  TempDir dir;
  write_text(dir.file("pool"), "20\n");
  // sleep adds its arguments: 30 s and the value, far past the timeout.
  DaemonProcess d(faults_config(dir, kGrowPool,
                                "[push]\nenabled = true\n\n[knob.pool]\nactuator = \"exec\"\n"
                                "argv = [\"/bin/sleep\", \"30\", \"{value}\"]\nread_argv = "
                                "[\"/bin/cat\", " +
                                    q(dir.file("pool")) +
                                    "]\ntimeout = \"300ms\"\nretry = { attempts = 1 }\n"));
  d.start();
  // A push evaluates before it is answered, so once it has acted the command is running.
  pid_t group = 0;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (group == 0 && Clock::now() < deadline) {
    d.push("load 2\n");
    group = child_group(d.pid(), "sleep");
    if (group == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(group > 0);
  // Should the test stop early, its command does not outlive it.
  struct FaultsGroupGuard {
    pid_t group;
    ~FaultsGroupGuard() {
      for (const ProcessEntry& p : list_processes()) {
        if (p.group == group && p.name == "sleep") kill(p.pid, SIGKILL);
      }
    }
  } guard{group};
  REQUIRE(d.until(
      [&] {
        json a = d.actions();
        return !a.empty() && a[0].value("status", "") != "applying";
      },
      ""));
  json a = d.actions();
  REQUIRE(a.size() == 1);
  CHECK(a[0]["status"] == "failed");
  CHECK(a[0]["error"] == "timed out after 0.3s");
  json history = d.history();
  std::vector<json> results = audit_records(history, "action_result");
  REQUIRE(results.size() == 1);
  CHECK(results[0]["body"]["ok"] == false);
  CHECK(results[0]["body"]["error"] == "timed out after 0.3s");
  CHECK(results[0]["body"]["attempts"] == 1);
  std::vector<json> failed = audit_records(history, "event", "action_failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["body"]["reason"] == "timed out after 0.3s");
  // Nothing of the command is left, and the knob kept its value.
  CHECK_FALSE(group_alive(group));
  CHECK(trimmed(read_text(dir.file("pool"))) == "20");
  CHECK(d.status()["knobs"]["pool"] == 20.0);
  CHECK(d.terminate() == 0);
}

TEST_CASE("an exec actuator that exits 3 is recorded with its stderr and counted as an error",
          "[daemon-faults]") {
  TempDir dir;
  write_text(dir.file("pool"), "20\n");
  // The second error in a row quarantines the policy: the count is what shows it.
  const char* policy = R"(
knob pool : int in 1..1000
policy grow_pool {
  trigger load > 1.5
  action set pool = pool + 10
  quarantine after 2 errors
}
)";
  // The command is a shell given as argv by the config (the daemon never adds one).
  DaemonProcess d(faults_config(
      dir, policy,
      "[push]\nenabled = true\n\n[knob.pool]\nactuator = \"exec\"\n"
      "argv = [\"/bin/sh\", \"-c\", \"echo pool is locked by a migration >&2; exit 3\", \"sh\", "
      "\"{value}\"]\nread_argv = [\"/bin/cat\", " +
          q(dir.file("pool")) + "]\ntimeout = \"5s\"\nretry = { attempts = 1 }\n"));
  d.start();
  auto failed_count = [&] {
    int n = 0;
    for (const json& a : d.actions()) n += a.value("status", "") == "failed";
    return n;
  };
  REQUIRE(d.until([&] { return failed_count() == 1; }));
  json a = d.actions()[0];
  CHECK(a["error"] == "exit status 3");
  std::vector<json> results = audit_records(d.history(), "action_result");
  REQUIRE(results.size() == 1);
  CHECK(results[0]["body"]["error"] == "exit status 3");
  CHECK(results[0]["body"]["output"] == "pool is locked by a migration");
  CHECK(d.policies()[0]["quarantined"] == false);
  // The trigger ends and holds again: a second action, a second error, and the policy stops.
  REQUIRE(d.push_taken("load 1\n"));
  REQUIRE(d.until([&] { return resolved(d); }, ""));
  REQUIRE(d.until([&] { return failed_count() == 2; }));
  REQUIRE(d.until([&] { return d.policies()[0].value("quarantined", false); }, ""));
  std::vector<json> quarantined = audit_records(d.history(), "event", "quarantined");
  REQUIRE(quarantined.size() == 1);
  CHECK(quarantined[0]["body"]["reason"] == "2 validation errors: the limit of 2 is exhausted");
  CHECK(has_line(d.metrics(), "setpoint_actions_total{outcome=\"failed\"} 2"));
  CHECK(trimmed(read_text(dir.file("pool"))) == "20");
  CHECK(d.terminate() == 0);
}

TEST_CASE("an http actuator answering 500 is recorded with the status and the body's start",
          "[daemon-faults]") {
  TempDir dir;
  CannedHttpServer service([](const CannedRequest& r) {
    CannedResponse out;
    if (r.method == "PUT") {
      out.status = 500;
      out.body = "pool is locked by a migration\n";
    } else {
      out.body = "20\n";
    }
    return out;
  });
  DaemonProcess d(faults_config(dir, kGrowPool,
                                "[push]\nenabled = true\n\n[knob.pool]\nactuator = \"http\"\n"
                                "url = " +
                                    q(service.url("/knobs/pool")) +
                                    "\nread_url = " + q(service.url("/knobs/pool")) +
                                    "\ntimeout = \"2s\"\nretry = { attempts = 1 }\n"));
  d.start();
  REQUIRE(d.until([&] {
    json a = d.actions();
    return !a.empty() && a[0].value("status", "") == "failed";
  }));
  json a = d.actions();
  REQUIRE(a.size() == 1);
  CHECK(a[0]["error"] == "HTTP 500");
  CHECK(a[0]["before"] == 20.0);
  CHECK(a[0]["after"] == 30.0);
  std::vector<json> results = audit_records(d.history(), "action_result");
  REQUIRE(results.size() == 1);
  CHECK(results[0]["body"]["error"] == "HTTP 500");
  CHECK(trimmed(results[0]["body"]["output"]) == "pool is locked by a migration");
  int puts = 0;
  for (const CannedRequest& r : service.requests()) {
    if (r.method != "PUT") continue;
    ++puts;
    CHECK(r.target == "/knobs/pool");
    CHECK(r.body == "30");
  }
  CHECK(puts == 1);
  CHECK(d.status()["knobs"]["pool"] == 20.0);
  CHECK(d.terminate() == 0);
}

TEST_CASE("after kill -9 during a validation the restart resumes it and never applies twice",
          "[daemon-faults]") {
  TempDir dir;
  // The service: its latency falls from 1 s to 200 ms once it has 16 workers.
  std::mutex mutex;
  int workers = 8;
  int puts = 0;
  CannedHttpServer service([&](const CannedRequest& r) {
    std::lock_guard<std::mutex> lock(mutex);
    CannedResponse out;
    if (r.target == "/workers" && r.method == "PUT") {
      workers = std::atoi(r.body.c_str());
      ++puts;
      out.body = "ok\n";
    } else if (r.target == "/workers") {
      out.body = std::to_string(workers) + "\n";
    } else {
      out.body = std::string("service_latency_seconds ") + (workers >= 16 ? "0.2" : "1") + "\n";
    }
    return out;
  });
  const char* policy = R"(
knob workers : int in 1..64
policy add_workers {
  trigger service_latency_seconds > 500ms for 2s
  action set workers = 16
  expect service_latency_seconds decreases by 20% within 4s
}
)";
  DaemonProcess d(
      faults_config(dir, policy,
                    scrape_table("service", service.url("/metrics"), "100ms", "100ms") +
                        "[knob.workers]\nactuator = \"http\"\nurl = " + q(service.url("/workers")) +
                        "\nread_url = " + q(service.url("/workers")) +
                        "\ntimeout = \"2s\"\nretry = { attempts = 1 }\n"));
  d.start();
  REQUIRE(d.until(
      [&] {
        json a = d.actions();
        return !a.empty() && a[0].value("status", "") == "applied";
      },
      ""));
  json s = d.status();
  INFO("actions: " << d.actions().dump() << "\nstatus: " << s.dump());
  REQUIRE(s["validations"].size() == 1);
  CHECK(s["validations"][0]["action"] == 1);
  CHECK(s["validations"][0]["policy"] == "add_workers");
  d.crash();

  d.start();
  auto verdicts = [&] {
    std::vector<json> out;
    for (const char* kind : {"confirmed", "inconclusive", "regressed"}) {
      for (json& r : audit_records(d.history(), "event", kind)) out.push_back(std::move(r));
    }
    return out;
  };
  REQUIRE(d.until([&] { return !verdicts().empty(); }, ""));
  std::vector<json> v = verdicts();
  REQUIRE(v.size() == 1);
  CHECK(v[0]["body"]["event"] == "confirmed");
  CHECK(v[0]["body"]["action"] == 1);
  // Judged by the second run: after its start record.
  std::vector<json> starts = audit_records(d.history(), "start");
  REQUIRE(starts.size() == 2);
  CHECK(v[0]["seq"].get<int>() > starts[1]["seq"].get<int>());
  json a = d.actions();
  REQUIRE(a.size() == 1);
  CHECK(a[0]["status"] == "applied");
  CHECK(d.status()["validations"].empty());
  {
    std::lock_guard<std::mutex> lock(mutex);
    CHECK(puts == 1);
    CHECK(workers == 16);
  }
  CHECK(d.terminate() == 0);
  ProcessResult audit = run_setpoint({"audit", "verify", "--state", dir.file("state.db")});
  CHECK(audit.exit_code == 0);
  CHECK(audit.out.rfind("audit log ok: ", 0) == 0);
}

TEST_CASE("after a restart nothing is evaluated before a slow first scrape answers",
          "[daemon-faults]") {
  TempDir dir;
  write_text(dir.file("pool"), "20\n");
  std::atomic<int> delay_ms{0};
  CannedHttpServer target([&](const CannedRequest&) {
    CannedResponse r;
    r.body = "load 2\n";
    r.delay_ms = delay_ms.load();
    return r;
  });
  const char* policy = R"(
knob pool : int in 1..1000
policy grow_pool {
  trigger load > 1.5 for 3s
  action set pool = pool + 10
}
)";
  DaemonProcess d(faults_config(
      dir, policy, scrape_table("app", target.url("/metrics"), "2s", "1500ms") + pool_file_knob()));
  d.start();
  auto pending = [&] {
    json p = d.policies();
    return !p.empty() && p[0]["instances"].size() == 1 &&
           p[0]["instances"][0].value("state", "") == "pending";
  };
  REQUIRE(d.until(pending, ""));
  d.crash();

  // The first scrape after the restart takes 1 s; evaluations are due every 200 ms meanwhile.
  delay_ms = 1000;
  d.start();
  REQUIRE(d.until(
      [&] {
        json a = d.actions();
        return !a.empty() && a[0].value("status", "") == "applied";
      },
      ""));
  // Had it evaluated an empty store, the hold would have ended for want of data.
  json history = d.history();
  CHECK(audit_records(history, "event", "resolved").empty());
  CHECK(audit_records(history, "event", "pending").size() == 1);
  CHECK(audit_records(history, "event", "firing").size() == 1);
  CHECK(d.actions().size() == 1);
  CHECK(d.terminate() == 0);
}

TEST_CASE("a state file that cannot grow is reported, the daemon goes on, and the file stays whole",
          "[daemon-faults]") {
  TempDir dir;
  write_text(dir.file("pool"), "20\n");
  DaemonProcess d(faults_config(dir, kGrowPool, "[push]\nenabled = true\n\n" + pool_file_knob()));
  auto applied = [&](double after) {
    for (const json& a : d.actions()) {
      if (a.value("status", "") == "applied" && a.value("after", 0.0) == after) return true;
    }
    return false;
  };
  // A first run with room: one action, applied and recorded; at its end the write-ahead log is
  // folded into the file.
  d.start();
  REQUIRE(d.until([&] { return applied(30); }));
  REQUIRE(d.terminate() == 0);
  std::string state = dir.file("state.db");
  std::vector<std::pair<int64_t, std::string>> before = stored_audit_hashes(state);
  REQUIRE(before.size() >= 3);
  struct stat st {};
  REQUIRE(stat(state.c_str(), &st) == 0);

  // Then no file of the daemon may grow past that size (SQLite's shared memory file needs
  // 32 KiB), as if the disk were full: the write-ahead log fills after a few transactions.
  SpawnOptions full;
  full.file_size_limit = std::max<uint64_t>(static_cast<uint64_t>(st.st_size), 32 * 1024);
  d.start(full);
  REQUIRE(d.until(
      [&] {
        d.post("/api/v1/pause", "{}");
        d.post("/api/v1/resume", "{}");
        return d.status().value("store_errors", 0) > 0;
      },
      ""));
  INFO(d.log());
  CHECK(d.log().find("error state store: cannot ") != std::string::npos);
  CHECK(d.log().find(": disk I/O error") != std::string::npos);
  // An action it cannot record is not carried out: after a crash nothing would settle it.
  REQUIRE(d.push_taken("load 1\n"));
  REQUIRE(d.until([&] { return resolved(d); }, ""));
  REQUIRE(d.until(
      [&] { return has_line(d.metrics(), "setpoint_actions_total{outcome=\"failed\"} 1"); }));
  CHECK(d.log().find("not carried out: cannot record action ") != std::string::npos);
  CHECK(trimmed(read_text(dir.file("pool"))) == "30");
  CHECK(d.status()["knobs"]["pool"] == 30.0);
  CHECK(d.running());
  CHECK(d.terminate() == 0);

  // With the limit lifted (this process has none), the file reads back whole, with every
  // record written before the limit as it was.
  CHECK(sqlite_integrity(state) == "ok");
  ProcessResult audit = run_setpoint({"audit", "verify", "--state", state});
  CHECK(audit.exit_code == 0);
  CHECK(audit.out.rfind("audit log ok: ", 0) == 0);
  std::vector<std::pair<int64_t, std::string>> after = stored_audit_hashes(state);
  REQUIRE(after.size() >= before.size());
  for (size_t i = 0; i < before.size(); ++i) CHECK(after[i] == before[i]);
  // And the daemon runs on it again: the next firing acts.
  d.start();
  CHECK(d.status()["store_errors"] == 0);
  // The engine state it restores is the last one written: paused, when the disk filled between
  // a pause and the resume after it.
  d.post("/api/v1/resume", "{}");
  REQUIRE(d.status()["paused"] == false);
  REQUIRE(d.push_taken("load 1\n"));
  REQUIRE(d.until([&] { return resolved(d); }, ""));
  REQUIRE(d.until([&] { return applied(40); }));
  CHECK(trimmed(read_text(dir.file("pool"))) == "40");
  CHECK(d.terminate() == 0);
}

TEST_CASE("the control API on a unix socket answers, is mode 0600, and is removed at shutdown",
          "[daemon-faults]") {
  TempDir dir;
  write_text(dir.file("pool"), "20\n");
  DaemonProcess d(faults_config(dir, kGrowPool, "[push]\nenabled = true\n\n" + pool_file_knob(),
                                "unix:control.sock"));
  d.start();
  std::string socket = dir.file("control.sock");
  struct stat st {};
  REQUIRE(lstat(socket.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(d.status()["policies"] == 1);
  // Over the socket too, a change needs the token.
  CHECK(d.post("/api/v1/pause", "{}", "").status == 401);
  REQUIRE(d.until([&] { return trimmed(read_text(dir.file("pool"))) == "30"; }));
  ProcessResult ctl = run_setpoint({"ctl", "--config", dir.file("setpoint.toml"), "status"});
  CHECK(ctl.exit_code == 0);
  CHECK(ctl.out.find("knob pool = 30\n") != std::string::npos);

  // After kill -9 the socket file stays; the next start replaces it.
  d.crash();
  REQUIRE(lstat(socket.c_str(), &st) == 0);
  d.start();
  CHECK(d.status()["knobs"]["pool"] == 30.0);
  REQUIRE(lstat(socket.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(d.terminate() == 0);
  int rc = lstat(socket.c_str(), &st);
  int error = errno;
  CHECK(rc != 0);
  CHECK(error == ENOENT);
}

TEST_CASE("action run starts its exec actuator once with its argv as given and records its exit",
          "[daemon-faults]") {
  TempDir dir;
  const char* policy = R"(
policy make_marker {
  trigger load > 1.5
  action run make_marker(grace = 30s)
}
policy make_marker_again {
  trigger load > 3
  action run make_marker_again()
}
)";
  // One directory whose name a shell would split, glob and expand: mkdir gets it as one
  // argument or it makes something else. A second mkdir of it fails with exit status 1.
  std::string marker = dir.file("marker two words * $HOME");
  std::string argv = "argv = [\"/bin/mkdir\", " + q(marker) + "]\n";
  DaemonProcess d(faults_config(dir, policy,
                                "[push]\nenabled = true\n\n[run.make_marker]\nactuator = "
                                "\"exec\"\n" +
                                    argv +
                                    "retry = { attempts = 1 }\n\n[run.make_marker_again]\n"
                                    "actuator = \"exec\"\n" +
                                    argv + "retry = { attempts = 1 }\n"));
  d.start();
  REQUIRE(d.until([&] { return audit_records(d.history(), "run").size() == 1; }));
  struct stat st {};
  CHECK(stat(marker.c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  std::vector<json> runs = audit_records(d.history(), "run");
  CHECK(runs[0]["body"]["actuator"] == "make_marker");
  CHECK(runs[0]["body"]["ok"] == true);
  CHECK(runs[0]["body"]["error"] == "");
  // The firing goes on: nothing more runs.
  for (int i = 0; i < 5; ++i) REQUIRE(d.push("load 2\n").status == 200);
  CHECK(audit_records(d.history(), "run").size() == 1);

  REQUIRE(d.until([&] { return audit_records(d.history(), "run").size() == 2; }, "load 4\n"));
  runs = audit_records(d.history(), "run");
  CHECK(runs[1]["body"]["actuator"] == "make_marker_again");
  CHECK(runs[1]["body"]["ok"] == false);
  CHECK(runs[1]["body"]["error"] == "exit status 1");
  for (int i = 0; i < 5; ++i) REQUIRE(d.push("load 4\n").status == 200);
  std::string metrics = d.metrics();
  CHECK(has_line(metrics, "setpoint_actions_total{outcome=\"run\"} 1"));
  CHECK(has_line(metrics, "setpoint_actions_total{outcome=\"run_failed\"} 1"));
  // SIGTERM waits for runs in flight: a run that should not have started is in the file now.
  CHECK(d.terminate() == 0);
  int stored_runs = 0;
  for (const auto& [seq, kind] : stored_audit_kinds(dir.file("state.db")))
    stored_runs += kind == "run";
  CHECK(stored_runs == 2);
}
