// Decoding of literal tokens: numbers with units (500ms, 1h30m, 80%, 1.5GiB, 0x1f, Inf) and
// quoted strings with Go/PromQL escapes. The grammar only finds the token's extent.
#pragma once

#include <string>
#include <string_view>

#include "grammar/ast.h"

namespace setpoint {

struct NumberLiteral {
  double value = 0;  // in base units: seconds, bytes, or a ratio for %
  Unit unit = Unit::None;
  bool ok = false;
  size_t error_offset = 0;  // into the token, when !ok
  size_t error_length = 0;
  std::string error;
  std::string hint;
};
NumberLiteral decode_number(std::string_view token);

struct StringLiteral {
  std::string value;
  bool ok = false;
  size_t error_offset = 0;  // into the token, when !ok
  size_t error_length = 0;
  std::string error;
};
StringLiteral decode_string(std::string_view token);

const char* unit_name(Unit unit);

}  // namespace setpoint
