// Range-vector functions against the values Prometheus' own test suite expects: each case
// names its source, promql/promqltest/testdata/functions.test unless said otherwise.
#include "interpreter/range_functions.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

using namespace setpoint;

namespace {

constexpr int64_t kSec = 1000;
constexpr int64_t kMin = 60 * kSec;
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// A promqltest `load` line: one value per step from t=0, nullopt for a gap (`_`).
using Values = std::vector<std::optional<double>>;

// promqltest's `a+bxN` (and `a-bxN` with a negative b): N+1 values.
Values seq(double start, double inc, int times) {
  Values v;
  for (int i = 0; i <= times; ++i) v.push_back(start + inc * i);
  return v;
}

Values cat(Values a, const Values& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<Sample> load(int64_t step_ms, const Values& values) {
  std::vector<Sample> out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i]) out.push_back({static_cast<int64_t>(i) * step_ms, *values[i]});
  }
  return out;
}

// `eval instant at <at> fn(series[range] offset <offset>, args)`: the samples in
// (at - offset - range, at - offset], as a range selector returns them.
std::optional<double> eval(const char* fn, const std::vector<Sample>& series, int64_t at,
                           int64_t range, std::vector<double> args = {}, int64_t offset = 0) {
  int64_t end = at - offset, start = end - range;
  std::vector<Sample> window;
  for (const Sample& s : series) {
    if (s.t_ms > start && s.t_ms <= end) window.push_back(s);
  }
  return range_function_at(fn, window, start, end, at, args);
}

bool is_nan(std::optional<double> v) { return v && std::isnan(*v); }

}  // namespace

