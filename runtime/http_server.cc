// The HTTP/1.1 server's connections: keep-alive and pipelining, bounded reads and writes, streams,
// lingering closes, and closing every handle on stop.
#include "runtime/http_server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <list>
#include <optional>

#include "runtime/http_listener.h"
#include "runtime/http_message.h"
#include "runtime/http_request_parser.h"

namespace setpoint {

namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;
constexpr uint64_t kLingerMs = 2000;  // after the last response, how long unread input is drained

union HttpServerHandle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
};

// reading: parsing requests; streaming: the connection carries one HttpStream; finishing: the last
// response is queued, the write side is shut down after it and input is drained.
// waiting: a deferred reply is not ready; nothing more is read until it is sent.
enum class HttpConnPhase { reading, waiting, streaming, finishing, closed };

struct HttpConnection;

class HttpServerStream final : public HttpStream {
 public:
  HttpServerStream(HttpConnection* conn, bool chunked) : conn_(conn), chunked_(chunked) {}
  bool send(std::string_view data) override;
  bool open() const override { return conn_ != nullptr; }
  void close() override;
  void detach() { conn_ = nullptr; }

 private:
  HttpConnection* conn_;
  bool chunked_;
};

}  // namespace

struct HttpServerState {
  uv_loop_t* loop;
  HttpServerOptions options;
  HttpHandler handler;
  HttpServerHandle listener;
  bool started = false;
  bool listening = false;
  bool is_unix = false;
  int port = 0;
  std::string address;
  HttpSocketFile socket_file;  // of a unix socket
  std::list<std::unique_ptr<HttpConnection>> connections;
  size_t active = 0;    // connections being served
  size_t rejected = 0;  // connections being told 503
  int open_handles = 0;
  bool stopping = false;
  bool owner_gone = false;  // the HttpServer is destroyed: the last closed handle deletes this
  std::vector<std::function<void()>> closed_callbacks;
  uint64_t idle_ms = 0;
  char read_buffer[kReadBufferBytes];

  void stop(std::function<void()> closed = {});
  void handle_closed();
  void settle();  // nothing is open any more: tell whoever waits, free this if nobody owns it
};

namespace {

struct HttpConnection {
  HttpServerState* server = nullptr;
  HttpServerHandle io;
  uv_timer_t timer;
  uv_shutdown_t shutdown_req;
  std::optional<HttpRequestParser> parser;  // made once the peer is known
  std::list<std::unique_ptr<HttpConnection>>::iterator self;
  std::string peer;
  std::string input;  // received, not parsed yet
  HttpConnPhase phase = HttpConnPhase::reading;
  bool counted_active = false;
  bool counted_rejected = false;
  bool read_paused = false;  // too much output waiting: not read until the client catches up
  bool eof = false;
  bool shutdown_done = false;
  int open_handles = 0;
  std::shared_ptr<HttpServerStream> stream;
  // The deferred reply being waited for: its responder holds this and finds the connection
  // through it, or nullptr once the connection has closed.
  std::shared_ptr<HttpConnection*> waiting_for;
  bool dispatching = false;  // inside dispatch(): a responder called now must not parse more

  ~HttpConnection() {
    if (stream) stream->detach();
    if (waiting_for) *waiting_for = nullptr;
  }
};

struct HttpWrite {
  uv_write_t req;
  HttpConnection* conn;
  std::string data;
};

}  // namespace

void HttpServerState::handle_closed() {
  if (--open_handles > 0 || !stopping) return;
  settle();
}

void HttpServerState::settle() {
  auto callbacks = std::move(closed_callbacks);
  closed_callbacks.clear();
  if (owner_gone) delete this;
  for (auto& callback : callbacks) {
    try {
      callback();
    } catch (const std::exception& e) {
      spdlog::error("http: stop callback threw: {}", e.what());
    } catch (...) {
      spdlog::error("http: stop callback threw");
    }
  }
}

namespace {

void on_conn_closed(uv_handle_t* handle) {
  auto* c = static_cast<HttpConnection*>(handle->data);
  HttpServerState* server = c->server;
  if (--c->open_handles == 0) server->connections.erase(c->self);
  server->handle_closed();
}

void close_now(HttpConnection& c) {
  if (c.phase == HttpConnPhase::closed) return;
  c.phase = HttpConnPhase::closed;
  if (c.stream) c.stream->detach();
  if (c.waiting_for) *c.waiting_for = nullptr;
  if (c.counted_active) --c.server->active;
  if (c.counted_rejected) --c.server->rejected;
  c.counted_active = c.counted_rejected = false;
  c.input.clear();
  uv_close(&c.io.handle, on_conn_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c.timer), on_conn_closed);
}

