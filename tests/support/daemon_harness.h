// `setpoint run` as the end-to-end tests drive it: the real binary on a config in a temporary
// directory, its control API over loopback TCP or a unix socket, its log, signals and kill -9;
// readers of what it answered and stored, and a scrape target that is down until opened.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/http_client.h"
#include "support/process.h"

namespace setpoint::test {

// The bearer token of every daemon the tests start.
inline constexpr const char* kDaemonToken = "secret-token";

// Writes kDaemonToken to `path` with mode 0600, as the daemon requires of its token file.
void write_daemon_token(const std::string& path);

// What a daemon runs on, all paths absolute.
struct DaemonFiles {
  std::string config;  // its setpoint.toml
  // Its [control] listen: "127.0.0.1:PORT", "127.0.0.1:0" (the port is read from its log once
  // it listens) or "unix:/path".
  std::string listen;
  std::string log;  // its stdout and stderr, truncated at each start
};

// A process of the daemon's children (or anyone's): as /proc/PID/stat says.
struct ProcessEntry {
  pid_t pid = 0;
  pid_t parent = 0;
  pid_t group = 0;
  std::string name;
};
std::vector<ProcessEntry> list_processes();

// What a daemon answered: the audit records of one kind from GET /api/v1/history, oldest first
// (with `event`, only the events of that kind); one source's health from GET /api/v1/status
// (an empty object when it has none of that name); whether `text` has `line` as a whole line.
std::vector<nlohmann::json> audit_records(const nlohmann::json& history, const std::string& kind,
                                          const std::string& event = {});
nlohmann::json source_health(const nlohmann::json& status, const std::string& name);
bool has_line(const std::string& text, const std::string& line);

// What a state file holds, read straight from it, read-only: (seq, `column`) of every audit
// record; and SQLite's own check of the file's structure ("ok" when nothing is damaged).
std::vector<std::pair<int64_t, std::string>> stored_audit(const std::string& state_file,
                                                          const std::string& column);
inline std::vector<std::pair<int64_t, std::string>> stored_audit_hashes(const std::string& path) {
  return stored_audit(path, "hash");
}
inline std::vector<std::pair<int64_t, std::string>> stored_audit_kinds(const std::string& path) {
  return stored_audit(path, "kind");
}
std::string sqlite_integrity(const std::string& path);

// The process group of a child of `parent` named `name` (0: none), and whether any process of
// a group is left.
pid_t child_group(pid_t parent, const std::string& name);
bool group_alive(pid_t group);

// A scrape target that is down until open(): its port on 127.0.0.1 is bound but not listening,
// so every connection to it is refused, and no other program can take the port meanwhile. Once
// open, a thread of its own answers every request with `body`.
class RefusingScrapeTarget {
 public:
  RefusingScrapeTarget();
  ~RefusingScrapeTarget();
  RefusingScrapeTarget(const RefusingScrapeTarget&) = delete;
  RefusingScrapeTarget& operator=(const RefusingScrapeTarget&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/metrics"; }
  int served() const { return served_; }  // requests answered
  void open(std::string body);

 private:
  bool readable(int fd);  // within 100 ms; false when stopping
  void serve(const std::string& body);

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

class DaemonProcess {
 public:
  explicit DaemonProcess(DaemonFiles files);
  ~DaemonProcess();  // crash() when it still runs
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts the daemon and waits until GET /api/v1/status answers. FAILs the test, with the log,
  // when it exits first or does not answer within 20 s.
  void start(const SpawnOptions& options = {});
  // SIGTERM, then its exit status (-1 when it died of a signal or did not exit within 20 s).
  int terminate();
  int wait_exit(std::chrono::seconds limit);
  // kill -9 of the daemon and every process it started (its actuators' commands too, which run
  // in sessions of their own), as a crash of its machine would.
  void crash();
  void signal(int sig);
  pid_t pid() const { return pid_; }
  bool running();  // started and not yet exited (a zombie is reaped here)

  HttpResponse get(const std::string& path);
  HttpResponse post(const std::string& path, const std::string& body,
                    const std::string& token = kDaemonToken);
  HttpResponse push(const std::string& text) { return post("/api/v1/push", text); }
  // Pushes `text` until the daemon takes every sample of it, at most 100 times: a sample pushed
  // within a millisecond of the one before can get the same timestamp, and is then refused as a
  // duplicate.
  bool push_taken(const std::string& text);
  // The parsed answers; an empty object (status, metrics) or array (the others) when the call
  // failed, so a condition polled while the daemon restarts reads false instead of throwing.
  nlohmann::json status();
  nlohmann::json actions();
  nlohmann::json policies();
  nlohmann::json history();  // the first 1000 audit records
  std::string metrics();     // GET /metrics, "" when it failed
  std::string log() const;
  const DaemonFiles& files() const { return files_; }

  // Waits until `ready` holds, at most `limit`; pushes `load` first every 100 ms (none when
  // it is empty) so evaluations keep coming.
  template <typename F>
  bool until(F ready, const std::string& load = "load 2\n",
             std::chrono::seconds limit = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!load.empty()) push(load);
      if (ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& token);
  bool discover_port();  // "127.0.0.1:0": the port from the log's "control API on" line

  DaemonFiles files_;
  std::string socket_;  // the unix socket's path; empty on TCP
  int port_ = 0;        // on TCP, once known
  pid_t pid_ = -1;
  HttpClient http_{std::chrono::seconds(5)};
};

}  // namespace setpoint::test
