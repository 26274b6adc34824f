// `setpoint run` as an operator runs it: the real binary, metrics pushed over loopback HTTP,
// knobs set by real child processes, the control API with its token, signals, kill -9 and a
// restart. Every daemon a test starts is stopped (or killed) before the test ends.
#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/state_store.h"
#include "support/daemon_harness.h"
#include "support/fixtures.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/prometheus_server.h"

using namespace setpoint::test;
using nlohmann::json;

namespace {

// Sets `pool` by writing its value to a file; reads it back from there.
const char* kPolicy = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger load > 1.5
  action set pool = pool + 10
}
)";

// The config of these tests: policy `policy`, knob `pool` set by `actuator_argv` and read
// back from the file `pool`, metrics pushed; `extra` goes among the top-level keys.
DaemonFiles write_config(TempDir& dir, const std::string& policy, const std::string& actuator_argv,
                         const std::string& extra) {
  write_text(dir.file("policies.setpoint"), policy);
  struct stat st {};
  if (stat(dir.file("pool").c_str(), &st) != 0) write_text(dir.file("pool"), "20\n");
  write_daemon_token(dir.file("token"));
  // A fixed port, not 0: `setpoint ctl --config` reads it from the config.
  std::string listen = "127.0.0.1:" + std::to_string(free_local_port());
  write_text(dir.file("setpoint.toml"),
             "policies = [\"policies.setpoint\"]\n"
             "state_file = \"state.db\"\n"
             "evaluation_interval = \"1s\"\n"
             "shutdown_deadline = \"5s\"\n" +
                 extra + "\n[control]\nlisten = \"" + listen +
                 "\"\n"
                 "token_file = \"token\"\n"
                 "\n[push]\nenabled = true\nmax_body = \"64KiB\"\n"
                 "\n[knob.pool]\nactuator = \"exec\"\nargv = " +
                 actuator_argv + "\nread_argv = [\"/bin/cat\", \"" + dir.file("pool") +
                 "\"]\ntimeout = \"10s\"\nretry = { attempts = 1 }\n");
  return {dir.file("setpoint.toml"), listen, dir.file("daemon.log")};
}

// One daemon in a temporary directory, started on that config.
class Daemon : public DaemonProcess {
 public:
  Daemon(TempDir& dir, const std::string& policy, const std::string& actuator_argv,
         const std::string& extra = {})
      : DaemonProcess(write_config(dir, policy, actuator_argv, extra)) {
    start();
  }
};

