// Parsing host:port and refusing anything that is not a loopback address.
#include "examples/demo/loopback_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdint>

namespace setpoint {

std::string DemoLoopbackAddress::url_authority() const {
  std::string h = host.find(':') == std::string::npos ? host : "[" + host + "]";
  return h + ":" + std::to_string(port);
}

bool demo_parse_loopback(std::string_view text, bool allow_port_zero, DemoLoopbackAddress& out,
                         std::string& error) {
  std::string quoted = "\"" + std::string(text.substr(0, 100)) + "\"";
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    error = quoted + " is not host:port";
    return false;
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535 || (port == 0 && !allow_port_zero)) {
    error = quoted + ": the port must be a number from " +
            std::string(allow_port_zero ? "0" : "1") + " to 65535";
    return false;
  }
  std::string h(host);
  if (!bracketed && h == "localhost") h = "127.0.0.1";
  in_addr v4{};
  in6_addr v6{};
  bool loopback = false;
  if (!bracketed && inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    loopback = (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  } else if (bracketed && inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    loopback = IN6_IS_ADDR_LOOPBACK(&v6);
  } else {
    error = quoted + ": the host must be a numeric address (127.0.0.1 or [::1]) or localhost";
    return false;
  }
  if (!loopback) {
    error = quoted + " is not a loopback address: the demo only uses 127.0.0.0/8 or [::1]";
    return false;
  }
  out.host = h;
  out.port = port;
  return true;
}

}  // namespace setpoint
