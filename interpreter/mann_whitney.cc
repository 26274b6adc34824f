// The Mann-Whitney U test: midranks of the pooled sample, the exact null distribution by the
// classic recursion for small tie-free samples, the tie-corrected normal approximation otherwise.
#include "interpreter/mann_whitney.h"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <numeric>

namespace setpoint {
namespace {

bool measurable(std::span<const double> values) {
  return !values.empty() &&
         std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

struct Pooled {
  double value;
  bool observation;
};

}  // namespace

std::vector<double> rank_sum_counts(size_t m, size_t n) {
  if (m >= kExactRankSumLimit || n >= kExactRankSumLimit) return {};
  // U has the same distribution for (m, n) and (n, m); fewer rows is less work.
  if (m > n) std::swap(m, n);
  const size_t width = m * n + 1;
  // Row i holds f(i, j; u) for the current j: orderings of i baseline and j observation values
  // with U = u. The largest value is either an observation, above all i baseline values
  // (f(i, j - 1; u - i)), or a baseline value, below none (f(i - 1, j; u)). Only additions:
  // no factorials, no cancellation.
  std::vector<double> f((m + 1) * width, 0.0);
  for (size_t i = 0; i <= m; ++i) f[i * width] = 1;  // j = 0: one ordering, U = 0
  for (size_t j = 1; j <= n; ++j) {
    for (size_t i = 1; i <= m; ++i) {
      double* row = &f[i * width];
      const double* below = &f[(i - 1) * width];  // already f(i - 1, j)
      // Downwards, so row[u - i] still holds f(i, j - 1; u - i).
      for (size_t u = i * j + 1; u-- > 0;) {
        row[u] = (u >= i ? row[u - i] : 0.0) + below[u];
      }
    }
  }
  return std::vector<double>(f.begin() + static_cast<std::ptrdiff_t>(m * width), f.end());
}

RankSum rank_sum_test(std::span<const double> baseline, std::span<const double> observation) {
  RankSum r;
  r.n_baseline = baseline.size();
  r.n_observation = observation.size();
  if (!measurable(baseline) || !measurable(observation)) return r;
  r.ok = true;

  std::vector<Pooled> pooled;
  pooled.reserve(baseline.size() + observation.size());
  for (double v : baseline) pooled.push_back({v, false});
  for (double v : observation) pooled.push_back({v, true});
  std::sort(pooled.begin(), pooled.end(),
            [](const Pooled& a, const Pooled& b) { return a.value < b.value; });

  // Midranks: a run of t equal values at 1-based ranks k+1..k+t all get k + (t + 1) / 2.
  double rank_sum = 0;
  double tie_term = 0;  // sum of t^3 - t over runs of ties, for the variance
  for (size_t start = 0; start < pooled.size();) {
    size_t end = start + 1;
    while (end < pooled.size() && pooled[end].value == pooled[start].value) ++end;
    const double t = static_cast<double>(end - start);
    const double midrank = static_cast<double>(start) + (t + 1) / 2;
    for (size_t i = start; i < end; ++i) {
      if (pooled[i].observation) rank_sum += midrank;
    }
    if (t > 1) {
      r.ties = true;
      tie_term += t * t * t - t;
    }
    start = end;
  }
  const double m = static_cast<double>(baseline.size());
  const double n = static_cast<double>(observation.size());
  const double total = m + n;
  r.u = rank_sum - n * (n + 1) / 2;
  // R's SIGMA: (mn / 12) ((N + 1) - sum(t^3 - t) / (N (N - 1))), N = m + n >= 2 here.
  const double variance = (m * n / 12) * ((total + 1) - tie_term / (total * (total - 1)));
  r.sigma = variance > 0 ? std::sqrt(variance) : 0;

  r.exact =
      !r.ties && baseline.size() < kExactRankSumLimit && observation.size() < kExactRankSumLimit;
  if (r.exact) {
    const std::vector<double> counts = rank_sum_counts(baseline.size(), observation.size());
    const size_t u = static_cast<size_t>(r.u);  // an integer without ties
    const double all = std::accumulate(counts.begin(), counts.end(), 0.0);
    const double lower = std::accumulate(counts.begin(), counts.begin() + u + 1, 0.0);
    const double upper = std::accumulate(counts.begin() + u, counts.end(), 0.0);
    r.p_lower = lower / all;
    r.p_higher = upper / all;
    return r;
  }
  if (r.sigma == 0) return r;  // every value equal: no evidence either way, p = 1
  // The continuity correction moves U half a step towards the mean, as correct = TRUE does.
  const boost::math::normal_distribution<double> normal;
  const double centred = r.u - m * n / 2;
  r.p_lower = boost::math::cdf(normal, (centred + 0.5) / r.sigma);
  r.p_higher = boost::math::cdf(boost::math::complement(normal, (centred - 0.5) / r.sigma));
  return r;
}

}  // namespace setpoint
