// Whether two answers of a window function agree: both absent, both NaN, or equal.
#pragma once

#include <cmath>
#include <optional>

namespace setpoint::test {

inline bool same_answer(std::optional<double> a, std::optional<double> b) {
  if (!a || !b) return !a && !b;
  if (std::isnan(*a) || std::isnan(*b)) return std::isnan(*a) && std::isnan(*b);
  return *a == *b;
}

}  // namespace setpoint::test
