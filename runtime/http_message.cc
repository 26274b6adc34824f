// The text of HTTP messages for the server: percent-decoding, query parameters, request targets and
// response heads.
#include "runtime/http_message.h"

#include <http_parser.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace setpoint {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* reason_phrase(int status) {
  const char* text = http_status_str(static_cast<enum http_status>(status));
  return std::strcmp(text, "<unknown>") == 0 ? "Unknown" : text;
}

// The server frames every response itself, and no header may smuggle in a line of its own.
bool clean_header(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char ch : name)
    if (ch <= ' ' || ch == ':' || ch == 127) return false;
  for (char ch : value)
    if (ch == '\r' || ch == '\n' || ch == '\0') return false;
  return !http_iequals(name, "content-length") && !http_iequals(name, "transfer-encoding") &&
         !http_iequals(name, "connection") && !http_iequals(name, "content-type");
}

}  // namespace

bool http_percent_decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c == '+' && plus_is_space ? ' ' : c);
    }
  }
  return true;
}

bool http_split_target(std::string_view url, std::string& path, std::string& query,
                       std::string& error) {
  url = url.substr(0, url.find('#'));
  std::string target(url);
  if (!url.empty() && url[0] != '/' && url != "*") {
    size_t scheme = url.find("://");  // absolute-form: http://host/path?query
    if (scheme != std::string_view::npos) {
      size_t start = url.find_first_of("/?", scheme + 3);
      target = start == std::string_view::npos ? "/" : std::string(url.substr(start));
      if (target[0] == '?') target = "/" + target;
    }
  }
  size_t q = target.find('?');
  query = q == std::string::npos ? "" : target.substr(q + 1);
  if (!http_percent_decode(std::string_view(target).substr(0, q), false, path))
    error = "bad percent-encoding in path";
  else if (path.find('\0') != std::string::npos)
    error = "NUL byte in path";
  else
    return true;
  return false;
}

std::string_view http_trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool http_iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

const std::string* HttpRequest::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return &value;
  return nullptr;
}

std::optional<std::string> HttpRequest::query_param(std::string_view name) const {
  std::string_view rest = query;
  std::string key, value;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = part.find('=');
    std::string_view raw_key = part.substr(0, eq);
    if (!http_percent_decode(raw_key, true, key)) key = raw_key;
    if (key != name) continue;
    std::string_view raw_value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    if (!http_percent_decode(raw_value, true, value)) value = raw_value;
    return value;
  }
  return std::nullopt;
}

HttpResponse http_plain_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

std::string http_format_head(const HttpResponse& r, std::string_view framing,
                             std::string_view connection) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  if (!r.content_type.empty() && clean_header("x", r.content_type))
    out += "Content-Type: " + r.content_type + "\r\n";
  out += framing;
  for (const auto& [name, value] : r.headers) {
    if (clean_header(name, value))
      out += name + ": " + value + "\r\n";
    else
      spdlog::warn("http: dropped response header \"{}\"", name);
  }
  if (!connection.empty()) out += "Connection: " + std::string(connection) + "\r\n";
  out += "\r\n";
  return out;
}

std::string http_format_response(const HttpResponse& r, bool keep_alive, bool http10, bool head) {
  bool no_body = r.status == 204 || r.status == 304;
  std::string framing = no_body ? "" : "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  std::string out =
      http_format_head(r, framing, keep_alive ? (http10 ? "keep-alive" : "") : "close");
  if (!no_body && !head) out += r.body;
  return out;
}

}  // namespace setpoint
