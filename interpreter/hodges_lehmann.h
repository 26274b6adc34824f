// The Hodges-Lehmann estimate of the shift from a baseline to an observation window (the median
// of every difference obs_j - base_i) with its confidence interval from the distribution of U.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace setpoint {

struct ShiftEstimate {
  bool ok = false;  // false for an empty sample, a NaN or infinity, or a confidence not in (0, 1)
  double shift = std::numeric_limits<double>::quiet_NaN();
  // The interval [D(k), D(N + 1 - k)] over the N = n_base * n_obs sorted differences D, with k
  // the largest rank whose two tails under the null of U together stay within 1 - confidence.
  // Unbounded (-inf, +inf) when the samples are too small to reach the confidence at all.
  double ci_low = -std::numeric_limits<double>::infinity();
  double ci_high = std::numeric_limits<double>::infinity();
  uint64_t ci_rank = 0;  // k; 0 when unbounded
  bool exact = false;    // k from the exact distribution of U, as rank_sum_test decides
};

// Exact case (no ties, both samples under kExactRankSumLimit): k = qwilcox((1 - conf) / 2),
// the smallest q with P(U <= q) >= (1 - conf) / 2, as R's wilcox.test(conf.int = TRUE) picks
// it, so interval and estimate equal R's (R widens a q of 0 to 1; we report unbounded).
// Otherwise k = floor(N / 2 + 1/2 - z sigma), z the normal quantile at (1 + conf) / 2 and sigma
// U's tie-corrected standard deviation: the continuity-corrected normal version of the same
// rule, where R instead solves for the interval numerically and so differs slightly.
//
// Cost: O((m + n) log(m + n)) to sort, then 64 passes of O(m + n) for each of the (up to) four
// order statistics; the N differences are never formed, so there is no size limit.
ShiftEstimate hodges_lehmann(std::span<const double> baseline, std::span<const double> observation,
                             double confidence = 0.95);

// The k-th smallest (1-based, 1 <= k <= m n) of the differences obs[j] - base[i] as doubles
// compute them, from both samples sorted ascending and finite. Exactly the value sorting all
// m n differences would give at position k, found by bisecting the ordered doubles.
double kth_difference(std::span<const double> sorted_baseline,
                      std::span<const double> sorted_observation, uint64_t k);

}  // namespace setpoint
