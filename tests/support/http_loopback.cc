// Loopback helpers for the HTTP server's tests: blocking client sockets with timeouts, and
// reading whole responses.
#include "support/http_loopback.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace setpoint::test::loopback {

namespace {

// Every client socket gives up after 10 s, so a broken server fails a test instead of hanging.
void set_timeout(int fd) {
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

int connect_tcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  set_timeout(fd);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int connect_unix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  set_timeout(fd);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

Received receive(int fd, size_t until) {
  Received r;
  char buf[4096];
  while (r.data.size() < until) {
    ssize_t n = recv(fd, buf, std::min(sizeof buf, until - r.data.size()), 0);
    if (n > 0) {
      r.data.append(buf, static_cast<size_t>(n));
      continue;
    }
    r.closed = n == 0 || errno == ECONNRESET;
    break;
  }
  return r;
}

std::string read_response(int fd) {
  std::string text;
  char ch;
  while (text.find("\r\n\r\n") == std::string::npos && recv(fd, &ch, 1, 0) == 1) text += ch;
  size_t at = text.find("Content-Length: ");
  if (at == std::string::npos) return text;
  size_t length = std::stoul(text.substr(at + 16));
  return text + receive(fd, length).data;
}

Received ask(int port, std::string_view request) {
  int fd = connect_tcp(port);
  if (fd < 0) return {};
  send_all(fd, request);
  Received r = receive(fd);
  close(fd);
  return r;
}

std::string chunk(std::string_view data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + std::string(data) + "\r\n";
}

HttpReply json(std::string body) {
  HttpReply reply;
  reply.response.body = std::move(body);
  return reply;
}

}  // namespace setpoint::test::loopback
