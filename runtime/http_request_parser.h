// Reads HTTP/1.x requests out of a connection's bytes with http_parser, one whole request at a
// time, within the server's header and body limits.
#pragma once

#include <http_parser.h>

#include <string>
#include <string_view>

#include "runtime/http_server.h"

namespace setpoint {

class HttpRequestParser {
 public:
  enum class Status { more, request, failed };

  HttpRequestParser(size_t max_header_bytes, size_t max_body_bytes, std::string peer);
  HttpRequestParser(const HttpRequestParser&) = delete;  // http_parser points back at it
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses from the start of data and says how far it got in `used`: to the end of one whole
  // request (request: take() it), to the end of data (more), or to an error (failed: the connection
  // cannot go on; answer error_status() with error_text()).
  Status parse(std::string_view data, size_t& used);

  HttpRequest take();
  bool keep_alive() const { return keep_alive_; }  // of the request just taken
  bool http10() const { return http10_; }
  // Not empty for a request whose target cannot be decoded: it gets a 400 with this reason.
  const std::string& target_error() const { return target_error_; }
  // True once for a request that waits for "100 Continue" before it sends its body.
  bool take_continue();
  int error_status() const { return error_status_; }  // 400, 413 or 431
  const std::string& error_text() const { return error_text_; }

 private:
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, size_t len);
  static int on_header_field(http_parser* p, const char* at, size_t len);
  static int on_header_value(http_parser* p, const char* at, size_t len);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, size_t len);
  static int on_message_complete(http_parser* p);
  bool count_header_bytes(size_t n);
  void end_header();

  http_parser parser_;
  size_t max_header_bytes_, max_body_bytes_;
  std::string peer_;
  HttpRequest request_;
  std::string url_, field_, value_;
  bool in_value_ = false;
  bool headers_done_ = false;  // later header callbacks are trailers, counted and dropped
  size_t header_bytes_ = 0;
  int limit_status_ = 0;  // 413 or 431, when a callback stopped the parser at a limit
  bool keep_alive_ = false, http10_ = false, continue_ = false, ready_ = false;
  std::string target_error_;
  int error_status_ = 0;
  std::string error_text_;
};

}  // namespace setpoint
