// Listening sockets for the HTTP server (host:port or a unix socket), bound and listening before
// libuv takes them over, so that a failure leaves no handle to close.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <string>
#include <string_view>

namespace setpoint {

// The socket file a server made, so that it removes its own file and never a successor's.
struct HttpSocketFile {
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
};

// A listening, non-blocking TCP socket on "host:port" or "[ipv6]:port" (numeric, or "localhost" for
// 127.0.0.1), or -1 and why ("address already in use").
int http_listen_tcp(std::string_view spec, std::string& error);

// A listening, non-blocking unix socket with mode 0600. A stale socket file is replaced; a live one
// (a server answers on it) and a path that is not a socket are refused. -1 and why.
int http_listen_unix(const std::string& path, HttpSocketFile& file, std::string& error);

// Removes the file if it is still the one that was made.
void http_remove_socket_file(const HttpSocketFile& file);

// "127.0.0.1:8080" or "[::1]:8080"; port gets the port.
std::string http_address_text(const sockaddr_storage& addr, int& port);

// A client that has gone must fail a write with EPIPE, not kill the process with SIGPIPE; a handler
// the process installed itself is kept.
void http_ignore_sigpipe();

}  // namespace setpoint
