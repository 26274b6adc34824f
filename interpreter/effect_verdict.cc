// Judging one expectation: checks on the data, the two one-sided rank-sum tests and the
// Hodges-Lehmann shift, the decision, and the one-line reason with its numbers.
#include "interpreter/effect_verdict.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "interpreter/hodges_lehmann.h"
#include "interpreter/mann_whitney.h"

namespace setpoint {
// Numbers are written with to_chars: locale-independent, so the same bytes everywhere.
std::string reason_number(double v, std::chars_format format, int precision) {
  char buffer[400];  // a fixed double needs up to 309 digits before the point
  auto end = std::to_chars(buffer, buffer + sizeof buffer, v, format, precision).ptr;
  std::string s(buffer, end);
  // A value that rounds to zero is written without a sign: "0", not "-0".
  if (!s.empty() && s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

namespace {

std::string chars(double v, std::chars_format format, int precision) {
  return reason_number(v, format, precision);
}

std::string shortest(double v) {
  char buffer[64];
  return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, v).ptr);
}

double parse(const std::string& s) {
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// A percentage (given as a ratio) with two significant digits below 10% and none after the
// point above: "31", "4.5", "0.25", "0".
int percent_decimals(double percent) {
  const double a = std::fabs(percent);
  return a >= 10 || a == 0 ? 0 : a >= 1 ? 1 : 2;
}

// From a million percent up (a baseline median near 0), "1.2e+08" beats a row of digits.
constexpr double kScientificPercent = 1e6;

std::string percent(double ratio) {
  const double p = ratio * 100;
  if (std::fabs(p) >= kScientificPercent) return chars(p, std::chars_format::general, 2);
  return chars(p, std::chars_format::fixed, percent_decimals(p));
}

// `value` written with enough digits that, read back, it sits on the same side of `bound` (as
// written) as the decision said: a reason never reads "p = 0.05 < 0.05" or "fell 20% ...
// smaller than the promised 20%".
std::string consistent(double value, const std::string& bound, bool below, std::chars_format format,
                       int digits) {
  const double b = parse(bound);
  for (int d = digits; d <= 17; ++d) {
    std::string s = chars(value, format, d);
    if ((parse(s) < b) == below) return s;
  }
  return chars(value, format, 17);
}

std::string percent_against(double ratio, const std::string& bound, bool below) {
  const double p = ratio * 100;
  if (std::fabs(p) >= kScientificPercent) {
    return consistent(p, bound, below, std::chars_format::general, 2);
  }
  return consistent(p, bound, below, std::chars_format::fixed, percent_decimals(p));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  const double m = v.size() % 2 == 1 ? v[h] : (v[h - 1] + v[h]) / 2;
  return m + 0.0;  // -0 and 0 sort as equals; write them alike
}

size_t missing(std::span<const double> values) {
  return static_cast<size_t>(
      std::count_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }));
}

std::string invalid(const Expectation& e) {
  auto in_unit_interval = [](double v) { return v > 0 && v < 1; };
  if (!in_unit_interval(e.alpha)) return "alpha must be in (0, 1), not " + shortest(e.alpha);
  if (!in_unit_interval(e.confidence)) {
    return "the confidence must be in (0, 1), not " + shortest(e.confidence);
  }
  if (!(e.promised > 0 && std::isfinite(e.promised))) {
    return "the promised change must be more than 0, not " + shortest(e.promised);
  }
  if (e.regression_threshold &&
      !(*e.regression_threshold >= 0 && std::isfinite(*e.regression_threshold))) {
    return "the regression threshold must be at least 0, not " + shortest(*e.regression_threshold);
  }
  if (e.min_samples < 1) return "at least 1 sample per window is needed, not 0";
  return "";
}

// What a bound of the effect is compared with when the reason states the effect.
struct Bound {
  std::string shown;  // as written in the reason, in percent
  bool below = false;
};

// "<metric> fell 30% (95% CI 24%..36%)": the effect in the words of its own sign, so a fall
// and the interval of the fall are both positive numbers.
std::string effect_phrase(const std::string& metric, const Explanation& x, double confidence,
                          const std::optional<Bound>& bound) {
  const double scale = std::fabs(x.median_baseline);
  const double rel = x.relative_change;
  const bool fell = rel < 0;
  std::string s = (metric.empty() ? "" : metric + " ") + (fell      ? "fell "
                                                          : rel > 0 ? "rose "
                                                                    : "did not change");
  if (rel != 0) {
    const double amount = std::fabs(rel);
    s += (bound ? percent_against(amount, bound->shown, bound->below) : percent(amount)) + "%";
  }
  s += " (" + chars(confidence * 100, std::chars_format::general, 6) + "% CI ";
  if (std::isinf(x.ci_low) || std::isinf(x.ci_high)) {
    s += "unbounded)";
  } else if (fell) {
    s += percent(-x.ci_high / scale) + "%.." + percent(-x.ci_low / scale) + "%)";
  } else {
    s += percent(x.ci_low / scale) + "%.." + percent(x.ci_high / scale) + "%)";
  }
  return s;
}

// Below 1e-16 a p-value only says the shift is beyond doubt (and the normal tail underflows to
// 0 far out), so the reason, like R's format.pval, only says how small it is.
constexpr double kSmallestShownP = 1e-16;

}  // namespace

std::string p_phrase(double p, double alpha) {
  const std::string a = shortest(alpha);
  const bool below = p < alpha;
  if (p < kSmallestShownP && alpha > kSmallestShownP) return "p < 1e-16 < " + a;
  return "p = " + consistent(p, a, below, std::chars_format::general, 2) +
         (below ? " < " : " >= ") + a;
}

