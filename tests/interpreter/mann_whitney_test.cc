// Tests of the rank-sum test: U from midranks, the exact null distribution and p-values against
// brute-force enumeration of every ordering, and the normal approximation against R and by hand.
#include "interpreter/mann_whitney.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

using namespace setpoint;

namespace {

// U by its definition, pair by pair: no ranks involved.
double pairs_u(const std::vector<double>& base, const std::vector<double>& obs) {
  double u = 0;
  for (double o : obs) {
    for (double b : base) u += o > b ? 1 : o == b ? 0.5 : 0;
  }
  return u;
}

// Calls f(base, obs) for every way of splitting `pool` into m baseline and the rest observation
// values: all C(pool.size(), m) assignments.
template <class F>
void for_each_split(const std::vector<double>& pool, size_t m, F f) {
  std::vector<bool> in_base(pool.size(), false);
  std::fill(in_base.begin(), in_base.begin() + static_cast<std::ptrdiff_t>(m), true);
  do {
    std::vector<double> base, obs;
    for (size_t i = 0; i < pool.size(); ++i) (in_base[i] ? base : obs).push_back(pool[i]);
    f(base, obs);
  } while (std::prev_permutation(in_base.begin(), in_base.end()));
}

// The exact one-sided p-values of the assignment (base, obs): the fractions of all assignments
// of the same pooled values whose U is at most / at least this one's.
struct Enumerated {
  double p_lower = 0;
  double p_higher = 0;
  double mean = 0;
  double variance = 0;
};

Enumerated enumerate(const std::vector<double>& base, const std::vector<double>& obs) {
  const double u0 = pairs_u(base, obs);
  std::vector<double> pool = base;
  pool.insert(pool.end(), obs.begin(), obs.end());
  double all = 0, lower = 0, higher = 0, sum = 0, sum_sq = 0;
  for_each_split(pool, base.size(), [&](const auto& b, const auto& o) {
    const double u = pairs_u(b, o);
    ++all;
    lower += u <= u0;
    higher += u >= u0;
    sum += u;
    sum_sq += u * u;
  });
  const double mean = sum / all;
  return {lower / all, higher / all, mean, sum_sq / all - mean * mean};
}

}  // namespace

TEST_CASE("U counts observation-over-baseline pairs, a tie counting one half") {
  // obs 2 beats base 1, ties base 2, loses to 3: 1.5; obs 4 beats all three: 3.
  RankSum r = rank_sum_test(std::vector<double>{1, 2, 3}, std::vector<double>{2, 4});
  REQUIRE(r.ok);
  CHECK(r.u == 4.5);
  CHECK(r.ties);
  CHECK_FALSE(r.exact);
  CHECK(r.n_baseline == 3);
  CHECK(r.n_observation == 2);
}

TEST_CASE("the exact null distribution of U is the enumerated count of every ordering") {
  // Any m + n distinct values will do: U depends only on the ordering.
  for (auto [m, n] :
       {std::pair<size_t, size_t>{1, 1}, {1, 5}, {3, 4}, {4, 3}, {5, 6}, {7, 8}, {10, 5}, {6, 0}}) {
    INFO("m = " << m << ", n = " << n);
    std::vector<double> pool;
    for (size_t i = 0; i < m + n; ++i) pool.push_back(static_cast<double>(i));
    std::vector<double> expected(m * n + 1, 0.0);
    for_each_split(pool, m, [&](const auto& b, const auto& o) {
      expected[static_cast<size_t>(pairs_u(b, o))] += 1;
    });
    CHECK(rank_sum_counts(m, n) == expected);  // integers below 2^53: exact
  }
}

