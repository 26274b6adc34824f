// Loopback helpers for the HTTP server's tests: a blocking client over plain sockets, and a
// server whose loop runs in the test thread while a client thread talks to it.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "runtime/http_server.h"

namespace setpoint::test::loopback {

// Connected sockets that give up after 10 s, so a broken server fails a test instead of
// hanging it; -1 when the connection is refused.
int connect_tcp(int port);
int connect_unix(const std::string& path);
void send_all(int fd, std::string_view data);

struct Received {
  std::string data;
  bool closed = false;  // the server closed the connection (false: the client timed out)
};

// Reads until the server closes the connection, or until `until` bytes have arrived.
Received receive(int fd, size_t until = SIZE_MAX);
// One response of a keep-alive connection: its head, then Content-Length bytes.
std::string read_response(int fd);
// Sends a request on a connection of its own and returns all that comes back.
Received ask(int port, std::string_view request);
std::string chunk(std::string_view data);  // one chunk of chunked encoding
HttpReply json(std::string body);          // a 200 application/json reply

// A server on a loop of its own. run() drives the loop in this thread while `client` runs in
// another; when the client returns (or calls request_stop()), the server stops and the loop ends.
class TestServer {
 public:
  TestServer(HttpServerOptions options, HttpHandler handler) {
    uv_loop_init(&loop_);
    server_ = std::make_unique<HttpServer>(&loop_, std::move(options), std::move(handler));
    start_ok_ = server_->start(start_error_);
  }
  ~TestServer() {
    server_.reset();
    if (loop_closed_) return;
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }
  bool started() const { return start_ok_; }
  const std::string& start_error() const { return start_error_; }
  HttpServer& server() { return *server_; }
  uv_loop_t* loop() { return &loop_; }
  int port() const { return server_->port(); }
  int stop_callbacks() const { return stop_callbacks_; }

  void run(const std::function<void()>& client) {
    stop_.data = this;
    uv_async_init(&loop_, &stop_, [](uv_async_t* async) {
      auto* self = static_cast<TestServer*>(async->data);
      self->server_->stop([self] { ++self->stop_callbacks_; });
      uv_close(reinterpret_cast<uv_handle_t*>(async), nullptr);
    });
    std::thread thread([&] {
      client();
      request_stop();
    });
    uv_run(&loop_, UV_RUN_DEFAULT);
    thread.join();
  }
  // From the client's thread; once only, as the handle is closed when it has fired.
  void request_stop() {
    if (!stop_requested_.exchange(true)) uv_async_send(&stop_);
  }
  // After run(): every handle is closed, so the loop can be closed.
  int close_loop() {
    int rc = uv_loop_close(&loop_);
    loop_closed_ = rc == 0;
    return rc;
  }

 private:
  uv_loop_t loop_;
  uv_async_t stop_;
  std::unique_ptr<HttpServer> server_;
  bool start_ok_ = false;
  std::string start_error_;
  std::atomic<bool> stop_requested_{false};
  int stop_callbacks_ = 0;
  bool loop_closed_ = false;
};

// Calls `tick` every 5 ms on the loop until it returns true, at most `max_ticks` times.
class Poller {
 public:
  Poller(uv_loop_t* loop, std::function<bool()> tick, int max_ticks = 2000)
      : tick_(std::move(tick)), left_(max_ticks) {
    uv_timer_init(loop, &timer_);
    timer_.data = this;
    uv_timer_start(
        &timer_,
        [](uv_timer_t* t) {
          auto* self = static_cast<Poller*>(t->data);
          if (self->tick_() || --self->left_ == 0) {
            self->done_ = true;
            uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
          }
        },
        5, 5);
  }
  ~Poller() {
    if (!done_) uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  }

 private:
  uv_timer_t timer_;
  std::function<bool()> tick_;
  int left_;
  bool done_ = false;
};

}  // namespace setpoint::test::loopback