void on_timer(uv_timer_t* timer) {
  auto& c = *static_cast<HttpConnection*>(timer->data);
  spdlog::debug("http: closing connection from {}: timed out", c.peer);
  close_now(c);
}

void restart_timer(HttpConnection& c, uint64_t ms) {
  if (ms == 0)
    uv_timer_stop(&c.timer);
  else
    uv_timer_start(&c.timer, on_timer, ms, 0);
}

uint64_t drain_ms(const HttpConnection& c) { return c.server->idle_ms ? c.server->idle_ms : 30000; }

void process(HttpConnection& c);
void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf);
void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

void on_write(uv_write_t* req, int status) {
  std::unique_ptr<HttpWrite> write(static_cast<HttpWrite*>(req->data));
  HttpConnection& c = *write->conn;
  write.reset();
  if (c.phase == HttpConnPhase::closed) return;
  if (status < 0) {
    spdlog::debug("http: write to {} failed: {}", c.peer, uv_strerror(status));
    close_now(c);
    return;
  }
  if (c.phase == HttpConnPhase::reading) {
    restart_timer(c, c.server->idle_ms);  // progress: a slow reader is not idle
    if (c.read_paused &&
        uv_stream_get_write_queue_size(&c.io.stream) <= c.server->options.max_stream_buffer) {
      c.read_paused = false;  // the client caught up: parse what waits, read again
      if (uv_read_start(&c.io.stream, on_alloc, on_read) < 0) {
        close_now(c);
        return;
      }
      try {
        process(c);
      } catch (const std::exception& e) {
        spdlog::error("http: connection from {}: {}", c.peer, e.what());
        close_now(c);
      }
    }
  } else if (c.phase == HttpConnPhase::finishing && !c.shutdown_done) {
    restart_timer(c, drain_ms(c));
  }
}

// Queues bytes; on failure the connection is closed and false returned.
bool write_bytes(HttpConnection& c, std::string data) {
  if (c.phase == HttpConnPhase::closed) return false;
  auto write = std::make_unique<HttpWrite>();
  write->conn = &c;
  write->data = std::move(data);
  write->req.data = write.get();
  uv_buf_t buf = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  int rc = uv_write(&write->req, &c.io.stream, &buf, 1, on_write);
  if (rc < 0) {
    spdlog::debug("http: write to {} failed: {}", c.peer, uv_strerror(rc));
    close_now(c);
    return false;
  }
  write.release();  // on_write owns it now
  return true;
}

void on_shutdown(uv_shutdown_t* req, int status) {
  auto& c = *static_cast<HttpConnection*>(req->data);
  if (c.phase == HttpConnPhase::closed) return;
  if (status < 0 || c.eof) {
    close_now(c);
    return;
  }
  c.shutdown_done = true;
  restart_timer(c, c.server->idle_ms ? std::min(c.server->idle_ms, kLingerMs) : kLingerMs);
}

void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto& c = *static_cast<HttpConnection*>(handle->data);
  *buf = uv_buf_init(c.server->read_buffer, sizeof c.server->read_buffer);
}

// No more requests: the queued responses go out, then the write side is shut down, and input is
// read and dropped for a while, so that closing does not reset the connection (a reset can destroy
// a response the client has not read yet).
void finish(HttpConnection& c) {
  if (c.phase == HttpConnPhase::finishing || c.phase == HttpConnPhase::closed) return;
  c.phase = HttpConnPhase::finishing;
  c.input.clear();
  if (c.stream) c.stream->detach();
  c.shutdown_req.data = &c;
  if (uv_shutdown(&c.shutdown_req, &c.io.stream, on_shutdown) < 0) {
    close_now(c);
    return;
  }
  restart_timer(c, drain_ms(c));
  if (c.read_paused && !c.eof) {
    c.read_paused = false;
    uv_read_start(&c.io.stream, on_alloc, on_read);
  }
}

// An error that ends the connection (after the responses already queued).
void fail(HttpConnection& c, int status, std::string body) {
  spdlog::debug("http: {} for {}: {}", status, c.peer, http_trim(body));
  if (write_bytes(c, http_format_response(http_plain_response(status, std::move(body)), false,
                                          false, false)))
    finish(c);
}

