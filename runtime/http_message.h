// The text of HTTP messages for the server: percent-decoding, request targets, and the heads of
// responses, with the headers a handler may not set dropped.
#pragma once

#include <string>
#include <string_view>

#include "runtime/http_server.h"

namespace setpoint {

// %XX escapes (and '+' as a space in query text); false on a broken escape.
bool http_percent_decode(std::string_view in, bool plus_is_space, std::string& out);

// Splits a request target (origin or absolute form, any #fragment dropped) into a decoded path and
// the raw query; false with a reason when the path cannot be decoded or holds a NUL.
bool http_split_target(std::string_view target, std::string& path, std::string& query,
                       std::string& error);

std::string_view http_trim(std::string_view s);  // spaces and tabs at both ends
bool http_iequals(std::string_view a,
                  std::string_view b);  // ASCII, case-insensitive

HttpResponse http_plain_response(int status, std::string body);  // text/plain

// Status line and headers. framing is "Content-Length: N\r\n", "Transfer-Encoding: chunked\r\n" or
// ""; connection is "close", "keep-alive" or "" (no header).
std::string http_format_head(const HttpResponse& r, std::string_view framing,
                             std::string_view connection);

// A whole response: head and body (no body for HEAD, 204 and 304).
std::string http_format_response(const HttpResponse& r, bool keep_alive, bool http10, bool head);

}  // namespace setpoint
