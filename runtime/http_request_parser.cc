// The request parser: http_parser's callbacks assemble an HttpRequest, stop at the header and body
// limits, and pause after each whole request so the handler runs outside the parser.
#include "runtime/http_request_parser.h"

#include <cctype>
#include <climits>

#include "runtime/http_message.h"

namespace setpoint {

namespace {

HttpRequestParser& self(http_parser* p) { return *static_cast<HttpRequestParser*>(p->data); }

}  // namespace

HttpRequestParser::HttpRequestParser(size_t max_header_bytes, size_t max_body_bytes,
                                     std::string peer)
    : max_header_bytes_(max_header_bytes), max_body_bytes_(max_body_bytes), peer_(std::move(peer)) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

HttpRequestParser::Status HttpRequestParser::parse(std::string_view data, size_t& used) {
  static const http_parser_settings callbacks = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = on_message_begin;
    s.on_url = on_url;
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    return s;
  }();
  used = 0;
  if (data.empty()) return Status::more;
  used = http_parser_execute(&parser_, &callbacks, data.data(), data.size());
  auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_PAUSED) {
    http_parser_pause(&parser_, 0);
    if (ready_) return Status::request;
    err = HPE_OK;
  }
  if (err == HPE_OK && used > 0) return Status::more;
  if (limit_status_ == 413) {
    error_status_ = 413;
    error_text_ = "request body larger than " + std::to_string(max_body_bytes_) + " bytes\n";
  } else if (limit_status_ == 431 || err == HPE_HEADER_OVERFLOW) {
    error_status_ = 431;
    error_text_ = "request headers larger than " + std::to_string(max_header_bytes_) + " bytes\n";
  } else {
    error_status_ = 400;
    // No progress without an error: nothing more can be read from this connection either.
    error_text_ = std::string("bad request: ") +
                  (err == HPE_OK ? "unparsable input" : http_errno_name(err)) + "\n";
  }
  return Status::failed;
}

HttpRequest HttpRequestParser::take() {
  ready_ = false;
  HttpRequest request = std::move(request_);
  request_ = HttpRequest{};
  return request;
}

bool HttpRequestParser::take_continue() {
  bool wanted = continue_;
  continue_ = false;
  return wanted;
}

bool HttpRequestParser::count_header_bytes(size_t n) {
  header_bytes_ += n;
  if (header_bytes_ <= max_header_bytes_) return true;
  limit_status_ = 431;
  return false;
}

void HttpRequestParser::end_header() {
  if (!headers_done_) request_.headers.emplace_back(field_, http_trim(value_));
  field_.clear();
  value_.clear();
  in_value_ = false;
}

// The callbacks return nonzero to stop the parser at a limit.
int HttpRequestParser::on_message_begin(http_parser* p) {
  auto& s = self(p);
  s.request_ = HttpRequest{};
  s.request_.peer = s.peer_;
  s.url_.clear();
  s.field_.clear();
  s.value_.clear();
  s.target_error_.clear();
  s.in_value_ = s.headers_done_ = s.continue_ = false;
  s.header_bytes_ = 0;
  return 0;
}

int HttpRequestParser::on_url(http_parser* p, const char* at, size_t len) {
  auto& s = self(p);
  if (!s.count_header_bytes(len)) return 1;
  s.url_.append(at, len);
  return 0;
}

int HttpRequestParser::on_header_field(http_parser* p, const char* at, size_t len) {
  auto& s = self(p);
  if (s.in_value_) s.end_header();
  // A new header also costs its ": " and CRLF, so many empty headers still reach the limit.
  if (!s.count_header_bytes(len + (s.field_.empty() ? 4 : 0))) return 1;
  for (size_t i = 0; i < len; ++i)
    s.field_.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(at[i]))));
  return 0;
}

int HttpRequestParser::on_header_value(http_parser* p, const char* at, size_t len) {
  auto& s = self(p);
  if (!s.count_header_bytes(len)) return 1;
  s.value_.append(at, len);
  s.in_value_ = true;
  return 0;
}

int HttpRequestParser::on_headers_complete(http_parser* p) {
  auto& s = self(p);
  if (s.in_value_) s.end_header();
  s.headers_done_ = true;
  s.request_.method = http_method_str(static_cast<enum http_method>(p->method));
  s.http10_ = p->http_major < 1 || (p->http_major == 1 && p->http_minor == 0);
  bool has_length = (p->flags & F_CONTENTLENGTH) && p->content_length != ULLONG_MAX;
  if (has_length && p->content_length > s.max_body_bytes_) {
    s.limit_status_ = 413;
    return -1;  // neither 0, 1 nor 2: an error that stops the parser
  }
  if (!http_split_target(s.url_, s.request_.path, s.request_.query, s.target_error_) &&
      s.target_error_.empty())
    s.target_error_ = "bad request target";
  const std::string* expect = s.request_.header("expect");
  bool has_body = (p->flags & F_CHUNKED) || (has_length && p->content_length > 0);
  s.continue_ = expect && http_iequals(*expect, "100-continue") && !s.http10_ && has_body;
  return 0;
}

int HttpRequestParser::on_body(http_parser* p, const char* at, size_t len) {
  auto& s = self(p);
  if (s.request_.body.size() + len > s.max_body_bytes_) {
    s.limit_status_ = 413;
    return 1;
  }
  s.request_.body.append(at, len);
  return 0;
}

int HttpRequestParser::on_message_complete(http_parser* p) {
  auto& s = self(p);
  if (s.in_value_) s.end_header();  // a trailer
  // An upgrade (CONNECT, "Upgrade: h2c") is answered as a plain request, then the connection
  // closes: nothing here speaks another protocol.
  s.keep_alive_ = http_should_keep_alive(p) && !p->upgrade;
  s.ready_ = true;
  // Paused, so that the handler runs outside the parser and may stop the server.
  http_parser_pause(p, 1);
  return 0;
}

}  // namespace setpoint