void start_stream(HttpConnection& c, HttpReply& reply, bool head) {
  bool chunked = !c.parser->http10() && !head;
  write_bytes(c, http_format_head(reply.response, chunked ? "Transfer-Encoding: chunked\r\n" : "",
                                  "close"));
  auto stream = std::make_shared<HttpServerStream>(&c, chunked);
  if (head || c.phase != HttpConnPhase::reading) {
    stream->detach();
    finish(c);
  } else {
    c.phase = HttpConnPhase::streaming;
    c.stream = stream;
    c.input.clear();
    uv_timer_stop(&c.timer);  // events may be rare; the stream's buffer bound still holds
  }
  try {
    reply.stream(stream);
  } catch (const std::exception& e) {
    spdlog::error("http: stream callback threw: {}", e.what());
    stream->close();
  } catch (...) {
    spdlog::error("http: stream callback threw");
    stream->close();
  }
}

// A deferred reply: reading stops until the responder sends the response.
void start_waiting(HttpConnection& c, HttpReply& reply, bool keep_alive, bool head) {
  c.phase = HttpConnPhase::waiting;
  uv_timer_stop(&c.timer);
  if (!c.read_paused) uv_read_stop(&c.io.stream);
  auto token = std::make_shared<HttpConnection*>(&c);
  c.waiting_for = token;
  bool http10 = c.parser->http10();
  HttpResponder respond = [token, keep_alive, http10, head](HttpResponse response) {
    HttpConnection* conn = *token;
    if (!conn || conn->phase != HttpConnPhase::waiting) return;
    HttpConnection& c = *conn;
    *token = nullptr;
    c.waiting_for.reset();
    c.phase = HttpConnPhase::reading;
    if (response.status < 200 || response.status > 599) {
      response = http_plain_response(500, "internal server error\n");
    }
    if (!write_bytes(c, http_format_response(response, keep_alive, http10, head))) return;
    if (!keep_alive) {
      finish(c);
      return;
    }
    restart_timer(c, c.server->idle_ms);
    if (c.dispatching) return;  // called at once: the dispatching loop goes on by itself
    if (!c.read_paused && uv_read_start(&c.io.stream, on_alloc, on_read) < 0) {
      close_now(c);
      return;
    }
    try {
      process(c);  // requests that were pipelined behind this one
    } catch (const std::exception& e) {
      spdlog::error("http: connection from {}: {}", c.peer, e.what());
      close_now(c);
    }
  };
  try {
    reply.deferred(std::move(respond));
  } catch (const std::exception& e) {
    spdlog::error("http: deferred reply threw: {}", e.what());
    close_now(c);
  } catch (...) {
    spdlog::error("http: deferred reply threw");
    close_now(c);
  }
}

void dispatch(HttpConnection& c) {
  HttpRequest request = c.parser->take();
  bool keep_alive = c.parser->keep_alive();
  bool head = request.method == "HEAD";
  restart_timer(c, c.server->idle_ms);
  HttpReply reply;
  if (!c.parser->target_error().empty()) {
    reply.response = http_plain_response(400, "bad request: " + c.parser->target_error() + "\n");
  } else {
    try {
      reply = c.server->handler(request);
    } catch (const std::exception& e) {
      spdlog::error("http: handler for {} {} threw: {}", request.method, request.path, e.what());
      reply = HttpReply{http_plain_response(500, "internal server error\n"), {}, {}};
    } catch (...) {
      spdlog::error("http: handler for {} {} threw", request.method, request.path);
      reply = HttpReply{http_plain_response(500, "internal server error\n"), {}, {}};
    }
  }
  if (c.phase != HttpConnPhase::reading) return;  // the handler stopped the server
  if (reply.response.status < 200 || reply.response.status > 599) {
    spdlog::error("http: handler for {} {} gave status {}", request.method, request.path,
                  reply.response.status);
    reply = HttpReply{http_plain_response(500, "internal server error\n"), {}, {}};
  }
  if (reply.stream) {
    start_stream(c, reply, head);
    return;
  }
  if (reply.deferred) {
    c.dispatching = true;
    start_waiting(c, reply, keep_alive, head);
    c.dispatching = false;
    if (c.phase == HttpConnPhase::reading && c.read_paused) return;
    if (c.phase == HttpConnPhase::reading) uv_read_start(&c.io.stream, on_alloc, on_read);
    return;
  }
  if (write_bytes(c, http_format_response(reply.response, keep_alive, c.parser->http10(), head)) &&
      !keep_alive)
    finish(c);
}

