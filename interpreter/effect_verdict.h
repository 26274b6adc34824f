// The verdict on one `expect` clause: did the observation window after an action move from the
// baseline window before it as far as promised, in the promised direction? With its reasons.
#pragma once

#include <charconv>
#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "grammar/ast.h"

namespace setpoint {

enum class Verdict {
  Confirmed,     // significant in the promised direction and at least as large as promised
  Regressed,     // significant in the opposite direction, beyond the regression threshold
  Inconclusive,  // missing data, too few samples, not significant, or smaller than promised
  Error,         // cannot be measured: a baseline median of 0, or invalid parameters
};

std::string_view verdict_name(Verdict verdict);  // "confirmed", "regressed", ...

struct Expectation {
  std::string metric;  // how the reason names what was measured, e.g. "p95_latency"
  Direction direction = Direction::Decreases;
  double promised = 0.2;  // the relative change promised: 0.2 is `by 20%`
  double alpha = 0.05;    // significance level of each one-sided test
  double confidence = 0.95;
  size_t min_samples = 8;  // per window
  // How far (relative, 0.2 = 20%) the metric must move the wrong way, significantly, to be a
  // regression; none: any significant move the wrong way is one.
  std::optional<double> regression_threshold;
};

// What the verdict was drawn from. Values not computed (the verdict came before them) are NaN.
struct Explanation {
  size_t n_baseline = 0;  // samples given, missing ones included
  size_t n_observation = 0;
  size_t missing_baseline = 0;  // NaN or infinite
  size_t missing_observation = 0;
  double median_baseline = std::numeric_limits<double>::quiet_NaN();
  double median_observation = std::numeric_limits<double>::quiet_NaN();
  double hl_shift = std::numeric_limits<double>::quiet_NaN();  // in the metric's unit
  double ci_low = std::numeric_limits<double>::quiet_NaN();    // of hl_shift; may be -inf
  double ci_high = std::numeric_limits<double>::quiet_NaN();   // may be +inf
  // hl_shift / |median_baseline|: the effect size compared with the promise (-0.3 is a 30% fall).
  double relative_change = std::numeric_limits<double>::quiet_NaN();
  double p_value = std::numeric_limits<double>::quiet_NaN();           // promised direction
  double p_value_opposite = std::numeric_limits<double>::quiet_NaN();  // the other direction
  bool exact = false;  // p-values and interval from the exact distribution of U
  std::string reason;  // one line for people
};

struct EffectVerdict {
  Verdict verdict = Verdict::Error;
  Explanation explanation;
};

// Deterministic: the same samples (in any order) and expectation give the same bytes.
EffectVerdict judge_effect(std::span<const double> baseline, std::span<const double> observation,
                           const Expectation& expectation);

// The words of verdict reasons, shared with the check after a rollback (engine_recovery.cc):
// a number written with to_chars (the same bytes in every locale, no "-0"); "<metric> fell 30%
// (95% CI 24%..36%)", or without the metric "did not change (95% CI ...)"; "p = 0.012 < 0.05",
// with enough digits to sit on the side of alpha that was decided.
std::string reason_number(double v, std::chars_format format, int precision);
std::string shift_phrase(const std::string& metric, const Explanation& x, double confidence);
std::string p_phrase(double p, double alpha);

}  // namespace setpoint
