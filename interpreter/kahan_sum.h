// Prometheus' kahansum.Inc: Kahan-Babuska (Neumaier) compensated summation, shared by the
// range functions, the sliding windows and the aggregations so that all sum alike.
#pragma once

#include <cmath>

namespace setpoint {

// Adds `inc` to `sum`, keeping the lost low-order part in `c`; the result is sum + c. An
// infinite sum drops the compensation so that Inf + c does not turn into NaN.
inline void kahan_inc(double inc, double& sum, double& c) {
  double t = sum + inc;
  if (std::isinf(t)) {
    c = 0;
  } else if (std::fabs(sum) >= std::fabs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  sum = t;
}

}  // namespace setpoint