TEST_CASE("the largest exact distribution sums to C(98, 49) and is symmetric") {
  std::vector<double> counts = rank_sum_counts(49, 49);
  REQUIRE(counts.size() == 49 * 49 + 1);
  double all = 0;
  for (double c : counts) all += c;
  // C(98, 49) = 25477612258980856902730428600 (Python: math.comb(98, 49)); the counts exceed
  // 2^53, so each is exact only to rounding: 1e-13 relative.
  CHECK(all == Approx(25477612258980856902730428600.0).epsilon(1e-13));
  for (size_t u = 0; u < counts.size(); ++u) {
    CHECK(counts[u] == Approx(counts[counts.size() - 1 - u]).epsilon(1e-13));
  }
  CHECK(counts[0] == 1);
  CHECK(counts[1] == 1);
  CHECK(counts[2] == 2);
}

TEST_CASE("no exact distribution is built from 50 values on a side") {
  CHECK(rank_sum_counts(50, 3).empty());
  CHECK(rank_sum_counts(3, 50).empty());
  CHECK(rank_sum_counts(49, 3).size() == 148);
}

TEST_CASE("exact one-sided p-values equal the enumerated fraction of assignments") {
  // Distinct values, interleaved so U is in the middle of its range, and at the extremes.
  const std::vector<std::vector<double>> bases = {
      {3.1, 7.4, 1.2, 9.9, 5.5, 6.0, 2.8, 8.3}, {10, 11, 12, 13, 14}, {1, 2, 3}};
  const std::vector<std::vector<double>> observations = {
      {4.4, 0.7, 6.6, 2.2, 3.3, 1.9, 5.0}, {1, 2, 3, 4, 5, 6}, {0.5, 1.5, 2.5, 3.5}};
  for (size_t i = 0; i < bases.size(); ++i) {
    INFO("case " << i);
    RankSum r = rank_sum_test(bases[i], observations[i]);
    REQUIRE(r.ok);
    REQUIRE(r.exact);
    Enumerated e = enumerate(bases[i], observations[i]);
    CHECK(r.u == pairs_u(bases[i], observations[i]));
    CHECK(r.p_lower == Approx(e.p_lower).margin(1e-12));
    CHECK(r.p_higher == Approx(e.p_higher).margin(1e-12));
  }
}

TEST_CASE("R's two-sample example: W = 35 and the exact p-value 0.1272") {
  // ?wilcox.test, Hollander & Wolfe (1973) p. 69f: permeability at term (x) and at 12 to 26
  // weeks (y). R: wilcox.test(x, y, alternative = "greater") gives W = 35, p-value = 0.1272.
  // Enumeration of the C(15, 5) = 3003 assignments (Python) gives P(U >= 35) = 382/3003 and
  // P(U <= 35) = 2693/3003. x is the observation, y the baseline.
  const std::vector<double> x = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
  const std::vector<double> y = {1.15, 0.88, 0.90, 0.74, 1.21};
  RankSum r = rank_sum_test(y, x);
  REQUIRE(r.ok);
  CHECK(r.exact);
  CHECK(r.u == 35);
  CHECK(r.p_higher == Approx(382.0 / 3003).margin(1e-12));
  CHECK(r.p_higher == Approx(0.1272).margin(5e-5));
  CHECK(r.p_lower == Approx(2693.0 / 3003).margin(1e-12));
}

TEST_CASE("with ties the normal approximation is R's, tie-corrected and continuity-corrected") {
  // ?wilcox.test: wilcox.test(Ozone ~ Month, data = airquality, subset = Month %in% c(5, 8))
  // gives W = 127.5, p-value = 0.0001208 (two-sided, normal with correction, ties). Ozone for
  // May and August, NA dropped (26 days each):
  const std::vector<double> may = {41, 36, 12, 18, 28, 23, 19, 8, 7,  16, 11, 14,  18,
                                   14, 34, 6,  30, 11, 1,  11, 4, 32, 23, 45, 115, 37};
  const std::vector<double> august = {39, 9,  16, 78, 35, 66, 122, 89,  110, 44, 28,  65, 22,
                                      59, 23, 31, 44, 21, 9,  45,  168, 73,  76, 118, 84, 85};
  RankSum r = rank_sum_test(august, may);
  REQUIRE(r.ok);
  CHECK(r.ties);
  CHECK_FALSE(r.exact);
  CHECK(r.u == 127.5);
  // By hand: ties 9 x2, 11 x3, 14 x2, 16 x2, 18 x2, 23 x3, 28 x2, 44 x2, 45 x2, so
  // sum(t^3 - t) = 7 pairs * 6 + 2 triples * 24 = 90;
  // sigma^2 = (26 * 26 / 12) * (53 - 90 / (52 * 51)) = 2983.7549..., sigma = 54.6237576697.
  CHECK(r.sigma == Approx(54.62375766972448).epsilon(1e-13));
  // z = (127.5 - 338 + 0.5) / sigma; Phi(z) = erfc(-z / sqrt 2) / 2 = 6.0403915384387326e-05
  // (Python math.erfc), and twice that is R's 0.0001208.
  CHECK(r.p_lower == Approx(6.0403915384387326e-05).epsilon(1e-12));
  CHECK(2 * r.p_lower == Approx(0.0001208).margin(5e-8));
  CHECK(r.p_higher == Approx(0.9999439498752809).epsilon(1e-12));
}

