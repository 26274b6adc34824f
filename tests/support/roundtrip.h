// The front end's invariants on any input, shared by the libFuzzer target and the deterministic
// robustness test: parse and check never crash; whatever parses formats to a file that parses
// to the same program, with the same comments, and formats to itself.
#pragma once

#include <string>
#include <string_view>

namespace setpoint::test {

// Returns an empty string when every invariant holds, otherwise what broke.
std::string frontend_roundtrip(std::string_view input);

}  // namespace setpoint::test
