// A tiny HTTP/1.1 server on 127.0.0.1 for tests of HTTP clients: blocking sockets on a thread
// of its own, one connection at a time, answers from a handler, and a log of what it was asked.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace setpoint::test {

struct CannedRequest {
  std::string method;
  std::string target;  // path and query, as sent: "/api/v1/query?query=up"
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  std::string header(std::string_view name) const;  // "" when absent; `name` in lower case
};

struct CannedResponse {
  int status = 200;
  std::string body;
  int delay_ms = 0;  // waits this long before answering (interrupted by stop())
  std::string content_type = "text/plain; version=0.0.4";
  std::vector<std::pair<std::string, std::string>> headers = {};  // more, such as Location
};

class CannedHttpServer {
 public:
  // Runs on the server's thread, one request at a time.
  using Handler = std::function<CannedResponse(const CannedRequest&)>;

  explicit CannedHttpServer(Handler handler);  // listening when it returns
  ~CannedHttpServer();                         // stop()
  CannedHttpServer(const CannedHttpServer&) = delete;
  CannedHttpServer& operator=(const CannedHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(std::string_view path = "/") const;  // "http://127.0.0.1:PORT/path"
  std::vector<CannedRequest> requests() const;         // every request so far, oldest first
  void stop();

 private:
  void serve();
  void serve_connection(int fd);
  // Whether `fd` became readable within timeout_ms (false on timeout or stop()); with fd -1,
  // whether the whole timeout passed without stop().
  bool wait_readable(int fd, int timeout_ms);

  Handler handler_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // a pipe: a byte on it wakes every wait for stop()
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::vector<CannedRequest> requests_;
  std::thread thread_;
};

// A port on 127.0.0.1 that nothing listens on (bound, read back, closed): connections to it
// are refused.
int closed_port();

// The value of `name` in the query string of `target`, percent-decoded; "" when absent.
std::string query_param(std::string_view target, std::string_view name);

// Runs `loop` until `done()` holds, at most `timeout_ms` (then returns false, so a bug fails
// the test instead of hanging the suite).
bool run_loop_until(uv_loop_t* loop, const std::function<bool()>& done, int timeout_ms = 10000);

// Runs `loop` until every handle is closed, then closes it: uv_loop_close's result (0 when no
// handle was left open).
int finish_loop(uv_loop_t* loop);

}  // namespace setpoint::test