std::string shift_phrase(const std::string& metric, const Explanation& x, double confidence) {
  return effect_phrase(metric, x, confidence, std::nullopt);
}

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::Confirmed:
      return "confirmed";
    case Verdict::Regressed:
      return "regressed";
    case Verdict::Inconclusive:
      return "inconclusive";
    case Verdict::Error:
      return "error";
  }
  return "error";
}

EffectVerdict judge_effect(std::span<const double> baseline, std::span<const double> observation,
                           const Expectation& e) {
  EffectVerdict v;
  Explanation& x = v.explanation;
  const std::string metric = e.metric.empty() ? "the metric" : e.metric;
  x.n_baseline = baseline.size();
  x.n_observation = observation.size();
  x.missing_baseline = missing(baseline);
  x.missing_observation = missing(observation);
  auto conclude = [&](Verdict verdict, std::string reason) {
    v.verdict = verdict;
    x.reason = std::move(reason);
    return v;
  };

  if (std::string problem = invalid(e); !problem.empty()) {
    return conclude(Verdict::Error, metric + ": " + problem + ": error");
  }
  // Missing data never confirms, and dropping it could hide that the action broke the metric.
  if (x.missing_baseline > 0 || x.missing_observation > 0) {
    std::string s = metric + " is missing ";
    auto part = [](size_t miss, size_t of, const char* window) {
      return std::to_string(miss) + " of " + std::to_string(of) + " " + window;
    };
    if (x.missing_baseline > 0) s += part(x.missing_baseline, x.n_baseline, "baseline");
    if (x.missing_baseline > 0 && x.missing_observation > 0) s += " and ";
    if (x.missing_observation > 0) s += part(x.missing_observation, x.n_observation, "observation");
    return conclude(Verdict::Inconclusive,
                    s + " samples (NaN or infinite): inconclusive, missing data never confirms");
  }
  if (x.n_baseline < e.min_samples || x.n_observation < e.min_samples) {
    return conclude(Verdict::Inconclusive,
                    metric + " has " + std::to_string(x.n_baseline) + " baseline and " +
                        std::to_string(x.n_observation) + " observation samples, fewer than " +
                        std::to_string(e.min_samples) + " on a side: inconclusive");
  }

  const RankSum test = rank_sum_test(baseline, observation);
  const ShiftEstimate shift = hodges_lehmann(baseline, observation, e.confidence);
  const bool decreases = e.direction == Direction::Decreases;
  x.median_baseline = median({baseline.begin(), baseline.end()});
  x.median_observation = median({observation.begin(), observation.end()});
  x.hl_shift = shift.shift;
  x.ci_low = shift.ci_low;
  x.ci_high = shift.ci_high;
  x.p_value = decreases ? test.p_lower : test.p_higher;
  x.p_value_opposite = decreases ? test.p_higher : test.p_lower;
  x.exact = test.exact;
  if (x.median_baseline == 0) {
    return conclude(Verdict::Error, metric +
                                        " has a baseline median of 0, so no relative change is "
                                        "defined: error");
  }
  // Relative to the baseline's magnitude, so a negative metric falls when it moves down too.
  x.relative_change = x.hl_shift / std::fabs(x.median_baseline);

  // The effect measured in the promised direction, and in the other one.
  const double towards = decreases ? -x.relative_change : x.relative_change;
  const double away = -towards;
  const std::string promised = chars(e.promised * 100, std::chars_format::general, 6);
  const double threshold = e.regression_threshold.value_or(0);
  const std::string threshold_shown = chars(threshold * 100, std::chars_format::general, 6);

  if (x.p_value < e.alpha) {
    const bool reached = towards >= e.promised;
    std::optional<Bound> bound;  // only a move the promised way is compared with the promise
    if (towards > 0) bound = Bound{promised, !reached};
    const std::string measured =
        effect_phrase(metric, x, e.confidence, bound) + ", " + p_phrase(x.p_value, e.alpha);
    if (reached) {
      return conclude(Verdict::Confirmed, measured + ": confirmed (promised " + promised + "%)");
    }
    return conclude(Verdict::Inconclusive,
                    measured + ": inconclusive, smaller than the promised " + promised + "%");
  }
  if (x.p_value_opposite < e.alpha) {
    const bool beyond = away > 0 && away >= threshold;
    std::optional<Bound> bound;
    if (e.regression_threshold && away > 0) bound = Bound{threshold_shown, !beyond};
    const std::string measured = effect_phrase(metric, x, e.confidence, bound) + ", " +
                                 p_phrase(x.p_value_opposite, e.alpha);
    if (beyond && e.regression_threshold) {
      return conclude(Verdict::Regressed,
                      measured + ": regressed, beyond the " + threshold_shown + "% threshold");
    }
    if (beyond) return conclude(Verdict::Regressed, measured + ": regressed");
    // Heavy ties can make U significant while the median difference is still 0.
    if (away <= 0) {
      return conclude(Verdict::Inconclusive, measured + ": inconclusive, no median shift");
    }
    return conclude(Verdict::Inconclusive, measured + ": inconclusive, within the " +
                                               threshold_shown + "% regression threshold");
  }
  return conclude(Verdict::Inconclusive, effect_phrase(metric, x, e.confidence, std::nullopt) +
                                             ", " + p_phrase(x.p_value, e.alpha) +
                                             ": inconclusive, not significant (promised " +
                                             promised + "%)");
}

}  // namespace setpoint
