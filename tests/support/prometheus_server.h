// Starts and stops a real Prometheus server (Debian 12 ships 2.42) on a free 127.0.0.1 port,
// serving TSDB blocks made by promtool from OpenMetrics text or scraping one loopback target
// itself.
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

// A scrape job for a Prometheus that scrapes: one target on loopback.
struct PrometheusScrapeJob {
  std::string job;                // job_name, so the `job` label of every series scraped
  std::string target;             // "127.0.0.1:PORT"; any other host is refused
  std::string interval = "1s";    // scrape_interval and scrape_timeout, a Prometheus duration
  std::string path = "/metrics";  // metrics_path
};

// One Prometheus process with its TSDB in data_dir. The constructor returns once /-/ready
// answers 200 and throws (with the tail of the server's log) when it does not within
// ready_timeout. The destructor stops the server, so it goes away even when a test fails or
// throws; should the test binary itself die, the kernel sends the server SIGKILL
// (PR_SET_PDEATHSIG).
class PrometheusServer {
 public:
  // Serves the blocks in data_dir, with no scrape jobs: it only answers queries.
  PrometheusServer(const std::string& work_dir, const std::string& data_dir,
                   std::chrono::seconds ready_timeout = std::chrono::seconds(30));
  // Scrapes `job` into a TSDB in data_dir (created when missing), from its start.
  PrometheusServer(const std::string& work_dir, const std::string& data_dir,
                   const PrometheusScrapeJob& job,
                   std::chrono::seconds ready_timeout = std::chrono::seconds(30));
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  std::string url() const;  // http://127.0.0.1:PORT
  int port() const { return port_; }
  std::string log() const;  // everything the server printed so far

  // Waits until a scrape of `job` succeeded, as `up{job="JOB"} == 1` at the server's now says.
  // False when none did within `limit`.
  bool wait_until_up(const std::string& job, std::chrono::seconds limit);

  // SIGTERM, then SIGKILL if it has not exited within 10 s. Idempotent.
  void stop();

 private:
  // Writes the config, then starts the server on a free port, trying a few in case one is
  // taken between free_local_port() and the server's bind.
  void launch(const std::string& config, const std::string& data_dir,
              std::chrono::seconds ready_timeout);
  // Returns false when the process exited because the port was taken meanwhile.
  bool start(const std::string& data_dir, std::chrono::seconds ready_timeout);

  std::string config_path_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace setpoint::test
