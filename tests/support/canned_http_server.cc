// A tiny HTTP/1.1 server on 127.0.0.1 for tests of HTTP clients: blocking sockets on a thread
// of its own, one connection at a time, answers from a handler, and a log of what it was asked.
#include "support/canned_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace setpoint::test {

namespace {

constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kMaxBody = 4 * 1024 * 1024;
constexpr int kReadTimeoutMs = 5000;  // a client that stops sending loses its connection

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 422:
      return "Unprocessable Entity";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a client that went away must not kill the test binary with SIGPIPE.
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::string CannedRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

CannedHttpServer::CannedHttpServer(Handler handler) : handler_(std::move(handler)) {
  if (::pipe(wake_) != 0) throw std::runtime_error("pipe failed");
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("cannot listen on 127.0.0.1:0");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

CannedHttpServer::~CannedHttpServer() { stop(); }

void CannedHttpServer::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  char byte = 1;
  (void)!::write(wake_[1], &byte, 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  listen_fd_ = wake_[0] = wake_[1] = -1;
}

std::string CannedHttpServer::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

std::vector<CannedRequest> CannedHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

bool CannedHttpServer::wait_readable(int fd, int timeout_ms) {
  pollfd fds[2] = {{wake_[0], POLLIN, 0}, {fd, POLLIN, 0}};
  int n = ::poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
  if (stopping_ || (n > 0 && (fds[0].revents & POLLIN))) return false;
  if (fd < 0) return n == 0;  // a delay, waited out
  return n > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

void CannedHttpServer::serve() {
  while (!stopping_) {
    if (!wait_readable(listen_fd_, -1)) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serve_connection(fd);
    ::close(fd);
  }
}

// One request per connection, answered with "Connection: close".
void CannedHttpServer::serve_connection(int fd) {
  std::string data;
  size_t head_end;
  char buf[16 * 1024];
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    if (data.size() > kMaxHead || !wait_readable(fd, kReadTimeoutMs)) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    data.append(buf, static_cast<size_t>(n));
  }
  CannedRequest request;
  std::string_view head(data.data(), head_end);
  size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.find(' ', sp1 == line.npos ? line.npos : sp1 + 1);
  if (sp1 == line.npos || sp2 == line.npos) return;
  request.method = std::string(line.substr(0, sp1));
  request.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  size_t content_length = 0;
  size_t pos = eol == head.npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    std::string_view h = head.substr(pos, next == head.npos ? head.npos : next - pos);
    pos = next == head.npos ? head.size() : next + 2;
    size_t colon = h.find(':');
    if (colon == h.npos) continue;
    std::string name = lower(trim(h.substr(0, colon)));
    std::string value(trim(h.substr(colon + 1)));
    if (name == "content-length") content_length = std::strtoul(value.c_str(), nullptr, 10);
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  if (content_length > kMaxBody) return;
  request.body = data.substr(head_end + 4);
  while (request.body.size() < content_length) {
    if (!wait_readable(fd, kReadTimeoutMs)) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    request.body.append(buf, static_cast<size_t>(n));
  }
  request.body.resize(content_length);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(request);
  }
  CannedResponse response = handler_(request);
  if (response.delay_ms > 0 && !wait_readable(-1, response.delay_ms)) return;
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) +
                    "\r\nContent-Type: " + response.content_type +
                    "\r\nContent-Length: " + std::to_string(response.body.size()) +
                    "\r\nConnection: close\r\n";
  for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
  out += "\r\n";
  if (request.method != "HEAD") out += response.body;
  send_all(fd, out);
}

int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind 127.0.0.1:0");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string query_param(std::string_view target, std::string_view name) {
  size_t q = target.find('?');
  if (q == target.npos) return "";
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == query.npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq)) == name) {
      return eq == pair.npos ? "" : percent_decode(pair.substr(eq + 1));
    }
  }
  return "";
}

bool run_loop_until(uv_loop_t* loop, const std::function<bool()>& done, int timeout_ms) {
  // The guard ends a wait that would never end; the ticker wakes the loop now and then, so a
  // condition that another thread makes true (the server got a request) is seen.
  struct Guard {
    uv_timer_t guard, ticker;
    bool fired = false;
    int open = 2;
  };
  auto* g = new Guard{};
  uv_timer_init(loop, &g->guard);
  uv_timer_init(loop, &g->ticker);
  g->guard.data = g->ticker.data = g;
  uv_timer_start(
      &g->guard, [](uv_timer_t* t) { static_cast<Guard*>(t->data)->fired = true; },
      static_cast<uint64_t>(timeout_ms), 0);
  uv_timer_start(
      &g->ticker, [](uv_timer_t*) {}, 5, 5);
  while (!done() && !g->fired) uv_run(loop, UV_RUN_ONCE);
  bool ok = done();
  // Freed once both are closed, in whichever order libuv finishes them.
  auto closed = [](uv_handle_t* h) {
    auto* guard = static_cast<Guard*>(h->data);
    if (--guard->open == 0) delete guard;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&g->guard), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&g->ticker), closed);
  return ok;
}

int finish_loop(uv_loop_t* loop) {
  // Bounded: a handle left open by a bug must fail the test, not hang it.
  for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT) != 0; ++i) {
    uv_sleep(1);
  }
  return uv_loop_close(loop);
}

}  // namespace setpoint::test
