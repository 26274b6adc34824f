// The Hodges-Lehmann shift and its interval: order statistics of the pairwise differences,
// selected by bisection over the ordered doubles instead of forming all n_base * n_obs of them.
#include "interpreter/hodges_lehmann.h"

#include <algorithm>
#include <bit>
#include <boost/math/distributions/normal.hpp>
#include <cfloat>
#include <cmath>
#include <vector>

#include "interpreter/mann_whitney.h"

namespace setpoint {
namespace {

constexpr uint64_t kSign = uint64_t{1} << 63;

// A key whose unsigned order is the order of the doubles (-0 just below +0), so bisecting keys
// walks every double between two bounds in order and stops on an exact one.
uint64_t ordered_key(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  return (bits & kSign) ? ~bits : bits | kSign;
}

double from_key(uint64_t key) { return std::bit_cast<double>((key & kSign) ? key & ~kSign : ~key); }

// How many of the differences obs[j] - base[i] are <= d. For each j the differences fall as i
// rises, so those <= d are a suffix i >= p; p only moves up as obs[j] rises. Rounding is
// monotone, so this holds for the computed differences too.
uint64_t count_at_most(std::span<const double> base, std::span<const double> obs, double d) {
  uint64_t count = 0;
  size_t p = 0;
  for (double o : obs) {
    while (p < base.size() && o - base[p] > d) ++p;
    count += base.size() - p;
  }
  return count;
}

std::vector<double> sorted(std::span<const double> values) {
  std::vector<double> v(values.begin(), values.end());
  std::sort(v.begin(), v.end());
  return v;
}

// The rank k of the interval [D(k), D(N + 1 - k)], or 0 when no k >= 1 reaches the confidence.
uint64_t interval_rank(const RankSum& test, double confidence) {
  const double half_alpha = (1 - confidence) / 2;
  if (test.exact) {
    const std::vector<double> counts = rank_sum_counts(test.n_baseline, test.n_observation);
    double all = 0;
    for (double c : counts) all += c;
    // qwilcox's search, with its fuzz of 10 DBL_EPSILON so a tail equal to alpha / 2 up to
    // rounding counts as reaching it.
    const double target = half_alpha - 10 * DBL_EPSILON;
    double cumulative = 0;
    for (size_t q = 0; q < counts.size(); ++q) {
      cumulative += counts[q] / all;
      if (cumulative >= target) return q;
    }
    return 0;
  }
  // Continuity-corrected: P(U <= k - 1) ~ Phi((k - 1/2 - N/2) / sigma) <= alpha / 2.
  const double n = static_cast<double>(test.n_baseline) * static_cast<double>(test.n_observation);
  const double z =
      boost::math::quantile(boost::math::normal_distribution<double>(), 1 - half_alpha);
  const double k = std::floor(n / 2 + 0.5 - z * test.sigma);
  return k >= 1 ? static_cast<uint64_t>(k) : 0;
}

}  // namespace

double kth_difference(std::span<const double> sorted_baseline,
                      std::span<const double> sorted_observation, uint64_t k) {
  uint64_t lo = ordered_key(sorted_observation.front() - sorted_baseline.back());
  uint64_t hi = ordered_key(sorted_observation.back() - sorted_baseline.front());
  // The smallest key whose double has at least k differences at or below it: that double is
  // the k-th difference itself. At most 64 halvings.
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (count_at_most(sorted_baseline, sorted_observation, from_key(mid)) >= k) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return from_key(lo) + 0.0;  // + 0.0 turns a -0 into 0: the same bytes for the same value
}

ShiftEstimate hodges_lehmann(std::span<const double> baseline, std::span<const double> observation,
                             double confidence) {
  ShiftEstimate e;
  if (!(confidence > 0 && confidence < 1)) return e;
  const RankSum test = rank_sum_test(baseline, observation);
  if (!test.ok) return e;
  e.ok = true;
  e.exact = test.exact;
  const std::vector<double> base = sorted(baseline);
  const std::vector<double> obs = sorted(observation);
  const uint64_t n = static_cast<uint64_t>(base.size()) * obs.size();
  if (n % 2 == 1) {
    e.shift = kth_difference(base, obs, (n + 1) / 2);
  } else {
    e.shift = (kth_difference(base, obs, n / 2) + kth_difference(base, obs, n / 2 + 1)) / 2;
  }
  e.ci_rank = interval_rank(test, confidence);
  if (e.ci_rank >= 1) {
    e.ci_low = kth_difference(base, obs, e.ci_rank);
    e.ci_high = kth_difference(base, obs, n + 1 - e.ci_rank);
  }
  return e;
}

}  // namespace setpoint