std::string write_pool_argv(const TempDir& dir) {
  return "[\"/bin/sh\", \"-c\", \"printf '%s\\\\n' \\\"$1\\\" > " + dir.file("pool") +
         "\", \"sh\", \"{value}\"]";
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

TEST_CASE("the daemon acts on pushed metrics through an exec actuator and records it", "[e2e]") {
  TempDir dir;
  Daemon d(dir, kPolicy, write_pool_argv(dir));
  REQUIRE(d.until([&] { return trimmed(read_text(dir.file("pool"))) == "30"; }));
  REQUIRE(d.until([&] { return d.actions()[0].value("status", "") == "applied"; }, ""));
  json a = d.actions()[0];
  CHECK(a["id"] == 1);
  CHECK(a["policy"] == "grow_pool");
  CHECK(a["knob"] == "pool");
  CHECK(a["before"] == 20.0);
  CHECK(a["after"] == 30.0);
  // One firing, one action: more pushes while it keeps firing change nothing.
  for (int i = 0; i < 5; ++i) d.push("load 2\n");
  CHECK(d.actions().size() == 1);
  CHECK(d.status()["knobs"]["pool"] == 30.0);

  ProcessResult ctl = run_setpoint({"ctl", "--config", dir.file("setpoint.toml"), "status"});
  CHECK(ctl.exit_code == 0);
  CHECK(ctl.out.find("knob pool = 30\n") != std::string::npos);

  CHECK(d.terminate() == 0);
  ProcessResult audit = run_setpoint({"audit", "verify", "--state", dir.file("state.db")});
  CHECK(audit.exit_code == 0);
  CHECK(audit.out.rfind("audit log ok: ", 0) == 0);
}

TEST_CASE("calls that change something need the token, and a huge body is refused", "[e2e]") {
  TempDir dir;
  Daemon d(dir, kPolicy, write_pool_argv(dir));
  CHECK(d.post("/api/v1/pause", "{}", "").status == 401);
  CHECK(d.post("/api/v1/pause", "{}", "wrong-token").status == 401);
  CHECK(d.post("/api/v1/push", "load 2\n", "").status == 401);
  CHECK(d.push(std::string(200 * 1024, 'x')).status == 413);
  CHECK(d.get("/api/v1/status").status == 200);  // reading needs no token
  CHECK(d.post("/api/v1/pause", "{\"policy\": \"nope\"}").status == 404);
  CHECK(d.post("/api/v1/pause", "not json").status == 400);
  // The daemon is still there and well.
  CHECK(d.post("/api/v1/pause", "{}").status == 200);
  CHECK(d.status()["paused"] == true);
  CHECK(d.terminate() == 0);
}

TEST_CASE("a paused daemon does not act, and acts once resumed", "[e2e]") {
  TempDir dir;
  Daemon d(dir, kPolicy, write_pool_argv(dir));
  REQUIRE(d.post("/api/v1/pause", "{}").status == 200);
  for (int i = 0; i < 10; ++i) d.push("load 2\n");
  CHECK(trimmed(read_text(dir.file("pool"))) == "20");
  ProcessResult ctl = run_setpoint({"ctl", "--config", dir.file("setpoint.toml"), "resume"});
  CHECK(ctl.exit_code == 0);
  CHECK(d.until([&] { return trimmed(read_text(dir.file("pool"))) == "30"; }));
  CHECK(d.terminate() == 0);
}

TEST_CASE("a failing actuator is recorded and the knob keeps its value", "[e2e]") {
  TempDir dir;
  Daemon d(dir, kPolicy,
           "[\"/bin/sh\", \"-c\", \"echo no such pool >&2; exit 3\", \"sh\", \"{value}\"]");
  REQUIRE(d.until([&] {
    json a = d.actions();
    return !a.empty() && a[0].value("status", "") == "failed";
  }));
  json a = d.actions()[0];
  CHECK(a["error"].get<std::string>().find("exit status 3") != std::string::npos);
  CHECK(d.status()["knobs"]["pool"] == 20.0);
  json history = json::parse(d.get("/api/v1/history?limit=1000").body);
  bool failed_event = false;
  for (const json& r : history) {
    if (r["kind"] == "event" && r["body"]["event"] == "action_failed") failed_event = true;
  }
  CHECK(failed_event);
  CHECK(d.terminate() == 0);
}

TEST_CASE("a reload with errors keeps the running policies and says why", "[e2e]") {
  TempDir dir;
  Daemon d(dir, kPolicy, write_pool_argv(dir));
  std::string hash = d.status()["policy_set"];
  write_text(dir.file("policies.setpoint"), "policy broken {\n  trigger load >\n}\n");
  HttpResponse r = d.post("/api/v1/reload", "{}");
  CHECK(r.status == 422);
  CHECK(r.body.find("policies.setpoint:2:") != std::string::npos);
  json s = d.status();
  CHECK(s["policy_set"] == hash);
  CHECK_FALSE(s["reload_errors"].empty());
  // The running set still acts.
  CHECK(d.until([&] { return trimmed(read_text(dir.file("pool"))) == "30"; }));
  // A good file replaces it (on SIGHUP, as on a change to the file).
  write_text(dir.file("policies.setpoint"), std::string(kPolicy) + "# changed\n");
  d.signal(SIGHUP);
  CHECK(d.until([&] { return d.status()["policy_set"] != hash; }, ""));
  CHECK(d.status()["reload_errors"].empty());
  CHECK(d.terminate() == 0);
}

TEST_CASE("the store keeps a row per loaded policy: a reload drops the rows of policies it drops",
          "[e2e]") {
  TempDir dir;
  std::string two =
      std::string(kPolicy) + "policy idle {\n  trigger load > 100\n  action set pool = 1\n}\n";
  Daemon d(dir, two, write_pool_argv(dir));
  CHECK(d.until([&] { return trimmed(read_text(dir.file("pool"))) == "30"; }));
  write_text(dir.file("policies.setpoint"), kPolicy);
  std::string hash = d.status()["policy_set"];
  d.signal(SIGHUP);
  CHECK(d.until([&] { return d.status()["policy_set"] != hash; }, ""));
  CHECK(d.terminate() == 0);
  std::string error;
  std::unique_ptr<setpoint::StateStore> store =
      setpoint::StateStore::open(dir.file("state.db"), error);
  REQUIRE(store);
  auto rows = store->policy_states();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].first == "grow_pool");
  json row = json::parse(rows[0].second);
  CHECK(row["name"] == "grow_pool");
  CHECK(row["last_action"].is_number());
  CHECK(json::parse(*store->engine_state())["policies"].empty());
}

