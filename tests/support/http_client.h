// A small blocking HTTP client over libcurl, for tests that talk to a server they started on
// 127.0.0.1. One object keeps one connection alive across requests.
#pragma once

#include <chrono>
#include <string>

namespace setpoint::test {

struct HttpResponse {
  long status = 0;  // 0 when no response came back
  std::string body;
  std::string error;  // curl's message when status is 0
};

class HttpClient {
 public:
  explicit HttpClient(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse get(const std::string& url);
  // A POST with a body; `bearer` (when not empty) goes in an Authorization header.
  HttpResponse post(const std::string& url, const std::string& body,
                    const std::string& bearer = {});

  // Percent-encodes text for a query-string value: `rate(x[5m])` -> `rate%28x%5B5m%5D%29`.
  std::string escape(const std::string& text);

 private:
  HttpResponse perform(const std::string& url, const std::string* body, const std::string& bearer);
  void* curl_;  // CURL*, kept out of the header so tests need not include curl.h
  std::chrono::milliseconds timeout_;
};

}  // namespace setpoint::test
