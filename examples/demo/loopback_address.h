// The one address form the demo's programs accept: host:port on the loopback interface, so the
// demo never listens on, nor sends load to, another machine.
#pragma once

#include <string>
#include <string_view>

namespace setpoint {

struct DemoLoopbackAddress {
  std::string host;  // "127.0.0.1" or "::1" (no brackets)
  int port = 0;
  std::string url_authority() const;  // "127.0.0.1:8080" or "[::1]:8080"
};

// "127.0.0.1:8080", "127.1.2.3:0", "[::1]:8080" or "localhost:8080" (taken as 127.0.0.1). Port 0
// only when allow_port_zero (a server asking the OS for a port). False with the reason otherwise.
bool demo_parse_loopback(std::string_view text, bool allow_port_zero, DemoLoopbackAddress& out,
                         std::string& error);

}  // namespace setpoint
