// Tests of the verdict on one expectation: each verdict with its exact reason, the explanation's
// numbers, the checks on the data and parameters, and that sample order does not matter.
#include "interpreter/effect_verdict.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

using namespace setpoint;

namespace {

// Twelve p95 latencies (seconds) before an action; median 0.5075.
const std::vector<double> kBaseline = {0.48, 0.52, 0.505, 0.55, 0.47, 0.51,
                                       0.53, 0.49, 0.56,  0.45, 0.46, 0.54};
// Twelve after it, each roughly the baseline value times a factor plus noise, none equal to
// another value, so the exact distribution of U applies. The expected numbers come from an
// independent Python computation (sorted pairwise differences, U counted pair by pair, the
// exact distribution by integer recursion, R's qwilcox rule for the interval).
const std::vector<double> kFellBy30 = {0.367, 0.321, 0.37,  0.362, 0.381, 0.328,
                                       0.384, 0.302, 0.418, 0.303, 0.361, 0.341};
const std::vector<double> kFellBy10 = {0.463, 0.425, 0.472, 0.471, 0.475, 0.43,
                                       0.491, 0.4,   0.531, 0.393, 0.453, 0.449};
const std::vector<double> kFellBy2 = {0.501, 0.467, 0.512, 0.515, 0.513, 0.471,
                                      0.532, 0.439, 0.575, 0.429, 0.491, 0.492};
const std::vector<double> kRoseBy30 = {0.655, 0.633, 0.674, 0.691, 0.663, 0.634,
                                       0.702, 0.596, 0.754, 0.573, 0.637, 0.665};
const std::vector<double> kRoseBy10 = {0.559, 0.529, 0.573, 0.581, 0.569, 0.532,
                                       0.596, 0.498, 0.642, 0.483, 0.545, 0.557};

Expectation latency_falls_by_20() {
  Expectation e;
  e.metric = "p95_latency";
  e.direction = Direction::Decreases;
  e.promised = 0.2;
  return e;
}

Expectation with_threshold(double threshold) {
  Expectation e = latency_falls_by_20();
  e.regression_threshold = threshold;
  return e;
}

bool same_bytes(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("a significant fall at least as large as promised is confirmed") {
  EffectVerdict v = judge_effect(kBaseline, kFellBy30, latency_falls_by_20());
  CHECK(v.verdict == Verdict::Confirmed);
  // U = 0: every observation is below every baseline value, p = 1 / C(24, 12) = 1/2704156.
  // HL shift -0.151 over the median 0.5075: -29.75%; interval D(38)..D(107) = -0.184..-0.120.
  CHECK(v.explanation.reason ==
        "p95_latency fell 30% (95% CI 24%..36%), p = 3.7e-07 < 0.05: confirmed (promised 20%)");
}

TEST_CASE("the explanation carries the numbers the verdict was drawn from") {
  const Explanation x = judge_effect(kBaseline, kFellBy30, latency_falls_by_20()).explanation;
  CHECK(x.n_baseline == 12);
  CHECK(x.n_observation == 12);
  CHECK(x.missing_baseline == 0);
  CHECK(x.missing_observation == 0);
  CHECK(x.median_baseline == Approx(0.5075).margin(1e-12));
  CHECK(x.median_observation == Approx(0.3615).margin(1e-12));
  CHECK(x.hl_shift == Approx(-0.151).margin(1e-12));
  CHECK(x.ci_low == Approx(-0.184).margin(1e-12));
  CHECK(x.ci_high == Approx(-0.120).margin(1e-12));
  CHECK(x.relative_change == Approx(-0.151 / 0.5075).margin(1e-12));
  CHECK(x.p_value == Approx(1.0 / 2704156).margin(1e-12));
  CHECK(x.p_value_opposite == Approx(1).margin(1e-12));
  CHECK(x.exact);
}

TEST_CASE("a significant fall smaller than promised is inconclusive") {
  EffectVerdict v = judge_effect(kBaseline, kFellBy10, latency_falls_by_20());
  CHECK(v.verdict == Verdict::Inconclusive);
  // U = 26, exact p = 0.003405868596338377; shift -0.0535 (-10.5%).
  CHECK(v.explanation.p_value == Approx(0.003405868596338377).margin(1e-12));
  CHECK(v.explanation.reason ==
        "p95_latency fell 11% (95% CI 3.3%..17%), p = 0.0034 < 0.05: inconclusive, smaller than "
        "the promised 20%");
}

TEST_CASE("a fall that is not significant is inconclusive") {
  EffectVerdict v = judge_effect(kBaseline, kFellBy2, latency_falls_by_20());
  CHECK(v.verdict == Verdict::Inconclusive);
  // U = 62, exact p = 0.2949378660106887; the interval straddles 0.
  CHECK(v.explanation.p_value == Approx(0.2949378660106887).margin(1e-12));
  CHECK(v.explanation.reason ==
        "p95_latency fell 2.6% (95% CI -4.5%..8.9%), p = 0.29 >= 0.05: inconclusive, not "
        "significant (promised 20%)");
}

TEST_CASE("a significant rise beyond the regression threshold is a regression") {
  EffectVerdict v = judge_effect(kBaseline, kRoseBy30, with_threshold(0.2));
  CHECK(v.verdict == Verdict::Regressed);
  CHECK(v.explanation.p_value == Approx(1).margin(1e-12));
  CHECK(v.explanation.p_value_opposite == Approx(1.0 / 2704156).margin(1e-12));
  CHECK(v.explanation.reason ==
        "p95_latency rose 30% (95% CI 22%..37%), p = 3.7e-07 < 0.05: regressed, beyond the 20% "
        "threshold");
}

TEST_CASE("a significant rise within the regression threshold is inconclusive") {
  EffectVerdict v = judge_effect(kBaseline, kRoseBy10, with_threshold(0.2));
  CHECK(v.verdict == Verdict::Inconclusive);
  CHECK(v.explanation.reason ==
        "p95_latency rose 9.7% (95% CI 3.0%..17%), p = 0.0034 < 0.05: inconclusive, within the "
        "20% regression threshold");
}

TEST_CASE("without a regression threshold any significant move the wrong way regresses") {
  EffectVerdict v = judge_effect(kBaseline, kRoseBy10, latency_falls_by_20());
  CHECK(v.verdict == Verdict::Regressed);
  CHECK(v.explanation.reason ==
        "p95_latency rose 9.7% (95% CI 3.0%..17%), p = 0.0034 < 0.05: regressed");
}

TEST_CASE("a promised increase with tied samples is judged by the normal approximation") {
  // Throughput in requests/s, 20 samples a side, 1003 and 1149 repeated: ties, so the normal
  // approximation with tie and continuity corrections. U = 400 (every pair), shift 144 over
  // the median 1002 (+14.4%), k = floor(200.5 - 1.96 sigma) = 128: D(128)..D(273) = 135..153.
  const std::vector<double> before = {1012, 987, 1003, 995,  1021, 978,  1003, 990,  1008, 1015,
                                      984,  997, 1003, 1010, 992,  1001, 987,  1019, 1005, 996};
  const std::vector<double> after = {1149, 1132, 1160, 1118, 1155, 1140, 1149, 1127, 1163, 1138,
                                     1151, 1122, 1145, 1158, 1133, 1149, 1170, 1129, 1141, 1152};
  Expectation e;
  e.metric = "throughput";
  e.direction = Direction::Increases;
  e.promised = 0.1;
  EffectVerdict v = judge_effect(before, after, e);
  CHECK(v.verdict == Verdict::Confirmed);
  CHECK_FALSE(v.explanation.exact);
  CHECK(v.explanation.hl_shift == 144);
  CHECK(v.explanation.ci_low == 135);
  CHECK(v.explanation.ci_high == 153);
  // Python: 1 - Phi((400 - 200 - 0.5) / sigma) = 3.35492387204539e-08, to its cancellation.
  CHECK(v.explanation.p_value == Approx(3.35492387204539e-08).epsilon(1e-7));
  CHECK(v.explanation.reason ==
        "throughput rose 14% (95% CI 13%..15%), p = 3.4e-08 < 0.05: confirmed (promised 10%)");
}

TEST_CASE("heavy ties can make U significant with no median shift: inconclusive") {
  // Differences: 60 zeros and 40 ones, median 0; U = 40 + 60 / 2 = 70 > 50, p = 0.0168.
  const std::vector<double> before(10, 5.0);
  std::vector<double> after(6, 5.0);
  after.insert(after.end(), 4, 6.0);
  EffectVerdict v = judge_effect(before, after, latency_falls_by_20());
  CHECK(v.verdict == Verdict::Inconclusive);
  CHECK(v.explanation.p_value_opposite == Approx(0.016794840381388454).margin(1e-12));
  CHECK(v.explanation.reason ==
        "p95_latency did not change (95% CI 0%..20%), p = 0.017 < 0.05: inconclusive, no median "
        "shift");
}

TEST_CASE("numbers in the reason never contradict the verdict they explain") {
  // p = 1/2704156 = 3.698e-07 is below an alpha of 3.7e-07, which two digits would hide.
  Expectation e = latency_falls_by_20();
  e.alpha = 3.7e-07;
  CHECK(
      judge_effect(kBaseline, kFellBy30, e).explanation.reason ==
      "p95_latency fell 30% (95% CI 24%..36%), p = 3.698e-07 < 3.7e-07: confirmed (promised 20%)");
  // A fall of 29.7537% is short of a promised 29.76%, which "30%" would hide.
  e = latency_falls_by_20();
  e.promised = 0.2976;
  CHECK(judge_effect(kBaseline, kFellBy30, e).explanation.reason ==
        "p95_latency fell 29.75% (95% CI 24%..36%), p = 3.7e-07 < 0.05: inconclusive, smaller than "
        "the promised 29.76%");
}

TEST_CASE("a vanishing p-value is shown as below 1e-16") {
  // 60 against 60, every observation below every baseline value: normal approximation,
  // z = (0 - 1800 + 0.5) / 190.53 = -9.44, p = 1.8e-21; shift -40 over the median 107.375.
  std::vector<double> before, after;
  for (int i = 0; i < 60; ++i) {
    before.push_back(100 + i * 0.25);
    after.push_back(60 + i * 0.25);
  }
  EffectVerdict v = judge_effect(before, after, latency_falls_by_20());
  CHECK(v.verdict == Verdict::Confirmed);
  CHECK(v.explanation.p_value < 1e-20);
  CHECK(v.explanation.reason ==
        "p95_latency fell 37% (95% CI 36%..39%), p < 1e-16 < 0.05: confirmed (promised 20%)");
}

TEST_CASE("a change of a million percent and more is written in scientific notation") {
  // A baseline median of 1.45e-9 against an observation around 1.45: a rise of ~1e11 %.
  std::vector<double> before, after;
  for (int i = 0; i < 10; ++i) {
    before.push_back(1e-9 + i * 1e-10);
    after.push_back(1 + i * 0.1);
  }
  Expectation e;
  e.metric = "queue_length";
  e.direction = Direction::Increases;
  EffectVerdict v = judge_effect(before, after, e);
  CHECK(v.verdict == Verdict::Confirmed);
  CHECK(v.explanation.reason ==
        "queue_length rose 1e+11% (95% CI 8.3e+10%..1.2e+11%), p = 5.4e-06 < 0.05: confirmed "
        "(promised 20%)");
}

TEST_CASE("too few samples on a side are inconclusive") {
  const std::vector<double> five(kBaseline.begin(), kBaseline.begin() + 5);
  EffectVerdict v = judge_effect(five, kFellBy30, latency_falls_by_20());
  CHECK(v.verdict == Verdict::Inconclusive);
  CHECK(v.explanation.reason ==
        "p95_latency has 5 baseline and 12 observation samples, fewer than 8 on a side: "
        "inconclusive");
  CHECK(std::isnan(v.explanation.p_value));
  CHECK(judge_effect(kBaseline, std::vector<double>{}, latency_falls_by_20()).verdict ==
        Verdict::Inconclusive);
}

TEST_CASE("missing data never confirms") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> after = kFellBy30;
  after[3] = nan;
  EffectVerdict v = judge_effect(kBaseline, after, latency_falls_by_20());
  CHECK(v.verdict == Verdict::Inconclusive);
  CHECK(v.explanation.missing_observation == 1);
  CHECK(v.explanation.reason ==
        "p95_latency is missing 1 of 12 observation samples (NaN or infinite): inconclusive, "
        "missing data never confirms");
  std::vector<double> before = kBaseline;
  before[0] = inf;
  after[4] = -inf;
  CHECK(judge_effect(before, after, latency_falls_by_20()).explanation.reason ==
        "p95_latency is missing 1 of 12 baseline and 2 of 12 observation samples (NaN or "
        "infinite): inconclusive, missing data never confirms");
}

TEST_CASE("a baseline median of 0 has no relative change: error") {
  Expectation e;
  e.metric = "error_ratio";
  const std::vector<double> zeros(10, 0.0);
  const std::vector<double> after = {0.01, 0, 0.02, 0.01, 0, 0.03, 0.01, 0.02};
  EffectVerdict v = judge_effect(zeros, after, e);
  CHECK(v.verdict == Verdict::Error);
  CHECK(v.explanation.reason ==
        "error_ratio has a baseline median of 0, so no relative change is defined: error");
  CHECK(v.explanation.median_baseline == 0);
  CHECK(std::isnan(v.explanation.relative_change));
}

TEST_CASE("parameters that cannot be tested are an error") {
  auto reason = [](auto change) {
    Expectation e = latency_falls_by_20();
    change(e);
    EffectVerdict v = judge_effect(kBaseline, kFellBy30, e);
    CHECK(v.verdict == Verdict::Error);
    return v.explanation.reason;
  };
  CHECK(reason([](Expectation& e) { e.alpha = 1.5; }) ==
        "p95_latency: alpha must be in (0, 1), not 1.5: error");
  CHECK(reason([](Expectation& e) { e.confidence = 1; }) ==
        "p95_latency: the confidence must be in (0, 1), not 1: error");
  CHECK(reason([](Expectation& e) { e.promised = 0; }) ==
        "p95_latency: the promised change must be more than 0, not 0: error");
  CHECK(reason([](Expectation& e) { e.regression_threshold = -0.1; }) ==
        "p95_latency: the regression threshold must be at least 0, not -0.1: error");
  CHECK(reason([](Expectation& e) { e.min_samples = 0; }) ==
        "p95_latency: at least 1 sample per window is needed, not 0: error");
  CHECK(reason([](Expectation& e) {
          e.metric.clear();
          e.alpha = std::numeric_limits<double>::quiet_NaN();
        }) == "the metric: alpha must be in (0, 1), not nan: error");
}

TEST_CASE("a negative metric falls when it moves down, relative to its magnitude") {
  // Baseline median -100; the observation is 30 lower: -30%, a fall.
  std::vector<double> before, after;
  for (int i = 0; i < 10; ++i) {
    before.push_back(-109 + 2 * i);
    after.push_back(-139 + 2 * i);
  }
  EffectVerdict v = judge_effect(before, after, latency_falls_by_20());
  CHECK(v.verdict == Verdict::Confirmed);
  CHECK(v.explanation.median_baseline == -100);
  CHECK(v.explanation.hl_shift == -30);
  CHECK(v.explanation.relative_change == -0.3);
}

TEST_CASE("the order of the samples does not change a byte of the verdict") {
  // Reversed and rotated windows, with signed zeros that sort as equals.
  std::vector<double> before = kBaseline, after = kFellBy10;
  before.push_back(0.0);
  before.push_back(-0.0);
  std::vector<double> before2(before.rbegin(), before.rend());
  std::vector<double> after2(after.begin() + 5, after.end());
  after2.insert(after2.end(), after.begin(), after.begin() + 5);
  const Explanation a = judge_effect(before, after, latency_falls_by_20()).explanation;
  const Explanation b = judge_effect(before2, after2, latency_falls_by_20()).explanation;
  CHECK(a.reason == b.reason);
  CHECK(same_bytes(a.median_baseline, b.median_baseline));
  CHECK(same_bytes(a.median_observation, b.median_observation));
  CHECK(same_bytes(a.hl_shift, b.hl_shift));
  CHECK(same_bytes(a.ci_low, b.ci_low));
  CHECK(same_bytes(a.ci_high, b.ci_high));
  CHECK(same_bytes(a.relative_change, b.relative_change));
  CHECK(same_bytes(a.p_value, b.p_value));
  CHECK(same_bytes(a.p_value_opposite, b.p_value_opposite));
}

TEST_CASE("verdicts have names") {
  CHECK(verdict_name(Verdict::Confirmed) == "confirmed");
  CHECK(verdict_name(Verdict::Regressed) == "regressed");
  CHECK(verdict_name(Verdict::Inconclusive) == "inconclusive");
  CHECK(verdict_name(Verdict::Error) == "error");
}
