// substitute_value: the one spelling of a knob's value in commands, files and request bodies,
// so every actuator writes 8 as "8" and 0.25 as "0.25" whatever the locale.
#include "runtime/actuator.h"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace setpoint {

namespace {

constexpr std::string_view kValuePlaceholder = "{value}";

// Integers below 2^53 are exact in a double, so they print as the integer they are; anything
// larger or fractional prints in the shortest form that reads back to the same double.
std::string value_text(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  std::to_chars_result written;
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    written = std::to_chars(buffer, buffer + sizeof buffer, static_cast<int64_t>(value));
  } else {
    written = std::to_chars(buffer, buffer + sizeof buffer, value);
  }
  return std::string(buffer, written.ptr);
}

}  // namespace

// No escaping: "{{value}}" becomes "{8}". A literal "{value}" cannot be written, which no knob
// has needed; an escape syntax would be one more thing to get wrong in every config.
std::string substitute_value(std::string_view text, double value) {
  std::string out;
  std::string spelled;
  size_t from = 0;
  for (;;) {
    size_t at = text.find(kValuePlaceholder, from);
    if (at == std::string_view::npos) break;
    if (spelled.empty()) spelled = value_text(value);
    out.append(text.substr(from, at - from));
    out += spelled;
    from = at + kValuePlaceholder.size();
  }
  out.append(text.substr(from));
  return out;
}

}  // namespace setpoint
