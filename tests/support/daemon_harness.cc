// The daemon harness: starting `setpoint run`, waiting for its control API, talking to it over
// TCP (libcurl) or a unix socket (a plain HTTP/1.1 request per call), stopping it; reading its
// answers, its state file and /proc; and the refusing scrape target.
#include "support/daemon_harness.h"

#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <stdexcept>

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

std::vector<nlohmann::json> audit_records(const nlohmann::json& history, const std::string& kind,
                                          const std::string& event) {
  std::vector<nlohmann::json> out;
  for (const nlohmann::json& r : history) {
    if (r.value("kind", "") != kind) continue;
    if (!event.empty() && (!r["body"].is_object() || r["body"].value("event", "") != event))
      continue;
    out.push_back(r);
  }
  return out;
}

nlohmann::json source_health(const nlohmann::json& status, const std::string& name) {
  if (status.contains("sources")) {
    for (const nlohmann::json& s : status["sources"]) {
      if (s.value("name", "") == name) return s;
    }
  }
  return nlohmann::json::object();
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

pid_t child_group(pid_t parent, const std::string& name) {
  for (const ProcessEntry& p : list_processes()) {
    if (p.parent == parent && p.name == name) return p.group;
  }
  return 0;
}

bool group_alive(pid_t group) {
  for (const ProcessEntry& p : list_processes()) {
    if (p.group == group || p.pid == group) return true;
  }
  return false;
}

std::vector<std::pair<int64_t, std::string>> stored_audit(const std::string& path,
                                                          const std::string& column) {
  std::vector<std::pair<int64_t, std::string>> out;
  sqlite3* db = nullptr;
  std::string sql = "SELECT seq, " + column + " FROM audit ORDER BY seq";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK) {
      while (sqlite3_step(s) == SQLITE_ROW) {
        out.emplace_back(sqlite3_column_int64(s, 0),
                         reinterpret_cast<const char*>(sqlite3_column_text(s, 1)));
      }
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

std::string sqlite_integrity(const std::string& path) {
  std::string out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK) {
      while (sqlite3_step(s) == SQLITE_ROW) {
        out += reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      }
    }
    sqlite3_finalize(s);
  } else {
    out = sqlite3_errmsg(db);
  }
  sqlite3_close(db);
  return out;
}

RefusingScrapeTarget::RefusingScrapeTarget() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("cannot bind 127.0.0.1:0");
  port_ = ntohs(addr.sin_port);
}

RefusingScrapeTarget::~RefusingScrapeTarget() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

void RefusingScrapeTarget::open(std::string body) {
  if (::listen(fd_, 16) != 0) throw std::runtime_error("listen failed");
  thread_ = std::thread([this, body = std::move(body)] { serve(body); });
}

bool RefusingScrapeTarget::readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 100) > 0 && !stopping_;
}

void RefusingScrapeTarget::serve(const std::string& body) {
  while (!stopping_) {
    if (!readable(fd_)) continue;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    // The request's head is read (for 2 s at most) and not looked at: every answer is `body`.
    std::string head;
    char buf[4096];
    for (int waits = 0; head.find("\r\n\r\n") == std::string::npos && head.size() < 65536;) {
      if (!readable(c)) {
        if (stopping_ || ++waits == 20) break;
        continue;
      }
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    // MSG_NOSIGNAL: a client that gave up must not kill the test binary with SIGPIPE.
    for (size_t sent = 0; sent < out.size();) {
      ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::close(c);
    ++served_;
  }
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