TEST_CASE("after kill -9 during an action, a restart reconciles it and never applies it twice",
          "[e2e]") {
  TempDir dir;
  // The actuator takes its time: the crash comes while it is still running.
  std::string slow = "[\"/bin/sh\", \"-c\", \"sleep 30; printf '%s\\\\n' \\\"$1\\\" > " +
                     dir.file("pool") + "\", \"sh\", \"{value}\"]";
  {
    Daemon d(dir, kPolicy, slow);
    REQUIRE(d.until([&] {
      json a = d.actions();
      return !a.empty() && a[0].value("status", "") == "applying";
    }));
    d.crash();
  }
  CHECK(trimmed(read_text(dir.file("pool"))) == "20");
  Daemon again(dir, kPolicy, slow);
  REQUIRE(again.until(
      [&] {
        json a = again.actions();
        return !a.empty() && a[0].value("status", "") != "applying";
      },
      ""));
  json a = again.actions();
  CHECK(a.size() == 1);
  CHECK(a[0]["status"] == "failed");
  CHECK(a[0]["error"] == "interrupted by a restart before it took effect");
  // The firing it belonged to still counts as acted on: no second action while it lasts.
  for (int i = 0; i < 10; ++i) again.push("load 2\n");
  CHECK(again.actions().size() == 1);
  CHECK(again.status()["knobs"]["pool"] == 20.0);
  CHECK(again.terminate() == 0);
}

TEST_CASE("SIGTERM waits for an action in flight, then exits 0", "[e2e]") {
  TempDir dir;
  std::string slowish = "[\"/bin/sh\", \"-c\", \"sleep 1; printf '%s\\\\n' \\\"$1\\\" > " +
                        dir.file("pool") + "\", \"sh\", \"{value}\"]";
  Daemon d(dir, kPolicy, slowish);
  REQUIRE(d.until([&] {
    json a = d.actions();
    return !a.empty() && a[0].value("status", "") == "applying";
  }));
  CHECK(d.terminate() == 0);
  CHECK(trimmed(read_text(dir.file("pool"))) == "30");
  // The outcome was stored before it exited.
  Daemon again(dir, kPolicy, slowish);
  CHECK(again.actions()[0]["status"] == "applied");
  CHECK(again.terminate() == 0);
}

TEST_CASE("run refuses a retention shorter than what the policies read", "[e2e]") {
  TempDir dir;
  const char* policy =
      "knob pool : int in 1..100\n"
      "policy p {\n  trigger avg_over_time(load[10m]) > 1.5\n  action set pool = pool + 10\n}\n";
  DaemonFiles files = write_config(dir, policy, write_pool_argv(dir), "retention = \"5m\"");
  ProcessResult r = run_setpoint({"run", "--config", files.config});
  CHECK(r.exit_code == 2);
  std::string path = dir.file("policies.setpoint");
  CHECK(r.err.find("setpoint: the policies have errors:\n" + path +
                   ":3:25: error: this reads 10m of history, but " + files.config +
                   " keeps 5m (retention)\n"
                   " 3 |   trigger avg_over_time(load[10m]) > 1.5\n"
                   "   |                         ^^^^^^^^^\n"
                   " = hint: set retention = \"10m\" or more in " +
                   files.config + ": the daemon forgets samples older than that\n") !=
        std::string::npos);
}

TEST_CASE("a reload reading more than the retention keeps the running policies", "[e2e]") {
  TempDir dir;
  Daemon d(dir, kPolicy, write_pool_argv(dir), "retention = \"5m\"");
  std::string hash = d.status()["policy_set"];
  write_text(
      dir.file("policies.setpoint"),
      "knob pool : int in 1..100\n"
      "policy p {\n  trigger avg_over_time(load[1h]) > 1.5\n  action set pool = pool + 10\n}\n");
  HttpResponse r = d.post("/api/v1/reload", "{}");
  CHECK(r.status == 422);
  CHECK(r.body.find("policies.setpoint:3:25: error: this reads 1h of history") !=
        std::string::npos);
  CHECK(d.status()["policy_set"] == hash);
  CHECK(d.terminate() == 0);
}
