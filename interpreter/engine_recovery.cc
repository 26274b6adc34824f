// The part of the engine core that follows a rollback: once a validated action is undone, do
// the metrics it was expected to move return to where they were before it? Each `expect`'s
// values after the rollback are compared with its baseline (the values before the action, which
// the validation took) by the same rank-sum test that judged the action (effect_verdict.h).
// The rule, its defaults and its reasons are in docs/validation.md ("After a rollback").
#include <algorithm>
#include <charconv>
#include <cmath>

#include "interpreter/effect_verdict.h"
#include "interpreter/engine.h"

namespace setpoint {
namespace {

struct RecoveryVerdict {
  EventKind kind = EventKind::RecoveryUnknown;
  std::string reason;
};

// Recovered unless the values after the rollback are still significantly worse than the
// baseline: the rule by which the validation found a regression (a one-sided rank-sum p below
// alpha in the wrong direction, with a Hodges-Lehmann shift that way), applied to the rollback.
RecoveryVerdict judge_recovery(const std::vector<double>& baseline,
                               const std::vector<double>& after, const Expectation& e) {
  const EffectVerdict v = judge_effect(baseline, after, e);
  const Explanation& x = v.explanation;
  const std::string unknown = "recovery unknown: " + e.metric;
  if (x.missing_baseline > 0 || x.missing_observation > 0) {
    std::string s = unknown + " is missing ";
    if (x.missing_baseline > 0) {
      s += std::to_string(x.missing_baseline) + " of " + std::to_string(x.n_baseline) +
           " samples before the action";
    }
    if (x.missing_baseline > 0 && x.missing_observation > 0) s += " and ";
    if (x.missing_observation > 0) {
      s += std::to_string(x.missing_observation) + " of " + std::to_string(x.n_observation) +
           " samples after the rollback";
    }
    return {EventKind::RecoveryUnknown,
            s + " (absent, NaN or infinite): missing data never confirms"};
  }
  if (x.n_baseline < e.min_samples || x.n_observation < e.min_samples) {
    return {EventKind::RecoveryUnknown,
            unknown + " has " + std::to_string(x.n_baseline) + " samples before the action and " +
                std::to_string(x.n_observation) + " after the rollback, fewer than " +
                std::to_string(e.min_samples) + " on a side"};
  }
  if (v.verdict == Verdict::Error) {
    if (x.median_baseline == 0) {
      return {EventKind::RecoveryUnknown,
              unknown + " has a baseline median of 0, so no relative change is defined"};
    }
    return {EventKind::RecoveryUnknown, "recovery unknown: " + x.reason};
  }
  const bool decreases = e.direction == Direction::Decreases;
  const char* worse = decreases ? "higher" : "lower";
  // The p-value of a move the wrong way, whichever way the verdict turned.
  const double p_worse = x.p_value_opposite;
  const std::string measured = e.metric + " after the rollback: median " +
                               reason_number(x.median_observation, std::chars_format::general, 4) +
                               " (" + std::to_string(x.n_observation) + " samples) against " +
                               reason_number(x.median_baseline, std::chars_format::general, 4) +
                               " (" + std::to_string(x.n_baseline) +
                               " samples) before the action, " + shift_phrase("", x, e.confidence) +
                               ", " + p_phrase(p_worse, e.alpha);
  if (v.verdict == Verdict::Regressed) {
    return {EventKind::NotRecovered,
            measured + ": not recovered, still significantly " + worse + " than before the action"};
  }
  if (p_worse < e.alpha) {
    // Heavy ties: the ranks moved the wrong way, the median difference did not.
    return {EventKind::Recovered, measured + ": recovered, no median shift from before the action"};
  }
  return {EventKind::Recovered,
          measured + ": recovered, not significantly " + worse + " than before the action"};
}

}  // namespace

const Engine::Validation* Engine::validation_of(uint64_t id) const {
  for (const Validation& v : validations_) {
    if (id >= v.action && id < v.action + v.knobs.size()) return &v;
  }
  return nullptr;
}

void Engine::start_recovery(const Validation& v, int64_t t_ms) {
  // Only an `expect` has values before the action to return to; a rollback condition's
  // `baseline` is kept as one median, and a condition that stopped holding shows nothing.
  if (rules_[v.policy].expects.empty()) return;
  for (const Recovery& r : recoveries_) {
    if (r.action == v.action) return;
  }
  Recovery r;
  r.action = v.action;
  r.policy = v.policy;
  r.instance = v.instance;
  r.rolled_back_ms = t_ms;
  // The validation's settle delay and observation window, measured from the rollback.
  r.settle_ms = t_ms + (v.settle_ms - v.applied_ms);
  r.end_ms = t_ms + (v.end_ms - v.applied_ms);
  r.knobs = v.knobs;
  r.expect_baselines = v.expect_baselines;
  r.expect_baseline_series = v.expect_baseline_series;
  recoveries_.push_back(std::move(r));
}

void Engine::recover_if_undone(const Validation& v) {
  for (const AppliedAction& a : applied_) {
    if (a.undone && a.id >= v.action && a.id < v.action + v.knobs.size()) {
      start_recovery(v, validations_checked_ms_.value_or(v.applied_ms));
      return;
    }
  }
}

void Engine::check_recoveries(int64_t t_ms, std::vector<Event>& out) {
  std::vector<Recovery> still;
  for (Recovery& rec : recoveries_) {
    if (t_ms < rec.end_ms) {
      still.push_back(std::move(rec));
      continue;
    }
    const PolicyRules& r = rules_[rec.policy];
    // A knob set again after the rollback makes the metric that change's doing, not the
    // rollback's. A rollback comes before any action of its evaluation: checks and emergencies
    // go first.
    std::string changed;
    for (const AppliedAction& a : applied_) {
      if (a.t_ms < rec.rolled_back_ms || a.t_ms > rec.end_ms) continue;
      if (a.id >= rec.action && a.id < rec.action + rec.knobs.size()) continue;  // its own
      if (std::find(rec.knobs.begin(), rec.knobs.end(), a.knob) == rec.knobs.end()) continue;
      changed = a.knob + " was set again after the rollback (action " + std::to_string(a.id) + ")";
      break;
    }
    for (size_t k = 0; k < r.expects.size(); ++k) {
      const PolicyRules::Expect& x = r.expects[k];
      size_t found = 0;
      std::vector<double> after = window(x.expr, rec.instance, rec.settle_ms, rec.end_ms, &found);
      Expectation e = expectation(x);
      RecoveryVerdict verdict;
      const History& h = history_.at(x.expr);
      if (!changed.empty()) {
        verdict.reason = "recovery unknown: " + changed + ", so " + x.name +
                         " no longer shows what the rollback did";
      } else if (rec.expect_baseline_series[k] > 1 || found > 1) {
        verdict.reason = "recovery unknown: " + x.name +
                         " has several series for this instance: it cannot be measured";
      } else if (h.failed_ms > rec.rolled_back_ms) {
        verdict.reason = "recovery unknown: " + x.name + " could not be evaluated: " + h.failure;
      } else {
        verdict = judge_recovery(rec.expect_baselines[k], after, e);
      }
      Event ev = make_event(rec.policy, rec.instance, t_ms, verdict.kind);
      ev.action = rec.action;
      ev.reason = std::move(verdict.reason);
      out.push_back(std::move(ev));
    }
  }
  recoveries_ = std::move(still);
}

}  // namespace setpoint