void process(HttpConnection& c) {
  size_t offset = 0;
  const auto& options = c.server->options;
  while (c.phase == HttpConnPhase::reading && offset < c.input.size()) {
    if (uv_stream_get_write_queue_size(&c.io.stream) > options.max_stream_buffer) {
      // The client sends requests faster than it reads the answers: wait for it.
      c.read_paused = true;
      uv_read_stop(&c.io.stream);
      break;
    }
    size_t used = 0;
    auto status = c.parser->parse(std::string_view(c.input).substr(offset), used);
    offset += used;
    if (c.parser->take_continue()) write_bytes(c, "HTTP/1.1 100 Continue\r\n\r\n");
    if (c.phase != HttpConnPhase::reading) break;
    if (status == HttpRequestParser::Status::failed) {
      fail(c, c.parser->error_status(), c.parser->error_text());
      break;
    }
    if (status == HttpRequestParser::Status::request) dispatch(c);
  }
  if (c.phase == HttpConnPhase::reading || c.phase == HttpConnPhase::waiting)
    c.input.erase(0, offset);  // a request pipelined behind a deferred reply waits for it
  else
    c.input.clear();
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto& c = *static_cast<HttpConnection*>(stream->data);
  if (c.phase == HttpConnPhase::closed || nread == 0) return;
  if (nread < 0) {
    if (nread != UV_EOF || c.phase == HttpConnPhase::streaming ||
        (c.phase == HttpConnPhase::finishing && c.shutdown_done)) {
      close_now(c);  // the client is gone
      return;
    }
    c.eof = true;
    uv_read_stop(stream);
    finish(c);  // answers already queued go out first
    return;
  }
  if (c.phase != HttpConnPhase::reading) return;  // dropped: streaming or finishing
  try {
    c.input.append(buf->base, static_cast<size_t>(nread));
    process(c);
  } catch (const std::exception& e) {
    spdlog::error("http: connection from {}: {}", c.peer, e.what());
    close_now(c);
  } catch (...) {
    close_now(c);
  }
}

void init_handle(HttpServerState& server, HttpConnection& c, uv_handle_t* handle) {
  handle->data = &c;
  ++c.open_handles;
  ++server.open_handles;
}