TEST_CASE("the tie-corrected variance is the exact variance of U over every assignment") {
  // The tie correction is not an approximation: over all C(9, 4) = 126 assignments of these
  // tied values, U has mean m n / 2 = 10 and variance sigma^2 = 140 / 9.
  const std::vector<double> base = {1, 2, 2, 3, 5};
  const std::vector<double> obs = {2, 3, 3, 4};
  RankSum r = rank_sum_test(base, obs);
  REQUIRE(r.ok);
  Enumerated e = enumerate(base, obs);
  CHECK(e.mean == Approx(10).margin(1e-12));
  CHECK(e.variance == Approx(140.0 / 9).margin(1e-12));
  CHECK(r.sigma * r.sigma == Approx(e.variance).margin(1e-12));
  CHECK(r.u == 13);
}

TEST_CASE("50 values on one side switch to the normal approximation even without ties") {
  // Baseline 0..49, observation k + 0.25 for k = 0..9: each beats k + 1 baseline values, so
  // U = 1 + ... + 10 = 55. By hand: sigma^2 = 50 * 10 * 61 / 12, sigma = 50.41494487418058,
  // z = (55 - 250 + 0.5) / sigma = -3.858, Phi(z) = 5.7163300102827606e-05 (Python math.erfc).
  std::vector<double> base, obs;
  for (int k = 0; k < 50; ++k) base.push_back(k);
  for (int k = 0; k < 10; ++k) obs.push_back(k + 0.25);
  RankSum r = rank_sum_test(base, obs);
  REQUIRE(r.ok);
  CHECK_FALSE(r.ties);
  CHECK_FALSE(r.exact);
  CHECK(r.u == 55);
  CHECK(r.sigma == Approx(50.41494487418058).epsilon(1e-14));
  CHECK(r.p_lower == Approx(5.7163300102827606e-05).epsilon(1e-12));
  CHECK(r.p_higher == Approx(0.9999473013254478).epsilon(1e-12));

  base.pop_back();  // 49 baseline values: exact again
  CHECK(rank_sum_test(base, obs).exact);
}

TEST_CASE("identical values carry no evidence either way") {
  RankSum r = rank_sum_test(std::vector<double>{3, 3, 3}, std::vector<double>{3, 3});
  REQUIRE(r.ok);
  CHECK(r.u == 3);
  CHECK(r.sigma == 0);
  CHECK(r.p_lower == 1);
  CHECK(r.p_higher == 1);
}

TEST_CASE("an empty or non-finite sample is not measured") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_FALSE(rank_sum_test(std::vector<double>{}, std::vector<double>{1}).ok);
  CHECK_FALSE(rank_sum_test(std::vector<double>{1}, std::vector<double>{}).ok);
  CHECK_FALSE(rank_sum_test(std::vector<double>{1, nan}, std::vector<double>{2}).ok);
  RankSum r = rank_sum_test(std::vector<double>{1}, std::vector<double>{inf});
  CHECK_FALSE(r.ok);
  CHECK(r.p_lower == 1);
  CHECK(r.p_higher == 1);
}
