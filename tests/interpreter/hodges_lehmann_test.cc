// Tests of the Hodges-Lehmann shift and its interval: small hand-made sets, selection against
// sorting every difference, and the interval's ranks against the enumerated distribution of U.
#include "interpreter/hodges_lehmann.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace setpoint;

namespace {

std::vector<double> all_differences(const std::vector<double>& base,
                                    const std::vector<double>& obs) {
  std::vector<double> d;
  for (double o : obs) {
    for (double b : base) d.push_back(o - b);
  }
  std::sort(d.begin(), d.end());
  return d;
}

// Deterministic pseudo-random values (a 64-bit LCG), rounded to `step` so some repeat.
std::vector<double> lcg_values(uint64_t seed, size_t count, double scale, double step) {
  std::vector<double> v;
  for (size_t i = 0; i < count; ++i) {
    seed = seed * 6364136223846793005u + 1442695040888963407u;
    const double unit = static_cast<double>(seed >> 11) / 9007199254740992.0;  // [0, 1)
    v.push_back(std::round((unit - 0.5) * scale / step) * step);
  }
  return v;
}

// P(U <= u) for every u, by enumerating all C(m + n, m) orderings of m + n distinct values.
std::vector<double> enumerated_cdf(size_t m, size_t n) {
  std::vector<bool> in_base(m + n, false);
  std::fill(in_base.begin(), in_base.begin() + static_cast<std::ptrdiff_t>(m), true);
  std::vector<double> counts(m * n + 1, 0.0);
  double all = 0;
  do {
    size_t u = 0, base_below = 0;  // position i holds the i-th smallest value
    for (size_t i = 0; i < m + n; ++i) {
      if (in_base[i]) {
        ++base_below;
      } else {
        u += base_below;
      }
    }
    counts[u] += 1;
    ++all;
  } while (std::prev_permutation(in_base.begin(), in_base.end()));
  std::vector<double> cdf;
  double cumulative = 0;
  for (double c : counts) cdf.push_back(cumulative += c / all);
  return cdf;
}

}  // namespace

TEST_CASE("the shift is the median of every difference obs - base") {
  // Differences 3 2 1 5 4 3: sorted 1 2 3 3 4 5, median 3.
  ShiftEstimate e = hodges_lehmann(std::vector<double>{1, 2, 3}, std::vector<double>{4, 6});
  REQUIRE(e.ok);
  CHECK(e.shift == 3);
  // Differences 2 1 -1: median 1.
  CHECK(hodges_lehmann(std::vector<double>{1, 2, 4}, std::vector<double>{3}).shift == 1);
  // Not the difference of the medians (5 - 2 = 3): differences 3 2 -1 4 3 0 -> median 2.5.
  CHECK(hodges_lehmann(std::vector<double>{1, 2, 5}, std::vector<double>{4, 5}).shift == 2.5);
}

TEST_CASE("the shift of R's two-sample example is 0.305") {
  // The permeability data of ?wilcox.test (Hollander & Wolfe 1973, p. 69f), x the observation:
  // the 25th and 26th of the 50 sorted differences are 0.30 and 0.31 (by hand and Python).
  const std::vector<double> x = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
  const std::vector<double> y = {1.15, 0.88, 0.90, 0.74, 1.21};
  ShiftEstimate e = hodges_lehmann(y, x);
  REQUIRE(e.ok);
  CHECK(e.exact);
  CHECK(e.shift == Approx(0.305).margin(1e-12));
  // qwilcox(0.025, 10, 5) = 9 (enumeration): the interval is D(9)..D(42) = -0.15..0.76.
  CHECK(e.ci_rank == 9);
  CHECK(e.ci_low == Approx(-0.15).margin(1e-12));
  CHECK(e.ci_high == Approx(0.76).margin(1e-12));
}

TEST_CASE("selecting the k-th difference gives what sorting every difference gives") {
  struct Case {
    std::vector<double> base, obs;
  };
  const std::vector<Case> cases = {
      {lcg_values(1, 15, 100, 1), lcg_values(2, 17, 100, 1)},         // many ties
      {lcg_values(3, 9, 1e-3, 1e-9), lcg_values(4, 30, 1e-3, 1e-9)},  // tiny values
      {{1e16, 1e16 + 2, 1e16 + 4}, {1, 2, 3, -1e16}},                 // rounding differences
      {{-0.0, 0.0, 1}, {0.0, -0.0}},                                  // signed zeros
      {{5}, {5}},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    std::vector<double> base = cases[c].base, obs = cases[c].obs;
    std::sort(base.begin(), base.end());
    std::sort(obs.begin(), obs.end());
    const std::vector<double> expected = all_differences(base, obs);
    for (uint64_t k = 1; k <= expected.size(); ++k) {
      INFO("case " << c << ", k = " << k);
      CHECK(kth_difference(base, obs, k) == expected[k - 1]);
    }
  }
}

TEST_CASE("the exact interval of five against five is D(3)..D(23)") {
  // By hand: P(U <= 2) = 4/252 < 0.025 <= P(U <= 3) = 7/252, so k = 3. The differences are
  // 10 + j - i: 6 once, 7 twice, ..., 14 once; D(3) = 7, D(23) = 13, median D(13) = 10.
  ShiftEstimate e =
      hodges_lehmann(std::vector<double>{1, 2, 3, 4, 5}, std::vector<double>{11, 12, 13, 14, 15});
  REQUIRE(e.ok);
  CHECK(e.exact);
  CHECK(e.ci_rank == 3);
  CHECK(e.shift == 10);
  CHECK(e.ci_low == 7);
  CHECK(e.ci_high == 13);
}

