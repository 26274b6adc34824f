// The http actuator: sets a knob with one HTTP request (PUT by default) whose URL, body and
// header values carry the value, and reads it back with a GET that returns a number or JSON.
#include "runtime/http_actuator.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "runtime/metrics_reader.h"

namespace setpoint {

namespace {

using json = nlohmann::json;

// A value to read back is a number, a little JSON at most: a bound well above that.
constexpr size_t kMaxReadBytes = 64 * 1024;

std::string_view trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

bool finite_number(std::string_view text, double& value) {
  return parse_sample_value(trim(text), value) && std::isfinite(value);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string bounded(std::string text) {
  if (text.size() > kMaxActuatorOutput) text.resize(kMaxActuatorOutput);
  return text;
}

}  // namespace

bool http_actuator_read_value(std::string_view body, const std::string& json_pointer, double& value,
                              std::string& error) {
  using metrics_detail::quote;
  if (json_pointer.empty()) {
    if (finite_number(body, value)) return true;
    error = "the response is not a number: " + quote(trim(body));
    return false;
  }
  json::json_pointer pointer;
  try {
    pointer = json::json_pointer(json_pointer);
  } catch (const json::exception&) {
    error = "invalid JSON pointer " + quote(json_pointer) + ": it must start with '/'";
    return false;
  }
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    error = "the response is not JSON: " + quote(trim(body));
    return false;
  }
  const json* at = nullptr;
  try {
    if (doc.contains(pointer)) at = &doc.at(pointer);
  } catch (const json::exception&) {
    at = nullptr;  // a pointer through a non-container, or a bad array index
  }
  if (!at) {
    error = "no value at " + json_pointer + " in the response";
    return false;
  }
  if (at->is_number()) {
    value = at->get<double>();
    if (std::isfinite(value)) return true;
  } else if (at->is_string() && finite_number(at->get_ref<const std::string&>(), value)) {
    return true;
  }
  error = "the value at " + json_pointer + " is not a number: " + quote(at->dump());
  return false;
}

HttpActuator::HttpActuator(CurlMulti& http, const ActuatorConfig& config)
    : http_(http),
      knob_(config.knob),
      timeout_seconds_(config.timeout_seconds),
      config_(config.http) {
  for (char& c : config_.method) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  if (config_.method.empty()) config_.method = "PUT";
}

HttpActuator::~HttpActuator() {
  destroying_ = true;
  cancel();
}

void HttpActuator::apply(double value, ActuatorCallback done) {
  HttpClientRequest request;
  request.method = config_.method;
  request.url = substitute_value(config_.url, value);
  request.body = substitute_value(config_.body, value);
  bool has_content_type = false;
  for (const auto& [name, header_value] : config_.headers) {
    has_content_type = has_content_type || iequals(name, "Content-Type");
    request.headers.emplace_back(name, substitute_value(header_value, value));
  }
  std::string_view start = trim(request.body);
  if (!has_content_type && !start.empty()) {
    bool json_body = start.front() == '{' || start.front() == '[';
    request.headers.emplace_back("Content-Type",
                                 json_body ? "application/json" : "text/plain; charset=utf-8");
  }
  request.max_body_bytes = kMaxActuatorOutput;
  request.truncate_body = true;  // a long answer to a good request is still a success
  spdlog::debug("http actuator {}: {} {}", knob_, request.method, request.url);
  send(std::move(request), false, std::move(done));
}

void HttpActuator::read(ActuatorCallback done) {
  // Without a read_url, CurlMulti still reports through the loop ("no URL").
  HttpClientRequest request;
  request.url = config_.read_url;
  request.headers.emplace_back("Accept", "application/json, text/plain;q=0.9");
  request.max_body_bytes = kMaxReadBytes;
  send(std::move(request), true, std::move(done));
}

void HttpActuator::send(HttpClientRequest request, bool reading, ActuatorCallback done) {
  request.timeout_seconds = timeout_seconds_;
  auto id = std::make_shared<uint64_t>(0);
  *id = http_.request(
      std::move(request), [this, id, reading, done = std::move(done)](const HttpClientResponse& r) {
        in_flight_.erase(*id);
        if (destroying_) return;
        ActuatorResult result;
        result.attempts = 1;
        result.seconds = r.seconds;
        if (!r.ok) {
          result.error = r.error;
        } else {
          result.output = bounded(r.body);
          if (r.status < 200 || r.status > 299) {
            result.error = "HTTP " + std::to_string(r.status);
          } else if (reading) {
            double value = 0;
            if (http_actuator_read_value(r.body, config_.read_json_pointer, value, result.error)) {
              result.value = value;
            }
          }
          result.ok = result.error.empty();
        }
        if (!result.ok) spdlog::debug("http actuator {}: {}", knob_, result.error);
        done(result);
      });
  in_flight_.insert(*id);
}

void HttpActuator::cancel() {
  std::vector<uint64_t> ids(in_flight_.begin(), in_flight_.end());
  for (uint64_t id : ids) http_.cancel(id);
}

}  // namespace setpoint
