// The daemon harness: starting `setpoint run`, waiting for its control API, talking to it over
// TCP (libcurl) or a unix socket (a plain HTTP/1.1 request per call), and stopping it.
#include "support/daemon_harness.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>

#include "support/fixtures.h"
#include "support/http_loopback.h"

namespace setpoint::test {

namespace {

using Clock = std::chrono::steady_clock;

// One request on a unix socket connection of its own, "Connection: close", read to the end.
HttpResponse unix_request(const std::string& socket, const std::string& method,
                          const std::string& path, const std::string& body,
                          const std::string& token) {
  HttpResponse out;
  int fd = loopback::connect_unix(socket);
  if (fd < 0) {
    out.error = "cannot connect to " + socket;
    return out;
  }
  std::string request = method + " " + path +
                        " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  request += "\r\n" + body;
  loopback::send_all(fd, request);
  loopback::Received got = loopback::receive(fd);
  close(fd);
  size_t head_end = got.data.find("\r\n\r\n");
  if (got.data.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) {
    out.error = "no HTTP response from " + socket;
    return out;
  }
  out.status = std::strtol(got.data.c_str() + 9, nullptr, 10);
  out.body = got.data.substr(head_end + 4);
  return out;
}

nlohmann::json parsed(const HttpResponse& r, nlohmann::json empty) {
  if (r.status != 200) return empty;
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  return j.is_discarded() ? empty : j;
}

}  // namespace

void write_daemon_token(const std::string& path) {
  write_text(path, std::string(kDaemonToken) + "\n");
  chmod(path.c_str(), 0600);
}

std::vector<ProcessEntry> list_processes() {
  std::vector<ProcessEntry> out;
  DIR* proc = opendir("/proc");
  if (!proc) return out;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    // "PID (NAME) STATE PPID PGRP ...": NAME may hold spaces and parentheses, so the fields
    // after it are found from the last ')'.
    std::string stat = read_text("/proc/" + std::string(e->d_name) + "/stat");
    size_t open = stat.find('(');
    size_t close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    ProcessEntry p;
    p.pid = static_cast<pid_t>(pid);
    p.name = stat.substr(open + 1, close - open - 1);
    char state = 0;
    int parent = 0, group = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %d %d", &state, &parent, &group) != 3) continue;
    p.parent = parent;
    p.group = group;
    out.push_back(p);
  }
  closedir(proc);
  return out;
}

DaemonProcess::DaemonProcess(DaemonFiles files) : files_(std::move(files)) {
  if (files_.listen.rfind("unix:", 0) == 0) {
    socket_ = files_.listen.substr(5);
  } else {
    size_t colon = files_.listen.rfind(':');
    port_ = std::atoi(files_.listen.c_str() + colon + 1);
  }
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) crash();
}

void DaemonProcess::start(const SpawnOptions& options) {
  bool find_port = socket_.empty() && files_.listen.ends_with(":0");
  if (find_port) port_ = 0;
  pid_ = spawn_background({SETPOINT_BINARY, "run", "--config", files_.config}, files_.log, options);
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    if ((!find_port || port_ > 0 || discover_port()) && get("/api/v1/status").status == 200) return;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("the daemon exited at start:\n" << log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("the daemon did not answer within 20 s:\n" << log());
}

bool DaemonProcess::discover_port() {
  std::string text = log();
  const std::string marker = "control API on 127.0.0.1:";
  size_t at = text.find(marker);
  if (at == std::string::npos) return false;
  port_ = std::atoi(text.c_str() + at + marker.size());
  return port_ > 0;
}

int DaemonProcess::terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  return wait_exit(std::chrono::seconds(20));
}

int DaemonProcess::wait_exit(std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (pid_ > 0 && Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

void DaemonProcess::crash() {
  if (pid_ <= 0) return;
  // An exec actuator's command leads a session of its own, out of reach of kill(-pid): with the
  // daemon stopped (it starts no more), each child's group goes first, as a crash of the
  // machine would end them too.
  kill(pid_, SIGSTOP);
  for (const ProcessEntry& p : list_processes()) {
    if (p.parent == pid_) kill(p.group == p.pid ? -p.pid : p.pid, SIGKILL);
  }
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void DaemonProcess::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

bool DaemonProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

HttpResponse DaemonProcess::request(const std::string& method, const std::string& path,
                                    const std::string& body, const std::string& token) {
  if (!socket_.empty()) return unix_request(socket_, method, path, body, token);
  std::string url = "http://127.0.0.1:" + std::to_string(port_) + path;
  return method == "GET" ? http_.get(url) : http_.post(url, body, token);
}

HttpResponse DaemonProcess::get(const std::string& path) { return request("GET", path, "", ""); }

HttpResponse DaemonProcess::post(const std::string& path, const std::string& body,
                                 const std::string& token) {
  return request("POST", path, body, token);
}

bool DaemonProcess::push_taken(const std::string& text) {
  auto lines = static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n'));
  for (int i = 0; i < 100; ++i) {
    nlohmann::json answer = parsed(push(text), nlohmann::json::object());
    if (answer.value("accepted", uint64_t{0}) == lines) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

nlohmann::json DaemonProcess::status() {
  return parsed(get("/api/v1/status"), nlohmann::json::object());
}
nlohmann::json DaemonProcess::actions() {
  return parsed(get("/api/v1/actions"), nlohmann::json::array());
}
nlohmann::json DaemonProcess::policies() {
  return parsed(get("/api/v1/policies"), nlohmann::json::array());
}
nlohmann::json DaemonProcess::history() {
  return parsed(get("/api/v1/history?limit=1000"), nlohmann::json::array());
}

std::string DaemonProcess::metrics() {
  HttpResponse r = get("/metrics");
  return r.status == 200 ? r.body : "";
}

std::string DaemonProcess::log() const { return read_text(files_.log); }

}  // namespace setpoint::test
