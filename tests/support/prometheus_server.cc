// Starts and stops a real Prometheus server (Debian 12 ships 2.42) on a free 127.0.0.1 port,
// serving TSDB blocks made by promtool from OpenMetrics text or scraping one loopback target
// itself.
#include "support/prometheus_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/process.h"

namespace setpoint::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string required_program(const std::string& name) {
  std::string path = find_program(name);
  if (path.empty()) {
    throw std::runtime_error(name +
                             " is not installed: run scripts/install-deps (Debian package "
                             "prometheus)");
  }
  return path;
}

std::string tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos + 1);
}

// A value written into the YAML config between double quotes: nothing that could end the string
// or the line, so a test cannot smuggle in another key.
std::string yaml_quoted(const std::string& value) {
  for (char c : value) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      throw std::invalid_argument("not allowed in a Prometheus config value: " + value);
    }
  }
  return "\"" + value + "\"";
}

std::string scrape_config(const PrometheusScrapeJob& job) {
  // Loopback only: a test never makes Prometheus reach beyond the machine.
  if (job.target.rfind("127.0.0.1:", 0) != 0) {
    throw std::invalid_argument("a scrape target must be on 127.0.0.1: " + job.target);
  }
  // scrape_timeout may not exceed scrape_interval; the same value keeps one slow scrape from
  // overlapping the next.
  return "global:\n  evaluation_interval: 1m\nscrape_configs:\n  - job_name: " +
         yaml_quoted(job.job) + "\n    scrape_interval: " + yaml_quoted(job.interval) +
         "\n    scrape_timeout: " + yaml_quoted(job.interval) +
         "\n    metrics_path: " + yaml_quoted(job.path) +
         "\n    static_configs:\n      - targets: [" + yaml_quoted(job.target) + "]\n";
}

}  // namespace

std::string find_program(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::string path = env && *env ? env : "/usr/local/bin:/usr/bin:/bin";
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

void create_blocks_from_openmetrics(const std::string& om_file, const std::string& data_dir) {
  ProcessResult r = run_process({required_program("promtool"), "tsdb", "create-blocks-from",
                                 "openmetrics", "--quiet", om_file, data_dir});
  if (r.exit_code != 0) {
    throw std::runtime_error("promtool tsdb create-blocks-from openmetrics failed (exit " +
                             std::to_string(r.exit_code) + "):\n" + r.out + r.err);
  }
}

int free_local_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind a socket to 127.0.0.1:0");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

PrometheusServer::PrometheusServer(const std::string& work_dir, const std::string& data_dir,
                                   std::chrono::seconds ready_timeout)
    : config_path_(work_dir + "/prometheus.yml"), log_path_(work_dir + "/prometheus.log") {
  // No scrape jobs: the server only answers queries over the imported blocks.
  launch("global:\n  evaluation_interval: 1m\nscrape_configs: []\n", data_dir, ready_timeout);
}

PrometheusServer::PrometheusServer(const std::string& work_dir, const std::string& data_dir,
                                   const PrometheusScrapeJob& job,
                                   std::chrono::seconds ready_timeout)
    : config_path_(work_dir + "/prometheus.yml"), log_path_(work_dir + "/prometheus.log") {
  launch(scrape_config(job), data_dir, ready_timeout);
}

void PrometheusServer::launch(const std::string& config, const std::string& data_dir,
                              std::chrono::seconds ready_timeout) {
  std::ofstream(config_path_) << config;
  // The port can be taken between free_local_port() and the server's bind; try a few.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (start(data_dir, ready_timeout)) return;
  }
  throw std::runtime_error("prometheus found no free port in 3 attempts:\n" + tail(log(), 20));
}

PrometheusServer::~PrometheusServer() { stop(); }

bool PrometheusServer::start(const std::string& data_dir, std::chrono::seconds ready_timeout) {
  port_ = free_local_port();
  pid_ = spawn_background({required_program("prometheus"), "--config.file=" + config_path_,
                           "--storage.tsdb.path=" + data_dir, "--storage.tsdb.retention.time=100y",
                           "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                          log_path_);
  HttpClient http(std::chrono::seconds(2));
  auto deadline = Clock::now() + ready_timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (log().find("address already in use") != std::string::npos) return false;
      throw std::runtime_error("prometheus exited during startup (status " +
                               std::to_string(status) + "):\n" + tail(log(), 20));
    }
    if (http.get(url() + "/-/ready").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  throw std::runtime_error("prometheus was not ready within " +
                           std::to_string(ready_timeout.count()) + " s:\n" + tail(log(), 20));
}

std::string PrometheusServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string PrometheusServer::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool PrometheusServer::wait_until_up(const std::string& job, std::chrono::seconds limit) {
  HttpClient http(std::chrono::seconds(2));
  std::string query = url() + "/api/v1/query?query=" + http.escape("up{job=\"" + job + "\"}");
  auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    HttpResponse r = http.get(query);
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{..},"value":[t,"1"]}]}}
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    const nlohmann::json* result = nullptr;
    if (r.status == 200 && doc.is_object() && doc["data"].is_object())
      result = &doc["data"]["result"];
    for (const auto& series : result && result->is_array() ? *result : nlohmann::json::array()) {
      const nlohmann::json* value =
          series.is_object() && series.contains("value") ? &series["value"] : nullptr;
      if (value && value->is_array() && value->size() == 2 && (*value)[1] == "1") return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void PrometheusServer::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (Clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace setpoint::test
