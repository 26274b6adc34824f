// The daemon's HTTP client: one libcurl multi handle driven by the libuv loop (a uv_poll_t per
// socket curl opens, one uv_timer_t for curl's timeouts), so every transfer is asynchronous.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace setpoint {

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;   // http:// or https:// only; at most 3 redirects are followed
  std::string body;  // sent, with its Content-Length (0 too), by every method but GET and HEAD
  std::vector<std::pair<std::string, std::string>> headers;  // no CR or LF in names or values
  double timeout_seconds = 10;                               // the whole transfer
  size_t max_body_bytes = size_t{1} << 20;                   // of the response, decoded
  // Beyond max_body_bytes: false fails the transfer ("body larger than N bytes") as soon as the
  // bound is passed; true keeps the first max_body_bytes, drops the rest and lets it complete.
  bool truncate_body = false;
};

struct HttpClientResponse {
  bool ok = false;           // the transfer completed (whatever the status)
  long status = 0;           // the HTTP status of the last response, 0 when none came
  std::string body;          // at most max_body_bytes
  bool truncated = false;    // truncate_body dropped the end of the body
  std::string content_type;  // the Content-Type header, "" when absent
  std::string error;   // when !ok: "timed out after 2s", "connection refused", "cancelled", ...
  double seconds = 0;  // from request() to the outcome
};

using HttpClientCallback = std::function<void(const HttpClientResponse&)>;

class CurlMulti {
 public:
  explicit CurlMulti(uv_loop_t* loop);
  // close() first and let the loop run its close callbacks; a CurlMulti destroyed without
  // close() closes itself (its pending callbacks run with "cancelled").
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  // Starts a transfer and returns its id (never 0). `done` runs exactly once, always later
  // from the loop, never inside request(): even a request refused at once (a header with a
  // newline, a request after close()) reports through the loop.
  uint64_t request(HttpClientRequest request, HttpClientCallback done);

  // Aborts a transfer still in flight: its `done` runs before cancel() returns, with error
  // "cancelled". An unknown or finished id is ignored.
  void cancel(uint64_t id);

  // Cancels every transfer (as cancel() does), frees curl's handle and closes every uv handle;
  // `closed` runs from the loop once the last one is closed. Requests after it fail ("closed").
  void close(std::function<void()> closed = nullptr);

  size_t in_flight() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace setpoint
