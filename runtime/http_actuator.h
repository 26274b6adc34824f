// The http actuator: sets a knob with one HTTP request (PUT by default) whose URL, body and
// header values carry the value, and reads it back with a GET that returns a number or JSON.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "runtime/actuator.h"
#include "runtime/curl_multi.h"
#include "runtime/daemon_config.h"

namespace setpoint {

// apply(): config.http.method to url with "{value}" replaced (substitute_value) in the URL,
// the body and every header value; a 2xx answer is success, anything else fails with
// "HTTP 503" and the answer's body in output. Without a Content-Type header in the config, a
// body that starts with '{' or '[' is sent as application/json, any other as text/plain.
// read(): GET read_url; the body is a plain number ("42\n"), or JSON with the number (or a
// string holding one) at read_json_pointer ("/a/ttl"). Each call is one try, bounded by
// config.timeout_seconds: RetryingActuator adds the retries.
class HttpActuator : public Actuator {
 public:
  // `http` must outlive the actuator.
  HttpActuator(CurlMulti& http, const ActuatorConfig& config);
  // Aborts the transfers still in flight; their callbacks never run.
  ~HttpActuator() override;
  HttpActuator(const HttpActuator&) = delete;
  HttpActuator& operator=(const HttpActuator&) = delete;

  void apply(double value, ActuatorCallback done) override;
  bool can_read() const override { return !config_.read_url.empty(); }
  void read(ActuatorCallback done) override;
  // Aborts every transfer in flight; each callback runs once (before cancel() returns), with
  // error "cancelled".
  void cancel() override;

 private:
  void send(HttpClientRequest request, bool reading, ActuatorCallback done);

  CurlMulti& http_;
  std::string knob_;
  double timeout_seconds_;
  HttpActuatorConfig config_;
  std::unordered_set<uint64_t> in_flight_;
  bool destroying_ = false;
};

// The knob's value in a read_url response: `body` as a plain number when `json_pointer` is
// empty, else the number (or numeric string) at that JSON pointer. False with `error` saying
// why: `the response is not a number: "abc"`, `no value at /a/ttl in the response`.
bool http_actuator_read_value(std::string_view body, const std::string& json_pointer, double& value,
                              std::string& error);

}  // namespace setpoint
