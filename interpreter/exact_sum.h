// The exact sum of a multiset of doubles, which values can join and leave in any order: a
// fixed-point number with 128 bits on either side of the binary point, held as 32-bit limbs in
// 64-bit counters so that adding a value touches three counters and propagates no carry.
// sum_over_time and avg_over_time are computed from it, so a window that slides (add the
// newcomers, remove the leavers: interpreter/window_sum.h) answers exactly what summing its
// samples afresh answers, whatever evaluations came before.
#pragma once

#include <cstdint>

namespace setpoint {

class ExactSum {
 public:
  // Whether `v` is held exactly: finite, below 2^96 in magnitude and with no bit below 2^-128
  // (every value a metric usually takes: 1e-9 has its lowest bit near 2^-82). Sums of other
  // values are left to a compensated sum.
  static bool fits(double v);

  // Add or remove `v`; one that does not fit is not added (false).
  bool add(double v) { return accumulate(v, 1); }
  bool remove(double v) { return accumulate(v, -1); }

  // The sum correctly rounded (hi), and what is left of it correctly rounded (lo):
  // hi + lo is the sum to twice a double's precision, the pair a compensated sum approximates.
  struct Rounded {
    double hi = 0, lo = 0;
  };
  Rounded rounded() const;

 private:
  bool accumulate(double v, int64_t sign);
  static constexpr int kLimbs = 10;  // 320 bits from 2^-128: values below 2^96, sums far above
  int64_t limbs_[kLimbs] = {};       // the sum is limbs_[i] * 2^(32 i - 128), over i
};

}  // namespace setpoint
