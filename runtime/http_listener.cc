// Listening sockets for the HTTP server: parsing the listen address, binding TCP and unix sockets,
// and the unix socket file's mode and lifetime.
#include "runtime/http_listener.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>

namespace setpoint {

namespace {

std::string sys_error(int err) { return uv_strerror(uv_translate_sys_error(err)); }

bool parse_port(std::string_view text, int& port) {
  if (text.empty() || text.size() > 5) return false;
  port = 0;
  for (char ch : text) {
    if (ch < '0' || ch > '9') return false;
    port = port * 10 + (ch - '0');
  }
  return port <= 65535;
}

}  // namespace

int http_listen_tcp(std::string_view spec, std::string& error) {
  std::string host;
  std::string_view port_text;
  bool v6 = !spec.empty() && spec[0] == '[';
  if (v6) {
    size_t close = spec.find("]:");
    if (close != std::string_view::npos) {
      host = spec.substr(1, close - 1);
      port_text = spec.substr(close + 2);
    }
  } else if (size_t colon = spec.rfind(':'); colon != std::string_view::npos) {
    host = spec.substr(0, colon);
    port_text = spec.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  int port = 0;
  sockaddr_storage addr{};
  int rc = !parse_port(port_text, port) ? -1
           : v6 ? uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr))
                : uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (host.empty() || rc != 0) {
    error = "bad listen address: want host:port, [ipv6]:port or unix:/path";
    return -1;
  }
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = sys_error(errno);
    return -1;
  }
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
             sizeof on);  // restarts despite TIME_WAIT
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  socklen_t len = v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, SOMAXCONN) != 0) {
    error = sys_error(errno);
    close(fd);
    return -1;
  }
  return fd;
}

int http_listen_unix(const std::string& path, HttpSocketFile& file, std::string& error) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    error =
        "unix socket path must have 1 to " + std::to_string(sizeof addr.sun_path - 1) + " bytes";
    return -1;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = "exists and is not a socket";
      return -1;
    }
    // Replace a stale socket, never one that a running server still answers on.
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    bool live = probe >= 0 && (connect(probe, sa, sizeof addr) == 0 || errno == EAGAIN);
    if (probe >= 0) close(probe);
    if (live) {
      error = "another server is listening on it";
      return -1;
    }
    if (unlink(path.c_str()) != 0) {
      error = "cannot remove the stale socket: " + sys_error(errno);
      return -1;
    }
  } else if (errno != ENOENT) {
    error = sys_error(errno);
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = sys_error(errno);
    return -1;
  }
  if (bind(fd, sa, sizeof addr) != 0) {
    error = sys_error(errno);
    close(fd);
    return -1;
  }
  // Until listen() nobody can connect, so the mode is right before anyone could use it.
  if (chmod(path.c_str(), 0600) != 0 || stat(path.c_str(), &st) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    error = sys_error(errno);
    close(fd);
    unlink(path.c_str());
    return -1;
  }
  file = {path, st.st_dev, st.st_ino};
  return fd;
}

void http_remove_socket_file(const HttpSocketFile& file) {
  struct stat st;
  if (!file.path.empty() && lstat(file.path.c_str(), &st) == 0 && st.st_ino == file.ino &&
      st.st_dev == file.dev)
    unlink(file.path.c_str());
}

std::string http_address_text(const sockaddr_storage& addr, int& port) {
  char ip[INET6_ADDRSTRLEN] = "";
  uv_ip_name(reinterpret_cast<const sockaddr*>(&addr), ip, sizeof ip);
  bool v6 = addr.ss_family == AF_INET6;
  port = ntohs(v6 ? reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port
                  : reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  return (v6 ? "[" + std::string(ip) + "]" : std::string(ip)) + ":" + std::to_string(port);
}

void http_ignore_sigpipe() {
  struct sigaction old {};
  if (sigaction(SIGPIPE, nullptr, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
      old.sa_handler == SIG_DFL) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, nullptr);
  }
}

}  // namespace setpoint
