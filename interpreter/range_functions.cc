// PromQL's range-vector functions, written after Prometheus' promql/functions.go and
// promql/quantile.go so that the same samples give the same floats, NaN and Inf included; but
// sum_over_time and avg_over_time sum exactly where they can (see exact_sum below).
#include "interpreter/range_functions.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "interpreter/exact_sum.h"
#include "interpreter/kahan_sum.h"

namespace setpoint {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Go's time.Duration.Seconds() for a whole number of milliseconds: whole seconds plus the
// fraction, computed the way Go does so that rate divides by bit-identical numbers.
double range_seconds(int64_t start_ms, int64_t end_ms) {
  int64_t ms = end_ms - start_ms;
  return static_cast<double>(ms / 1000) + static_cast<double>((ms % 1000) * 1'000'000) / 1e9;
}

// extrapolatedRate: rate, increase and delta. The difference between the first and last
// sample (plus the value before every counter reset) is stretched to the window's edges when
// the samples reach close to them, and by half an average interval where they stop short.
std::optional<double> extrapolated_rate(std::span<const Sample> s, int64_t start_ms, int64_t end_ms,
                                        bool is_counter, bool is_rate) {
  if (s.size() < 2) return std::nullopt;
  const Sample& first = s.front();
  const Sample& last = s.back();
  double result = last.value - first.value;
  if (is_counter) {
    // A counter that went down was reset to zero in between: what it had counted before
    // the reset is added back.
    for (size_t i = 1; i < s.size(); ++i) {
      if (s[i].value < s[i - 1].value) result += s[i - 1].value;
    }
  }
  double to_start = static_cast<double>(first.t_ms - start_ms) / 1000;
  double to_end = static_cast<double>(end_ms - last.t_ms) / 1000;
  double sampled = static_cast<double>(last.t_ms - first.t_ms) / 1000;
  double average = sampled / static_cast<double>(s.size() - 1);
  // "Close enough" to an edge is up to 10% more than the average interval; further away the
  // series is taken to start or end inside the window, half an interval beyond its samples.
  double threshold = average * 1.1;
  if (to_start >= threshold) to_start = average / 2;
  if (is_counter) {
    // A counter cannot go below zero: never extrapolate to before the time it would have
    // been zero at the slope seen in the window.
    double to_zero = to_start;
    if (result > 0 && first.value >= 0) to_zero = sampled * (first.value / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  if (to_end >= threshold) to_end = average / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate) factor /= range_seconds(start_ms, end_ms);
  return result * factor;
}

// instantValue: irate and idelta, from the last two samples only.
std::optional<double> instant_value(std::span<const Sample> s, bool is_rate) {
  if (s.size() < 2) return std::nullopt;
  const Sample& a = s[s.size() - 2];
  const Sample& b = s[s.size() - 1];
  int64_t interval = b.t_ms - a.t_ms;
  if (interval == 0) return std::nullopt;
  // A counter that went down was reset: the last value is then all it counted since. NaN
  // compares false, so a NaN falls through to the difference, as in Prometheus.
  double result = b.value;
  if (!is_rate || !(b.value < a.value)) result = b.value - a.value;
  if (is_rate) result /= static_cast<double>(interval) / 1000;
  return result;
}

// linearRegression: least squares with Kahan-compensated sums, x in seconds from
// `intercept_ms` (near the samples, for precision). A constant series has slope 0 exactly,
// unless it is constantly infinite.
std::pair<double, double> linear_regression(std::span<const Sample> s, int64_t intercept_ms) {
  double n = 0, sum_x = 0, c_x = 0, sum_y = 0, c_y = 0, sum_xy = 0, c_xy = 0, sum_x2 = 0, c_x2 = 0;
  double init_y = s[0].value;
  bool const_y = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (const_y && i > 0 && s[i].value != init_y) const_y = false;
    n += 1.0;
    double x = static_cast<double>(s[i].t_ms - intercept_ms) / 1e3;
    kahan_inc(x, sum_x, c_x);
    kahan_inc(s[i].value, sum_y, c_y);
    kahan_inc(x * s[i].value, sum_xy, c_xy);
    kahan_inc(x * x, sum_x2, c_x2);
  }
  if (const_y) {
    if (std::isinf(init_y)) return {kNaN, kNaN};
    return {0, init_y};
  }
  sum_x += c_x;
  sum_y += c_y;
  sum_xy += c_xy;
  sum_x2 += c_x2;
  double cov_xy = sum_xy - sum_x * sum_y / n;
  double var_x = sum_x2 - sum_x * sum_x / n;
  double slope = cov_xy / var_x;
  double intercept = sum_y / n - slope * sum_x / n;
  return {slope, intercept};
}

// funcDoubleExponentialSmoothing (holt_winters before Prometheus 3.0).
std::optional<double> holt_winters(std::span<const Sample> s, double sf, double tf) {
  // Prometheus fails the query for factors outside (0, 1); here the series has no value.
  // Written as Prometheus writes it, so a NaN factor passes and yields NaN.
  if (sf <= 0 || sf >= 1 || tf <= 0 || tf >= 1) return std::nullopt;
  if (s.size() < 2) return std::nullopt;
  double s0 = 0, s1 = s[0].value;
  double b = s[1].value - s[0].value;
  for (size_t i = 1; i < s.size(); ++i) {
    double x = sf * s[i].value;
    // calcTrendValue: the first step keeps the initial trend.
    if (i - 1 != 0) b = tf * (s1 - s0) + (1 - tf) * b;
    double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  return s1;
}

double changes(std::span<const Sample> s) {
  double n = 0;
  for (size_t i = 1; i < s.size(); ++i) {
    double prev = s[i - 1].value, cur = s[i].value;
    if (cur != prev && !(std::isnan(cur) && std::isnan(prev))) ++n;
  }
  return n;
}

double resets(std::span<const Sample> s) {
  double n = 0;
  for (size_t i = 1; i < s.size(); ++i) n += s[i].value < s[i - 1].value;
  return n;
}

// The exact sum of the window's values when every one fits (interpreter/exact_sum.h): sums
// and averages then come out the same whether a window is summed afresh or slides (add the
// newcomers, remove the leavers), and at least as close as Prometheus' compensated sum, which
// can be a bit off where the exact sum is not.
std::optional<ExactSum::Rounded> exact_sum(std::span<const Sample> s) {
  ExactSum sum;
  for (const Sample& x : s) {
    if (!sum.add(x.value)) return std::nullopt;
  }
  return sum.rounded();
}

// funcAvgOverTime: a Kahan sum divided by the count while the sum stays finite; once it would
// overflow, an incremental mean instead.
double avg_over_time(std::span<const Sample> s) {
  if (std::optional<ExactSum::Rounded> exact = exact_sum(s)) {
    double n = static_cast<double>(s.size());
    return exact->hi / n + exact->lo / n;  // as Prometheus' sum / n + compensation / n
  }
  double sum = s[0].value, count = 1, mean = 0, c = 0;
  bool incremental = false;
  for (size_t i = 1; i < s.size(); ++i) {
    count = static_cast<double>(i + 1);
    double v = s[i].value;
    if (!incremental) {
      double new_sum = sum, new_c = c;
      kahan_inc(v, new_sum, new_c);
      if (!std::isinf(new_sum)) {
        sum = new_sum;
        c = new_c;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= (count - 1);
    }
    double q = (count - 1) / count;
    mean *= q;
    c *= q;
    kahan_inc(v / count, mean, c);
  }
  if (incremental) return mean + c;
  return sum / count + c / count;
}

double sum_over_time(std::span<const Sample> s) {
  if (std::optional<ExactSum::Rounded> exact = exact_sum(s)) return exact->hi;
  double sum = 0, c = 0;
  for (const Sample& x : s) kahan_inc(x.value, sum, c);
  return std::isinf(sum) ? sum : sum + c;
}

// compareOverTime: a NaN is replaced by the next value, so the result is NaN only when every
// value is; ties keep the earliest.
double min_over_time(std::span<const Sample> s) {
  double m = s[0].value;
  for (const Sample& x : s) {
    if (x.value < m || std::isnan(m)) m = x.value;
  }
  return m;
}

double max_over_time(std::span<const Sample> s) {
  double m = s[0].value;
  for (const Sample& x : s) {
    if (x.value > m || std::isnan(m)) m = x.value;
  }
  return m;
}

// varianceOverTime: Welford's algorithm with Kahan-compensated mean and sum of squares.
double stdvar_over_time(std::span<const Sample> s) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (const Sample& x : s) {
    count++;
    double delta = x.value - (mean + c_mean);
    kahan_inc(delta / count, mean, c_mean);
    kahan_inc(delta * (x.value - (mean + c_mean)), aux, c_aux);
  }
  return (aux + c_aux) / count;
}

std::vector<double> values_of(std::span<const Sample> s) {
  std::vector<double> v;
  v.reserve(s.size());
  for (const Sample& x : s) v.push_back(x.value);
  return v;
}

double mad_over_time(std::span<const Sample> s) {
  std::vector<double> v = values_of(s);
  double median = quantile(0.5, v);
  for (size_t i = 0; i < s.size(); ++i) v[i] = std::fabs(s[i].value - median);
  return quantile(0.5, v);
}

enum class Fn : uint8_t {
  None,
  Rate,
  Irate,
  Increase,
  Delta,
  Idelta,
  Deriv,
  PredictLinear,
  HoltWinters,
  Changes,
  Resets,
  Avg,
  Sum,
  Min,
  Max,
  Count,
  Quantile,
  Stddev,
  Stdvar,
  Last,
  Present,
  Mad,
};

Fn find(std::string_view name) {
  static constexpr std::pair<std::string_view, Fn> kNames[] = {
      {"rate", Fn::Rate},
      {"irate", Fn::Irate},
      {"increase", Fn::Increase},
      {"delta", Fn::Delta},
      {"idelta", Fn::Idelta},
      {"deriv", Fn::Deriv},
      {"predict_linear", Fn::PredictLinear},
      {"holt_winters", Fn::HoltWinters},
      {"changes", Fn::Changes},
      {"resets", Fn::Resets},
      {"avg_over_time", Fn::Avg},
      {"sum_over_time", Fn::Sum},
      {"min_over_time", Fn::Min},
      {"max_over_time", Fn::Max},
      {"count_over_time", Fn::Count},
      {"quantile_over_time", Fn::Quantile},
      {"stddev_over_time", Fn::Stddev},
      {"stdvar_over_time", Fn::Stdvar},
      {"last_over_time", Fn::Last},
      {"present_over_time", Fn::Present},
      {"mad_over_time", Fn::Mad},
  };
  for (const auto& [n, fn] : kNames) {
    if (n == name) return fn;
  }
  return Fn::None;
}

}  // namespace

bool is_range_function(std::string_view name) { return find(name) != Fn::None; }

std::optional<double> range_function(std::string_view name, std::span<const Sample> samples,
                                     int64_t start_ms, int64_t end_ms,
                                     std::span<const double> args) {
  return range_function_at(name, samples, start_ms, end_ms, end_ms, args);
}

std::optional<double> range_function_at(std::string_view name, std::span<const Sample> samples,
                                        int64_t start_ms, int64_t end_ms, int64_t eval_ms,
                                        std::span<const double> args) {
  Fn fn = find(name);
  // Prometheus drops a series with no samples in the window before calling any function.
  if (fn == Fn::None || samples.empty()) return std::nullopt;
  const auto& s = samples;
  switch (fn) {
    case Fn::Rate:
      return extrapolated_rate(s, start_ms, end_ms, true, true);
    case Fn::Increase:
      return extrapolated_rate(s, start_ms, end_ms, true, false);
    case Fn::Delta:
      return extrapolated_rate(s, start_ms, end_ms, false, false);
    case Fn::Irate:
      return instant_value(s, true);
    case Fn::Idelta:
      return instant_value(s, false);
    case Fn::Deriv:
      if (s.size() < 2) return std::nullopt;
      return linear_regression(s, s[0].t_ms).first;
    case Fn::PredictLinear: {
      if (s.size() < 2 || args.empty()) return std::nullopt;
      auto [slope, intercept] = linear_regression(s, eval_ms);
      return slope * args[0] + intercept;
    }
    case Fn::HoltWinters:
      if (args.size() < 2) return std::nullopt;
      return holt_winters(s, args[0], args[1]);
    case Fn::Changes:
      return changes(s);
    case Fn::Resets:
      return resets(s);
    case Fn::Avg:
      return avg_over_time(s);
    case Fn::Sum:
      return sum_over_time(s);
    case Fn::Min:
      return min_over_time(s);
    case Fn::Max:
      return max_over_time(s);
    case Fn::Count:
      return static_cast<double>(s.size());
    case Fn::Quantile: {
      if (args.empty()) return std::nullopt;
      std::vector<double> v = values_of(s);
      return quantile(args[0], v);
    }
    case Fn::Stddev:
      return std::sqrt(stdvar_over_time(s));
    case Fn::Stdvar:
      return stdvar_over_time(s);
    case Fn::Last:
      return s.back().value;
    case Fn::Present:
      return 1.0;
    case Fn::Mad:
      return mad_over_time(s);
    case Fn::None:
      break;
  }
  return std::nullopt;
}

bool quantile_less(double a, double b) { return (std::isnan(a) && !std::isnan(b)) || a < b; }

double quantile_of_sorted(double q, std::span<const double> sorted) {
  if (sorted.empty() || std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  double n = static_cast<double>(sorted.size());
  // Between two ranks, a weighted average of the two samples.
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return sorted[static_cast<size_t>(lower)] * (1 - weight) +
         sorted[static_cast<size_t>(upper)] * weight;
}

double quantile(double q, std::span<double> values) {
  if (values.empty() || std::isnan(q) || q < 0 || q > 1) return quantile_of_sorted(q, values);
  std::sort(values.begin(), values.end(), quantile_less);
  return quantile_of_sorted(q, values);
}

}  // namespace setpoint
