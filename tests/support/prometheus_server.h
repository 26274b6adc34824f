// Starts and stops a real Prometheus server (Debian 12 ships 2.42) on a free 127.0.0.1 port, and
// turns OpenMetrics text into its TSDB blocks with promtool: the reference for differential tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace setpoint::test {

// The absolute path of an executable found on $PATH, or "" when there is none.
std::string find_program(const std::string& name);

// Runs `promtool tsdb create-blocks-from openmetrics om_file data_dir`. Throws with promtool's
// output when it fails or is not installed.
void create_blocks_from_openmetrics(const std::string& om_file, const std::string& data_dir);

// A port on 127.0.0.1 that was free a moment ago (the kernel picks it for a socket bound to :0).
int free_local_port();

// One Prometheus process serving the blocks in data_dir, with no scrape jobs: it only answers
// queries. The constructor returns once /-/ready answers 200 and throws (with the tail of the
// server's log) when it does not within ready_timeout. The destructor stops the server, so it
// goes away even when a test fails or throws; should the test binary itself die, the kernel
// sends the server SIGKILL (PR_SET_PDEATHSIG).
class PrometheusServer {
 public:
  PrometheusServer(const std::string& work_dir, const std::string& data_dir,
                   std::chrono::seconds ready_timeout = std::chrono::seconds(30));
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  std::string url() const;  // http://127.0.0.1:PORT
  int port() const { return port_; }
  std::string log() const;  // everything the server printed so far

  // SIGTERM, then SIGKILL if it has not exited within 10 s. Idempotent.
  void stop();

 private:
  // Returns false when the process exited because the port was taken meanwhile.
  bool start(const std::string& data_dir, std::chrono::seconds ready_timeout);

  std::string config_path_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace setpoint::test
