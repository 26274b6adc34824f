// The one-sided Mann-Whitney U test (Wilcoxon rank-sum) of whether an observation window is
// shifted below or above a baseline window, computed as R's wilcox.test(obs, base) does.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace setpoint {

// The exact null distribution is used when neither sample reaches this size and the pooled
// values have no ties: R's rule (`exact <- n.x < 50 && n.y < 50`), so our p-values can be
// checked against R's.
inline constexpr size_t kExactRankSumLimit = 50;

struct RankSum {
  bool ok = false;  // false when a sample is empty or holds a NaN or an infinity
  size_t n_baseline = 0;
  size_t n_observation = 0;
  // Pairs (baseline b, observation o) with o > b, a tie counting one half: R's W statistic
  // for wilcox.test(obs, base), from midranks as sum(ranks of obs) - n_obs (n_obs + 1) / 2.
  double u = 0;
  bool ties = false;   // some value occurs more than once in the pooled sample
  bool exact = false;  // exact null distribution; otherwise the normal approximation
  // The standard deviation of U under the null, corrected for ties: the normal
  // approximation's scale (also filled in when the p-values are exact).
  double sigma = 0;
  double p_lower = 1;   // one-sided p-value for "observation is shifted below baseline"
  double p_higher = 1;  // one-sided p-value for "observation is shifted above baseline"
};

RankSum rank_sum_test(std::span<const double> baseline, std::span<const double> observation);

// counts[u], u = 0..m*n: how many of the C(m + n, m) orderings of m baseline and n observation
// values, all distinct, give U = u. Doubles, because C(98, 49) ~ 2.5e28 overflows any integer;
// the recursion only adds, so each count is exact below 2^53 and within a few ulps above.
// Empty unless m and n are both below kExactRankSumLimit (the table is O(m^2 n) doubles).
std::vector<double> rank_sum_counts(size_t m, size_t n);

}  // namespace setpoint