TEST_CASE("the exact interval's rank is the largest whose tails stay within 1 - confidence") {
  const std::vector<double> base = {3.1, 7.4, 1.2, 9.9, 5.5, 6.0, 2.8};
  const std::vector<double> obs = {4.4, 0.7, 6.6, 2.2, 3.3, 1.9, 5.0, 8.8};
  const std::vector<double> cdf = enumerated_cdf(base.size(), obs.size());
  const std::vector<double> d = all_differences(base, obs);
  for (double confidence : {0.8, 0.9, 0.95, 0.99}) {
    INFO("confidence " << confidence);
    ShiftEstimate e = hodges_lehmann(base, obs, confidence);
    REQUIRE(e.ok);
    REQUIRE(e.exact);
    const uint64_t k = e.ci_rank;
    REQUIRE(k >= 1);
    // Rank k covers with probability 1 - 2 P(U <= k - 1): at least the confidence; rank k + 1
    // would cover with 1 - 2 P(U <= k), at most the confidence.
    CHECK(1 - 2 * cdf[k - 1] >= confidence);
    CHECK(1 - 2 * cdf[k] <= confidence);
    CHECK(e.ci_low == d[k - 1]);
    CHECK(e.ci_high == d[d.size() - k]);
  }
}

TEST_CASE("the normal-approximation interval uses k = floor(N/2 + 1/2 - z sigma)") {
  // 60 against 60, obs = base + 20.5: N = 3600, sigma^2 = 3600 * 121 / 12, sigma = 190.5256,
  // z = 1.959964, k = floor(1800.5 - 373.4233) = 1427. The differences are 20.5 + (j - i), with
  // j - i = t occurring 60 - |t| times; 1378 of them lie at or below t = -8 and 1431 at or
  // below t = -7, so D(1427) = 13.5, and D(2174) = 27.5 by symmetry.
  std::vector<double> base, obs;
  for (int i = 0; i < 60; ++i) {
    base.push_back(i);
    obs.push_back(i + 20.5);
  }
  ShiftEstimate e = hodges_lehmann(base, obs);
  REQUIRE(e.ok);
  CHECK_FALSE(e.exact);
  CHECK(e.ci_rank == 1427);
  CHECK(e.shift == 20.5);
  CHECK(e.ci_low == 13.5);
  CHECK(e.ci_high == 27.5);
  const std::vector<double> d = all_differences(base, obs);
  CHECK(e.ci_low == d[1426]);
  CHECK(e.ci_high == d[3600 - 1427]);
}

TEST_CASE("ties take the normal interval, and identical values give a point") {
  ShiftEstimate e = hodges_lehmann(std::vector<double>{1, 2, 2, 3, 4, 5, 6, 7, 8, 9},
                                   std::vector<double>{2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  REQUIRE(e.ok);
  CHECK_FALSE(e.exact);
  // Ties: 2 three times, 3..9 twice: sum(t^3 - t) = 24 + 7 * 6 = 66, sigma^2 = (100 / 12) *
  // (21 - 66 / 380), sigma = 13.17394, k = floor(50.5 - 1.959964 * 13.17394) = floor(24.68).
  CHECK(e.ci_rank == 24);
  CHECK(e.shift == 2);
  ShiftEstimate same = hodges_lehmann(std::vector<double>{4, 4, 4}, std::vector<double>{4, 4});
  REQUIRE(same.ok);
  CHECK(same.shift == 0);
  CHECK(same.ci_low == 0);
  CHECK(same.ci_high == 0);
}

TEST_CASE("samples too small for the confidence give an unbounded interval") {
  ShiftEstimate one = hodges_lehmann(std::vector<double>{1}, std::vector<double>{2});
  REQUIRE(one.ok);
  CHECK(one.shift == 1);
  CHECK(one.ci_rank == 0);
  CHECK(one.ci_low == -std::numeric_limits<double>::infinity());
  CHECK(one.ci_high == std::numeric_limits<double>::infinity());
  // Three against three: P(U <= 0) = 1/20, too much for 95% but within 80%'s 0.1 a tail.
  const std::vector<double> base = {1, 2, 3}, obs = {4, 5, 6};
  CHECK(hodges_lehmann(base, obs, 0.95).ci_rank == 0);
  ShiftEstimate e = hodges_lehmann(base, obs, 0.8);
  CHECK(e.ci_rank == 1);
  CHECK(e.ci_low == 1);
  CHECK(e.ci_high == 5);
}

TEST_CASE("empty, non-finite samples and impossible confidences give no estimate") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> ok = {1, 2, 3};
  CHECK_FALSE(hodges_lehmann(std::vector<double>{}, ok).ok);
  CHECK_FALSE(hodges_lehmann(ok, std::vector<double>{}).ok);
  CHECK_FALSE(hodges_lehmann(ok, std::vector<double>{1, nan}).ok);
  CHECK_FALSE(hodges_lehmann(ok, ok, 0).ok);
  CHECK_FALSE(hodges_lehmann(ok, ok, 1).ok);
  CHECK_FALSE(hodges_lehmann(ok, ok, nan).ok);
  CHECK(std::isnan(hodges_lehmann(ok, ok, 1).shift));
}
