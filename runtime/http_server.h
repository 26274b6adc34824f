// A small, bounded HTTP/1.1 server on a libuv loop, for the daemon's control API and push
// endpoint: whole responses, or long-lived streams (Server-Sent Events) with chunked encoding.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace setpoint {

struct HttpRequest {
  std::string method;  // "GET"
  std::string path;    // "/api/v1/status" (no query), percent-decoded
  std::string query;   // raw text after '?', or ""
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;
  std::string peer;  // "127.0.0.1:51234", "[::1]:51234" or "unix"
  // The first header of that name; nullptr when absent.
  const std::string* header(std::string_view lower_name) const;
  // The first query parameter of that name, '+' and %XX decoded; "" for "?flag".
  std::optional<std::string> query_param(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers. Content-Length, Transfer-Encoding and Connection are the server's and are
  // dropped here, as is any header with CR or LF in it.
  std::vector<std::pair<std::string, std::string>> headers;
};

// A response that stays open (Server-Sent Events, text/event-stream, chunked encoding): the
// daemon keeps the shared_ptr and calls send() for each event; closed when the client leaves or
// the server stops. send() returns false once the client is gone. Bounded: if the client reads
// too slowly and more than max_stream_buffer bytes are queued, the stream is closed (a slow
// client must not make the daemon grow without bound). Use it on the loop's thread only.
class HttpStream {
 public:
  virtual ~HttpStream() = default;
  virtual bool send(std::string_view data) = 0;
  virtual bool open() const = 0;
  virtual void close() = 0;  // ends the response cleanly; the connection then closes
};

// Sends a deferred reply's response, once, on the loop's thread; does nothing when the
// connection has gone meanwhile (or on a second call).
using HttpResponder = std::function<void(HttpResponse)>;

struct HttpReply {  // what a handler returns: a whole response, the head of a stream, or later
  HttpResponse response;
  // When set, the response's status and headers go out (its body is ignored) and this runs
  // with the open stream. For a HEAD request it runs with a stream that is already closed.
  std::function<void(std::shared_ptr<HttpStream>)> stream;
  // When set (and no stream), the response comes later: this runs with the responder to call
  // when it is ready. The connection stays open (keep-alive) and reads no further request until
  // then, so pipelined answers keep their order; the idle timeout does not run meanwhile.
  std::function<void(HttpResponder)> deferred;
};

// Runs on the loop's thread, one request at a time, in the order each connection sent them.
// An exception it throws becomes a 500.
using HttpHandler = std::function<HttpReply(const HttpRequest&)>;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";  // host:port (IPv4 or [IPv6]), or "unix:/path/to.sock"
  // Request line and headers; beyond: 431 and close (http_parser's own 80 KiB bound also holds).
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1 << 20;   // beyond (Content-Length or while reading chunks): 413, close
  size_t max_connections = 64;       // beyond: accept, answer 503, close
  double idle_timeout_seconds = 30;  // no complete request (nor write progress) in this time:
                                     // closed; 0 turns it off
  // Bytes a connection may have waiting to be written: beyond it a stream is closed, and a
  // client pipelining requests without reading the answers is not read from until it catches up.
  size_t max_stream_buffer = 1 << 20;
};

struct HttpServerState;

class HttpServer {
 public:
  HttpServer(uv_loop_t* loop, HttpServerOptions options, HttpHandler handler);
  // Stops the server if it still runs. Handles still closing are released by the loop's next
  // run, so the loop must run once more before uv_loop_close.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; error says why ("127.0.0.1:80: permission denied"). A unix socket is
  // created with mode 0600; a stale socket file is replaced, but not a live one, nor a path that
  // is not a socket. Ignores SIGPIPE (if it is not handled already): a write to a client that
  // has gone must fail, not kill the process. A failure to bind leaves no handle open (the
  // socket is bound before libuv gets it).
  bool start(std::string& error);
  int port() const;             // the bound TCP port (after start), 0 for a unix socket
  std::string address() const;  // "127.0.0.1:43121", "[::1]:43121" or "unix:/path"
  // Stops listening, closes every connection and stream, removes the unix socket file;
  // `closed` runs once every handle is closed (at once if none is open), so the caller can then
  // let the loop end (uv_run returns with no handle left).
  void stop(std::function<void()> closed = {});

 private:
  HttpServerState* state_;  // outlives this object until its last handle is closed
};

}  // namespace setpoint