TEST_CASE("resets counts decreases, in a window open on the left") {
  // load 5m: http_requests{path="/foo"} 1 2 3 0 1 0 0 1 2 0, "/bar" 1 2 3 4 5 1 2 3 4 5,
  // "/biz" 0 0 0 0 0 1 1 1 1 1; eval instant at 50m resets(http_requests[...]).
  auto foo = load(5 * kMin, {1, 2, 3, 0, 1, 0, 0, 1, 2, 0});
  auto bar = load(5 * kMin, {1, 2, 3, 4, 5, 1, 2, 3, 4, 5});
  auto biz = load(5 * kMin, {0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
  CHECK_FALSE(eval("resets", foo, 50 * kMin, 5 * kMin));  // (45m, 50m] is empty
  CHECK(eval("resets", foo, 50 * kMin, 10 * kMin) == 0.0);
  CHECK(eval("resets", foo, 50 * kMin, 20 * kMin) == 1.0);
  CHECK(eval("resets", bar, 50 * kMin, 20 * kMin) == 0.0);
  CHECK(eval("resets", foo, 50 * kMin, 30 * kMin) == 1.0);
  CHECK(eval("resets", foo, 50 * kMin, 32 * kMin) == 2.0);
  CHECK(eval("resets", bar, 50 * kMin, 32 * kMin) == 1.0);
  CHECK(eval("resets", biz, 50 * kMin, 32 * kMin) == 0.0);
  CHECK(eval("resets", foo, 50 * kMin, 50 * kMin) == 3.0);
  CHECK(eval("resets", bar, 50 * kMin, 50 * kMin) == 1.0);
  CHECK(eval("resets", biz, 50 * kMin, 50 * kMin) == 0.0);
}

TEST_CASE("changes counts value changes, NaN to NaN being none") {
  // Same load; eval instant at 50m changes(http_requests[...]).
  auto foo = load(5 * kMin, {1, 2, 3, 0, 1, 0, 0, 1, 2, 0});
  auto bar = load(5 * kMin, {1, 2, 3, 4, 5, 1, 2, 3, 4, 5});
  auto biz = load(5 * kMin, {0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
  CHECK_FALSE(eval("changes", foo, 50 * kMin, 5 * kMin));
  CHECK(eval("changes", foo, 50 * kMin, 6 * kMin) == 0.0);
  CHECK(eval("changes", foo, 50 * kMin, 20 * kMin) == 2.0);
  CHECK(eval("changes", bar, 50 * kMin, 20 * kMin) == 2.0);
  CHECK(eval("changes", biz, 50 * kMin, 20 * kMin) == 0.0);
  CHECK(eval("changes", foo, 50 * kMin, 30 * kMin) == 3.0);
  CHECK(eval("changes", bar, 50 * kMin, 30 * kMin) == 4.0);
  CHECK(eval("changes", foo, 50 * kMin, 50 * kMin) == 7.0);
  CHECK(eval("changes", bar, 50 * kMin, 50 * kMin) == 8.0);
  CHECK(eval("changes", biz, 50 * kMin, 50 * kMin) == 1.0);
  // load 5m: x{a="b"} NaN NaN NaN, x{a="c"} 0 NaN 0; eval instant at 15m changes(x[20m]).
  CHECK(eval("changes", load(5 * kMin, {kNaN, kNaN, kNaN}), 15 * kMin, 20 * kMin) == 0.0);
  CHECK(eval("changes", load(5 * kMin, {0, kNaN, 0}), 15 * kMin, 20 * kMin) == 2.0);
}

TEST_CASE("increase extrapolates to the window edges as Prometheus does") {
  // load 5m: http_requests_total{path="/foo"} 0+10x10, "/bar" 0+18x5 0+18x5,
  // "/dings" 10+10x10, "/bumms" 1+10x10.
  auto foo = load(5 * kMin, seq(0, 10, 10));
  auto bar = load(5 * kMin, cat(seq(0, 18, 5), seq(0, 18, 5)));
  auto dings = load(5 * kMin, seq(10, 10, 10));
  auto bumms = load(5 * kMin, seq(1, 10, 10));
  // eval instant at 50m increase(http_requests_total[50m]): 100, 160, 100, 100.
  CHECK(eval("increase", foo, 50 * kMin, 50 * kMin) == Approx(100).epsilon(1e-12));
  CHECK(eval("increase", bar, 50 * kMin, 50 * kMin) == Approx(160).epsilon(1e-12));
  CHECK(eval("increase", dings, 50 * kMin, 50 * kMin) == Approx(100).epsilon(1e-12));
  CHECK(eval("increase", bumms, 50 * kMin, 50 * kMin) == Approx(100).epsilon(1e-12));
  // eval instant at 50m increase(http_requests_total[100m]): 100, 162, 105, 101. "/foo" is at
  // 0 at t=0, so no extrapolation; "/dings" would reach 0 at -5m, beyond half an interval, so
  // half an interval (2m30s); "/bumms" would reach 0 at -30s, so only 30s.
  CHECK(eval("increase", foo, 50 * kMin, 100 * kMin) == Approx(100).epsilon(1e-12));
  CHECK(eval("increase", bar, 50 * kMin, 100 * kMin) == Approx(162).epsilon(1e-12));
  CHECK(eval("increase", dings, 50 * kMin, 100 * kMin) == Approx(105).epsilon(1e-12));
  CHECK(eval("increase", bumms, 50 * kMin, 100 * kMin) == Approx(101).epsilon(1e-12));
}

TEST_CASE("increase adds back the value a counter had before each reset") {
  // load 5m: http_requests_total{path="/foo"} 0 1 2 3 2 3 4;
  // eval instant at 30m increase(http_requests_total[30m]): 7 (3 2 reads as 3 0 1 2).
  CHECK(eval("increase", load(5 * kMin, {0, 1, 2, 3, 2, 3, 4}), 30 * kMin, 30 * kMin) ==
        Approx(7).epsilon(1e-12));
}

TEST_CASE("rate over a reset in the middle, and a reset at the very end") {
  // load 5m: testcounter_reset_middle_total 0+27x4 0+27x5, testcounter_reset_end_total
  // 0+10x9 0 10.
  auto middle = load(5 * kMin, cat(seq(0, 27, 4), seq(0, 27, 5)));
  auto end = load(5 * kMin, cat(seq(0, 10, 9), {0, 10}));
  // eval instant at 50m rate(testcounter_reset_middle_total[50m]): 0.08.
  CHECK(eval("rate", middle, 50 * kMin, 50 * kMin) == Approx(0.08).epsilon(1e-12));
  // eval instant at 50m rate(testcounter_reset_end_total[5m]): nothing, (45m, 50m] holds one
  // sample; [6m]: 0, the window holds 90 then 0, and the reset adds the 90 back.
  CHECK_FALSE(eval("rate", end, 50 * kMin, 5 * kMin));
  CHECK(eval("rate", end, 50 * kMin, 6 * kMin) == 0.0);
}

TEST_CASE("rate is per second of the range") {
  // load 5m: calculate_rate_window_total 0+80x10;
  // eval instant at 50m rate(calculate_rate_window_total[50m]): 0.26666666666666666. The
  // extrapolation factor rounds the last bit (0.26666666666666672); promqltest compares
  // within 1e-6 relative.
  CHECK(eval("rate", load(5 * kMin, seq(0, 80, 10)), 50 * kMin, 50 * kMin) ==
        Approx(0.26666666666666666).epsilon(1e-15));
  // load 5m: calculate_rate_offset_total{x="a"} 0+10x10, {x="b"} 0+20x10;
  // eval instant at 50m rate(calculate_rate_offset_total[10m] offset 5m):
  // 0.03333333333333333, 0.06666666666666667.
  CHECK(eval("rate", load(5 * kMin, seq(0, 10, 10)), 50 * kMin, 10 * kMin, {}, 5 * kMin) ==
        0.03333333333333333);
  CHECK(eval("rate", load(5 * kMin, seq(0, 20, 10)), 50 * kMin, 10 * kMin, {}, 5 * kMin) ==
        0.06666666666666667);
}

TEST_CASE("rate stops extrapolating a counter where it would have been zero") {
  // load 4m: testcounter_zero_cutoff_total{start="Nm"} (60*N)+240x10 for N = 0..5.
  // eval instant at 10m rate(testcounter_zero_cutoff_total[20m]): 0.5 0.55 0.6 0.6 0.6 0.6
  // (zero cutoff until half a sampling interval, 2m, then half an interval).
  const double at_10m[] = {0.5, 0.55, 0.6, 0.6, 0.6, 0.6};
  for (int n = 0; n < 6; ++n) {
    auto s = load(4 * kMin, seq(60.0 * n, 240, 10));
    INFO("start=" << n << "m");
    CHECK(eval("rate", s, 10 * kMin, 20 * kMin) == Approx(at_10m[n]).epsilon(1e-12));
    // eval instant at 50m rate(testcounter_zero_cutoff_total[20m]): 0.6 for all.
    CHECK(eval("rate", s, 50 * kMin, 20 * kMin) == Approx(0.6).epsilon(1e-12));
  }
}

TEST_CASE("irate uses the last two samples, and the last value after a reset") {
  // load 5m: http_requests_total{path="/foo"} 0+10x10, "/bar" 0+10x5 0+10x5.
  auto foo = load(5 * kMin, seq(0, 10, 10));
  auto bar = load(5 * kMin, cat(seq(0, 10, 5), seq(0, 10, 5)));
  // eval instant at 50m irate(http_requests_total[50m]): .03333333333333333333 for both.
  CHECK(eval("irate", foo, 50 * kMin, 50 * kMin) == Approx(1.0 / 30).epsilon(1e-15));
  CHECK(eval("irate", bar, 50 * kMin, 50 * kMin) == Approx(1.0 / 30).epsilon(1e-15));
  // eval instant at 30m irate(http_requests_total[50m]): "/foo" .0333..., "/bar" 0 (the
  // counter was reset to 0 at 30m: the last value over the interval).
  CHECK(eval("irate", foo, 30 * kMin, 50 * kMin) == Approx(1.0 / 30).epsilon(1e-15));
  CHECK(eval("irate", bar, 30 * kMin, 50 * kMin) == 0.0);
}

TEST_CASE("irate and idelta over NaN are NaN") {
  // load 5m: http_requests_nan{} 1 NaN NaN 5 11;
  // eval range from 0 to 20m step 5m irate(http_requests_nan[15m1s]): _ NaN NaN NaN 0.02;
  // the same with idelta: _ NaN NaN NaN 6.
  auto s = load(5 * kMin, {1, kNaN, kNaN, 5, 11});
  int64_t range = 15 * kMin + kSec;
  CHECK_FALSE(eval("irate", s, 0, range));
  CHECK_FALSE(eval("idelta", s, 0, range));
  for (int64_t at : {5 * kMin, 10 * kMin, 15 * kMin}) {
    CHECK(is_nan(eval("irate", s, at, range)));
    CHECK(is_nan(eval("idelta", s, at, range)));
  }
  CHECK(eval("irate", s, 20 * kMin, range) == Approx(0.02).epsilon(1e-15));
  CHECK(eval("idelta", s, 20 * kMin, range) == 6.0);
}

TEST_CASE("delta and idelta of a gauge") {
  // load 5m: http_requests{path="/foo"} 0 50 100 150 200, "/bar" 200 150 100 50 0;
  // eval instant at 20m delta(http_requests[20m]): 200, -200.
  CHECK(eval("delta", load(5 * kMin, {0, 50, 100, 150, 200}), 20 * kMin, 20 * kMin) ==
        Approx(200).epsilon(1e-12));
  CHECK(eval("delta", load(5 * kMin, {200, 150, 100, 50, 0}), 20 * kMin, 20 * kMin) ==
        Approx(-200).epsilon(1e-12));
  // load 5m: http_requests{path="/foo"} 0 50 100 150, "/bar" 0 50 100 50;
  // eval instant at 20m idelta(http_requests[20m]): 50, -50.
  CHECK(eval("idelta", load(5 * kMin, {0, 50, 100, 150}), 20 * kMin, 20 * kMin) == 50.0);
  CHECK(eval("idelta", load(5 * kMin, {0, 50, 100, 50}), 20 * kMin, 20 * kMin) == -50.0);
}

TEST_CASE("deriv is the least-squares slope, NaN over infinities") {
  // load 5m: http_requests_total{...} 0+80x10; testcounter_reset_middle_total
  // 0+10x4 0+10x5; http_requests_inf -Inf 0+80x10 Inf.
  auto total = load(5 * kMin, seq(0, 80, 10));
  auto middle = load(5 * kMin, cat(seq(0, 10, 4), seq(0, 10, 5)));
  auto inf = load(5 * kMin, cat(cat({-kInf}, seq(0, 80, 10)), {kInf}));
  // eval instant at 50m deriv(http_requests_total[50m]): 0.26666666666666666 (as rate).
  CHECK(eval("deriv", total, 50 * kMin, 50 * kMin) == Approx(0.26666666666666666).epsilon(1e-15));
  // eval instant at 50m deriv(testcounter_reset_middle_total[100m]): 0.010606060606060607.
  CHECK(eval("deriv", middle, 50 * kMin, 100 * kMin) ==
        Approx(0.010606060606060607).epsilon(1e-15));
  // eval instant at 100m deriv(http_requests_inf[100m]): NaN.
  CHECK(is_nan(eval("deriv", inf, 100 * kMin, 100 * kMin)));
  // A constant series has slope 0 exactly; a constantly infinite one NaN (linearRegression).
  CHECK(eval("deriv", load(kMin, {3, 3, 3}), 2 * kMin, 5 * kMin) == 0.0);
  CHECK(is_nan(eval("deriv", load(kMin, {kInf, kInf}), 1 * kMin, 5 * kMin)));
}

TEST_CASE("predict_linear extends the regression line from the evaluation time") {
  // load 5m: testcounter_reset_middle_total 0+10x4 0+10x5 (slope 0.010606..., intercept
  // 6.818181818181818 at t=0, in the test file's comment).
  auto middle = load(5 * kMin, cat(seq(0, 10, 4), seq(0, 10, 5)));
  // eval instant at 50m predict_linear(testcounter_reset_middle_total[50m], 3600): 70.
  CHECK(eval("predict_linear", middle, 50 * kMin, 50 * kMin, {3600}) == Approx(70).epsilon(1e-12));
  // predict_linear(testcounter_reset_middle_total[55m] @ 3000, 3600): the window is fixed at
  // (-300s, 3000s] and the prediction starts from the evaluation time.
  std::vector<Sample> window(middle.begin(), middle.end());
  auto at = [&](int64_t eval_ms) {
    return range_function_at("predict_linear", window, -300 * kSec, 3000 * kSec, eval_ms,
                             std::vector<double>{3600});
  };
  CHECK(at(50 * kMin) == Approx(76.81818181818181).epsilon(1e-12));  // eval at 50m
  CHECK(at(10 * kMin) == Approx(51.36363636363637).epsilon(1e-12));  // eval at 10m
  CHECK(at(70 * kMin) == Approx(89.54545454545455).epsilon(1e-12));  // eval at 70m
  // eval instant at 100m predict_linear(http_requests_inf[100m], 6000): NaN.
  auto inf = load(5 * kMin, cat(cat({-kInf}, seq(0, 80, 10)), {kInf}));
  CHECK(is_nan(eval("predict_linear", inf, 100 * kMin, 100 * kMin, {6000})));
}

TEST_CASE("holt_winters smooths with Prometheus' double exponential smoothing") {
  // load 10s: http_requests{instance="0", group="production"} 0+10x1000 100+30x1000,
  // {instance="1", group="production"} 0+20x1000 200+30x1000, {instance="0",
  // group="canary"} 0+30x1000 300+80x1000, {instance="1", group="canary"} 0+40x2000;
  // eval instant at 8000s double_exponential_smoothing(http_requests[1m], 0.01, 0.1):
  // 8000, 16000, 24000, 32000.
  std::vector<double> f = {0.01, 0.1};
  auto p0 = load(10 * kSec, cat(seq(0, 10, 1000), seq(100, 30, 1000)));
  auto p1 = load(10 * kSec, cat(seq(0, 20, 1000), seq(200, 30, 1000)));
  auto c0 = load(10 * kSec, cat(seq(0, 30, 1000), seq(300, 80, 1000)));
  auto c1 = load(10 * kSec, seq(0, 40, 2000));
  CHECK(eval("holt_winters", p0, 8000 * kSec, kMin, f) == Approx(8000).epsilon(1e-12));
  CHECK(eval("holt_winters", p1, 8000 * kSec, kMin, f) == Approx(16000).epsilon(1e-12));
  CHECK(eval("holt_winters", c0, 8000 * kSec, kMin, f) == Approx(24000).epsilon(1e-12));
  CHECK(eval("holt_winters", c1, 8000 * kSec, kMin, f) == Approx(32000).epsilon(1e-12));
  // The mixed-histogram case at 20010s reads the second segments: 30100, 30200, 80300, 80000.
  CHECK(eval("holt_winters", p0, 20010 * kSec, kMin, f) == Approx(30100).epsilon(1e-12));
  CHECK(eval("holt_winters", p1, 20010 * kSec, kMin, f) == Approx(30200).epsilon(1e-12));
  CHECK(eval("holt_winters", c0, 20010 * kSec, kMin, f) == Approx(80300).epsilon(1e-12));
  CHECK(eval("holt_winters", c1, 20010 * kSec, kMin, f) == Approx(80000).epsilon(1e-12));
  // Negative trends: 8000-10x1000, 0-20x1000, 0+30x1000 300-80x1000, 0-40x1000 0+40x1000;
  // at 8000s: 0, -16000, 24000, -32000.
  CHECK(eval("holt_winters", load(10 * kSec, seq(8000, -10, 1000)), 8000 * kSec, kMin, f) ==
        Approx(0).margin(1e-9));
  CHECK(eval("holt_winters", load(10 * kSec, seq(0, -20, 1000)), 8000 * kSec, kMin, f) ==
        Approx(-16000).epsilon(1e-12));
  CHECK(eval("holt_winters", load(10 * kSec, cat(seq(0, 30, 1000), seq(300, -80, 1000))),
             8000 * kSec, kMin, f) == Approx(24000).epsilon(1e-12));
  CHECK(eval("holt_winters", load(10 * kSec, cat(seq(0, -40, 1000), seq(0, 40, 1000))), 8000 * kSec,
             kMin, f) == Approx(-32000).epsilon(1e-12));
  // Factors outside (0, 1) fail the query in Prometheus; here the series has no value.
  CHECK_FALSE(eval("holt_winters", p0, 8000 * kSec, kMin, {0, 0.1}));
  CHECK_FALSE(eval("holt_winters", p0, 8000 * kSec, kMin, {0.5, 1}));
  CHECK_FALSE(eval("holt_winters", p0, 8000 * kSec, kMin, {0.5}));
}

TEST_CASE("avg_over_time over infinities, NaN and sums that overflow") {
  // load 10s: metric 1 2 3 4 5, metric2 1 2 3 4 Inf, ... (the "Tests for avg_over_time").
  int64_t at = 55 * kSec;
  auto avg = [&](const Values& v, int64_t range = kMin) {
    return eval("avg_over_time", load(10 * kSec, v), at, range);
  };
  CHECK_FALSE(avg({1, 2, 3, 4, 5}, 10 * kSec));  // no samples in (45s, 55s]
  CHECK(avg({1, 2, 3, 4, 5}, 20 * kSec) == 5.0);
  CHECK(avg({1, 2, 3, 4, 5}) == 3.0);
  CHECK(avg({1, 2, 3, 4, kInf}) == kInf);
  CHECK(avg({1, 2, 3, 4, -kInf}) == -kInf);
  CHECK(is_nan(avg({1, 2, 3, kInf, -kInf})));
  CHECK(avg({kInf, 0, kInf}) == kInf);
  CHECK(is_nan(avg({kInf, kInf, kInf, -kInf})));
  CHECK(avg({1, 2, 3, -kInf, -kInf}) == -kInf);
  CHECK(avg({-kInf, 0, -kInf}) == -kInf);
  CHECK(is_nan(avg({-kInf, -kInf, -kInf, kInf})));
  CHECK(is_nan(avg({1, 2, -kInf, -kInf, kInf})));
  // metric8/9/10: the sum overflows, the mean does not.
  CHECK(avg({9.988465674311579e+307, 9.988465674311579e+307}) == 9.988465674311579e+307);
  CHECK(avg({-9.988465674311579e+307, -9.988465674311579e+307, -9.988465674311579e+307}) ==
        -9.988465674311579e+307);
  CHECK(avg({-9.988465674311579e+307, 9.988465674311579e+307}) == 0.0);
  // ... while sum_over_time overflows: sum_over_time(metric8[1m])/count_over_time(...) +Inf.
  CHECK(eval("sum_over_time", load(10 * kSec, {9.988465674311579e+307, 9.988465674311579e+307}), at,
             kMin) == kInf);
  // metric11 1 2 3 NaN NaN: at 20s 2, at 30s and 55s NaN.
  auto m11 = load(10 * kSec, {1, 2, 3, kNaN, kNaN});
  CHECK(eval("avg_over_time", m11, 20 * kSec, kMin) == 2.0);
  CHECK(is_nan(eval("avg_over_time", m11, 30 * kSec, kMin)));
  CHECK(is_nan(eval("avg_over_time", m11, 55 * kSec, kMin)));
}

TEST_CASE("sum_over_time and avg_over_time keep small values next to huge ones") {
  // load 10s: metric 1 1e100 1 -1e100; eval instant at 1m sum_over_time(metric[2m]): 2,
  // avg_over_time: 0.5.
  auto m = load(10 * kSec, {1, 1e100, 1, -1e100});
  CHECK(eval("sum_over_time", m, kMin, 2 * kMin) == 2.0);
  CHECK(eval("avg_over_time", m, kMin, 2 * kMin) == 0.5);
  // load 1ms: metric 1+0x4000; eval instant at 4s sum_over_time(metric[1000ms]) 1000, ...
  auto dense = load(1, seq(1, 0, 4000));
  for (int64_t r : {1000, 1001, 1002, 1003, 2000, 2003, 3000, 3003}) {
    CHECK(eval("sum_over_time", dense, 4 * kSec, r) == static_cast<double>(r));
  }
  // load 10s: foo 52+0x100; avg_over_time(foo[100s..130s]) == 52 exactly.
  auto foo = load(10 * kSec, seq(52, 0, 100));
  for (int64_t r : {100, 110, 120, 130}) {
    CHECK(eval("avg_over_time", foo, 10 * kMin, r * kSec) == 52.0);
  }
}

TEST_CASE("avg_over_time of values of very different magnitudes") {
  // load 5s: metric1 .. metric11 ("More tests for extreme values"); eval instant at 55s
  // avg_over_time(metricN[1m]). promqltest compares within 1e-6 relative; so do these where
  // the file prints fewer digits.
  auto avg = [](const Values& v) {
    return eval("avg_over_time", load(5 * kSec, v), 55 * kSec, kMin);
  };
  CHECK(avg({1e10, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6}) == 1.6666666666666675e+09);
  CHECK(avg({5.30921651659898, 0.961118537914768, 1.62091361305318, 0.865089463758091,
             0.323055185914577, 0.951811357687154}) == Approx(1.67186744582113).epsilon(1e-6));
  CHECK(avg({1.78264e50, 0.76342771, 1.9592258, 7.69805412, 458.90154}) ==
        Approx(3.56528E+49).epsilon(1e-6));
  CHECK(avg({1.78264E+50, 0.76342771, 1.9592258, 2.258E+220, 7.69805412, 458.90154}) ==
        Approx(3.76333333333333E+219).epsilon(1e-6));
  CHECK(avg({-1.78264E+215, 0.76342771, 1.9592258, 2.258E+220, 7.69805412, 1.78264E+215,
             -458.90154}) == Approx(3.225714285714286e+219).epsilon(1e-6));
  CHECK(avg({-1.78264E+219, 0.76342771, 1.9592258, 2.3757689E+217, -2.3757689E+217, 2.258E+220,
             7.69805412, 1.78264E+219, -458.90154}) ==
        Approx(2.5088888888888888e+219).epsilon(1e-6));
  // metric11: the large values cancel exactly; even Kahan summation gives 0 here (the true
  // mean is -44.848083237000004), and Prometheus expects that 0.
  CHECK(avg({-2.258E+220, -1.78264E+219, 0.76342771, 1.9592258, 2.3757689E+217, -2.3757689E+217,
             2.258E+220, 7.69805412, 1.78264E+219, -458.90154}) == 0.0);
}

TEST_CASE("stddev_over_time and stdvar_over_time are the population statistics") {
  // load 10s: metric 0 8 8 2 3; eval instant at 1m stdvar_over_time(metric[2m]): 10.56,
  // stddev_over_time: 3.249615.
  auto m = load(10 * kSec, {0, 8, 8, 2, 3});
  CHECK(eval("stdvar_over_time", m, kMin, 2 * kMin) == Approx(10.56).epsilon(1e-12));
  CHECK(eval("stddev_over_time", m, kMin, 2 * kMin) == Approx(3.249615).epsilon(1e-6));
  // #4927: metric 1.5990505637277868 x3 has variance 0 exactly, at 55s over [1m].
  auto c = load(10 * kSec, {1.5990505637277868, 1.5990505637277868, 1.5990505637277868});
  CHECK(eval("stdvar_over_time", c, 55 * kSec, kMin) == 0.0);
  CHECK(eval("stddev_over_time", c, 55 * kSec, kMin) == 0.0);
  CHECK(is_nan(eval("stdvar_over_time", load(10 * kSec, {1, kInf}), kMin, 2 * kMin)));
}

TEST_CASE("mad_over_time is the median absolute deviation") {
  // load 10s: metric 4 6 2 1 999 1 2; eval instant at 70s mad_over_time(metric[70s]): 1.
  CHECK(eval("mad_over_time", load(10 * kSec, {4, 6, 2, 1, 999, 1, 2}), 70 * kSec, 70 * kSec) ==
        1.0);
}

TEST_CASE("quantile_over_time interpolates between ranks") {
  // load 10s: data{test="two samples"} 0 1, "three samples" 0 1 2, "uneven samples" 0 1 4;
  // eval instant at 1m quantile_over_time(q, data[2m]).
  auto two = load(10 * kSec, {0, 1});
  auto three = load(10 * kSec, {0, 1, 2});
  auto uneven = load(10 * kSec, {0, 1, 4});
  struct Row {
    double q, two, three, uneven;
  };
  const Row rows[] = {{0, 0, 0, 0},         {0.5, 0.5, 1, 1}, {0.75, 0.75, 1.5, 2.5},
                      {0.8, 0.8, 1.6, 2.8}, {1, 1, 2, 4},     {-1, -kInf, -kInf, -kInf},
                      {2, kInf, kInf, kInf}};
  for (const Row& r : rows) {
    INFO("q=" << r.q);
    CHECK(eval("quantile_over_time", two, kMin, 2 * kMin, {r.q}) == Approx(r.two).epsilon(1e-15));
    CHECK(eval("quantile_over_time", three, kMin, 2 * kMin, {r.q}) ==
          Approx(r.three).epsilon(1e-15));
    CHECK(eval("quantile_over_time", uneven, kMin, 2 * kMin, {r.q}) ==
          Approx(r.uneven).epsilon(1e-15));
  }
  CHECK(is_nan(eval("quantile_over_time", two, kMin, 2 * kMin, {kNaN})));
  CHECK_FALSE(eval("quantile_over_time", two, kMin, 2 * kMin));  // no q
}

TEST_CASE("min, max, last and count over time, with NaN as Prometheus treats it") {
  // load 10s: data{type="numbers"} 2 0 3, "some_nan" 2 0 NaN, "some_nan2" 2 NaN 1,
  // "some_nan3" NaN 0 1, "only_nan" NaN NaN NaN, data_sparse _ 5 2 _ 4 _;
  // eval instant at 1m {min,max,last,count}_over_time(data[2m]).
  struct Row {
    Values v;
    double min, max, last, count;
  };
  const Row rows[] = {
      {{2, 0, 3}, 0, 3, 3, 3},
      {{2, 0, kNaN}, 0, 2, kNaN, 3},
      {{2, kNaN, 1}, 1, 2, 1, 3},
      {{kNaN, 0, 1}, 0, 1, 1, 3},
      {{kNaN, kNaN, kNaN}, kNaN, kNaN, kNaN, 3},
      {{std::nullopt, 5, 2, std::nullopt, 4, std::nullopt}, 2, 5, 4, 3},
  };
  auto same = [](std::optional<double> got, double want) {
    return got && (std::isnan(want) ? std::isnan(*got) : *got == want);
  };
  for (size_t i = 0; i < std::size(rows); ++i) {
    INFO("row " << i);
    auto s = load(10 * kSec, rows[i].v);
    CHECK(same(eval("min_over_time", s, kMin, 2 * kMin), rows[i].min));
    CHECK(same(eval("max_over_time", s, kMin, 2 * kMin), rows[i].max));
    CHECK(same(eval("last_over_time", s, kMin, 2 * kMin), rows[i].last));
    CHECK(same(eval("count_over_time", s, kMin, 2 * kMin), rows[i].count));
  }
}

TEST_CASE("present_over_time is 1 for a series with samples in the window, else nothing") {
  // load 1m: httpd_log_lines_total 1 (one sample at 0);
  // eval instant at 0m present_over_time(httpd_log_lines_total[30s]): 1; at 1m: nothing.
  auto s = load(kMin, {1});
  CHECK(eval("present_over_time", s, 0, 30 * kSec) == 1.0);
  CHECK_FALSE(eval("present_over_time", s, kMin, 30 * kSec));
}

TEST_CASE("a counter at 1m steps: rate, and a series that starts inside the window") {
  // The rate() documentation's case: a counter 0, 10, 20, ... scraped every minute, rate over
  // [5m] at 10m: (5m, 10m] holds 60..100 at 6m..10m; 40 over 4m, extrapolated by 1m to the
  // left edge (within 1.1 intervals; the zero point is 6m away): 50 per 300s.
  auto counter = load(kMin, seq(0, 10, 20));
  CHECK(eval("rate", counter, 10 * kMin, 5 * kMin) == Approx(50.0 / 300).epsilon(1e-15));
  CHECK(eval("increase", counter, 10 * kMin, 5 * kMin) == Approx(50).epsilon(1e-12));
  // A counter that appears at 8m with 0, 10, 20: 3m from the left edge is beyond 1.1
  // intervals, so half an interval at most, and its first value 0 puts the zero point at 8m:
  // no extrapolation to the left at all. increase = 20.
  auto late = load(kMin, {std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                          std::nullopt, std::nullopt, std::nullopt, 0, 10, 20});
  CHECK(eval("increase", late, 10 * kMin, 5 * kMin) == 20.0);
  // The same shape as a gauge from 5: delta goes half an interval (30s) to the left: 25.
  auto gauge = load(kMin, {std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt,
                           std::nullopt, std::nullopt, std::nullopt, 5, 15, 25});
  CHECK(eval("delta", gauge, 10 * kMin, 5 * kMin) == 25.0);
  // A series that stops early (10, 20, 30 at 1m..3m, window (0, 5m]): the left edge is one
  // interval away, so extrapolated fully (the zero point is as far); the right edge 2m away,
  // so half an interval: 20 over 2m becomes 20 * (1m + 2m + 0.5m) / 2m = 35.
  auto early = load(kMin, {std::nullopt, 10, 20, 30});
  CHECK(eval("increase", early, 5 * kMin, 5 * kMin) == 35.0);
}

TEST_CASE("quantile interpolates between closest ranks, and a q below 0 or above 1 is infinite") {
  // From the quantile() doc comment in promql/quantile.go and the brief: {1,2,3,4} at 0.5 is
  // 2.5, at 0.25 is 1.75.
  std::vector<double> v = {4, 2, 3, 1};
  CHECK(quantile(0.5, v) == 2.5);
  CHECK(quantile(0.25, v) == 1.75);
  CHECK(quantile(0, v) == 1.0);
  CHECK(quantile(1, v) == 4.0);
  CHECK(quantile(-0.1, v) == -kInf);
  CHECK(quantile(1.1, v) == kInf);
  CHECK(std::isnan(quantile(kNaN, v)));
  std::vector<double> none;
  CHECK(std::isnan(quantile(0.5, none)));
  // NaN sorts before every number (vectorByValueHeap.Less), so the maximum stays a number.
  std::vector<double> with_nan = {3, kNaN, 1};
  CHECK(quantile(1, with_nan) == 3.0);
  CHECK(std::isnan(quantile(0, with_nan)));
}

TEST_CASE("too few samples, missing arguments and unknown names give no value") {
  std::vector<Sample> one = {{1000, 5}};
  for (const char* fn : {"rate", "irate", "increase", "delta", "idelta", "deriv"}) {
    INFO(fn);
    CHECK_FALSE(range_function(fn, one, 0, 60000));
    CHECK_FALSE(range_function(fn, {}, 0, 60000));
  }
  CHECK(range_function("changes", one, 0, 60000) == 0.0);
  CHECK(range_function("resets", one, 0, 60000) == 0.0);
  CHECK_FALSE(range_function("predict_linear", one, 0, 60000, std::vector<double>{60}));
  CHECK_FALSE(range_function("sum_over_time", {}, 0, 60000));
  CHECK_FALSE(range_function("absent_over_time", one, 0, 60000));  // the evaluator's
  CHECK_FALSE(range_function("no_such_function", one, 0, 60000));
  // Two samples at the same instant: irate has no interval to divide by.
  std::vector<Sample> same = {{1000, 1}, {1000, 2}};
  CHECK_FALSE(range_function("irate", same, 0, 60000));
  CHECK(is_range_function("rate"));
  CHECK(is_range_function("holt_winters"));
  CHECK(is_range_function("mad_over_time"));
  CHECK_FALSE(is_range_function("absent_over_time"));
  CHECK_FALSE(is_range_function("abs"));
}