void on_connection(uv_stream_t* listener, int status) {
  auto& server = *static_cast<HttpServerState*>(listener->data);
  if (status < 0) {
    spdlog::warn("http: accept on {} failed: {}", server.address, uv_strerror(status));
    return;
  }
  try {
    server.connections.push_back(std::make_unique<HttpConnection>());
  } catch (...) {
    return;
  }
  HttpConnection& c = *server.connections.back();
  c.self = std::prev(server.connections.end());
  c.server = &server;
  int rc = server.is_unix ? uv_pipe_init(server.loop, &c.io.pipe, 0)
                          : uv_tcp_init(server.loop, &c.io.tcp);
  if (rc < 0) {
    spdlog::warn("http: cannot accept on {}: {}", server.address, uv_strerror(rc));
    server.connections.pop_back();
    return;
  }
  init_handle(server, c, &c.io.handle);
  uv_timer_init(server.loop, &c.timer);
  init_handle(server, c, reinterpret_cast<uv_handle_t*>(&c.timer));
  if ((rc = uv_accept(listener, &c.io.stream)) < 0) {
    spdlog::warn("http: accept on {} failed: {}", server.address, uv_strerror(rc));
    close_now(c);
    return;
  }
  c.peer = "unix";
  if (!server.is_unix) {
    uv_tcp_nodelay(&c.io.tcp, 1);  // events of a stream go out at once
    sockaddr_storage addr{};
    int len = sizeof addr, port = 0;
    if (uv_tcp_getpeername(&c.io.tcp, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      c.peer = http_address_text(addr, port);
  }
  if (server.active >= server.options.max_connections) {
    if (server.rejected >= server.options.max_connections) {
      close_now(c);  // a flood: not even an answer
      return;
    }
    c.counted_rejected = true;
    ++server.rejected;
    spdlog::warn("http: refusing connection from {}: {} connections open", c.peer, server.active);
    uv_read_start(&c.io.stream, on_alloc, on_read);
    fail(c, 503, "too many connections\n");
    return;
  }
  c.counted_active = true;
  ++server.active;
  c.parser.emplace(server.options.max_header_bytes, server.options.max_body_bytes, c.peer);
  restart_timer(c, server.idle_ms);
  if ((rc = uv_read_start(&c.io.stream, on_alloc, on_read)) < 0) close_now(c);
}

void on_listener_closed(uv_handle_t* handle) {
  static_cast<HttpServerState*>(handle->data)->handle_closed();
}

bool HttpServerStream::send(std::string_view data) {
  if (!conn_) return false;
  if (data.empty()) return true;  // an empty chunk would end the response
  HttpConnection& c = *conn_;
  std::string out;
  if (chunked_) {
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    out.reserve(data.size() + 32);
    out.append(size).append(data).append("\r\n");
  } else {
    out.assign(data);
  }
  size_t limit = c.server->options.max_stream_buffer;
  size_t queued = uv_stream_get_write_queue_size(&c.io.stream);
  if (queued + out.size() > limit) {
    spdlog::info("http: closing stream to {}: it reads too slowly ({} bytes queued)", c.peer,
                 queued);
    close_now(c);
    return false;
  }
  return write_bytes(c, std::move(out)) && conn_ != nullptr;
}

void HttpServerStream::close() {
  if (!conn_) return;
  HttpConnection& c = *conn_;
  detach();
  if (!chunked_ || write_bytes(c, "0\r\n\r\n")) finish(c);
}

}  // namespace

HttpServer::HttpServer(uv_loop_t* loop, HttpServerOptions options, HttpHandler handler)
    : state_(new HttpServerState{}) {
  state_->loop = loop;
  state_->options = std::move(options);
  state_->handler = std::move(handler);
  double seconds = state_->options.idle_timeout_seconds;
  state_->idle_ms =
      seconds > 0 ? static_cast<uint64_t>(std::clamp(std::ceil(seconds * 1000), 1.0, 1e10)) : 0;
}

HttpServer::~HttpServer() {
  state_->owner_gone = true;
  state_->stop();  // may delete the state at once
}

bool HttpServer::start(std::string& error) {
  HttpServerState& s = *state_;
  if (s.started) {
    error = s.options.listen + ": already started";
    return false;
  }
  const std::string& spec = s.options.listen;
  s.is_unix = spec.rfind("unix:", 0) == 0;
  int fd = s.is_unix ? http_listen_unix(spec.substr(5), s.socket_file, error)
                     : http_listen_tcp(spec, error);
  if (fd < 0) {
    error = spec + ": " + error;
    return false;
  }
  http_ignore_sigpipe();
  s.started = true;
  int rc =
      s.is_unix ? uv_pipe_init(s.loop, &s.listener.pipe, 0) : uv_tcp_init(s.loop, &s.listener.tcp);
  if (rc < 0) {
    ::close(fd);
    if (s.is_unix) unlink(spec.c_str() + 5);
    error = spec + ": " + uv_strerror(rc);
    return false;
  }
  s.listener.handle.data = &s;
  ++s.open_handles;
  s.listening = true;
  rc = s.is_unix ? uv_pipe_open(&s.listener.pipe, fd) : uv_tcp_open(&s.listener.tcp, fd);
  if (rc < 0) ::close(fd);  // not the handle's yet
  if (rc >= 0) rc = uv_listen(&s.listener.stream, SOMAXCONN, on_connection);
  if (rc < 0) {
    error = spec + ": " + uv_strerror(rc);
    stop();
    return false;
  }
  if (s.is_unix) {
    s.address = spec;
  } else {
    sockaddr_storage addr{};
    int len = sizeof addr;
    uv_tcp_getsockname(&s.listener.tcp, reinterpret_cast<sockaddr*>(&addr), &len);
    s.address = http_address_text(addr, s.port);
  }
  spdlog::debug("http: listening on {}", s.address);
  return true;
}

int HttpServer::port() const { return state_->port; }

std::string HttpServer::address() const { return state_->address; }

void HttpServer::stop(std::function<void()> closed) { state_->stop(std::move(closed)); }

void HttpServerState::stop(std::function<void()> closed) {
  if (closed) closed_callbacks.push_back(std::move(closed));
  stopping = true;
  if (listening) {
    listening = false;
    uv_close(&listener.handle, on_listener_closed);
    http_remove_socket_file(socket_file);
  }
  for (auto& c : connections) close_now(*c);
  if (open_handles == 0) settle();  // may delete this: nothing after it
}

}  // namespace setpoint
