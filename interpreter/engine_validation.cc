// The part of the engine core that proves or undoes an action: it keeps recent values of every
// expected effect and baseline expression, measures the observation window after an action
// against the window before it (interpreter/effect_verdict.h), checks rollback conditions with
// `baseline` bound to the values before the action, and restores the knobs when they fail; and
// it counts each policy's outcomes against the limits of its `quarantine` (docs/validation.md).
#include <algorithm>
#include <cmath>

#include "interpreter/effect_verdict.h"
#include "interpreter/engine.h"

namespace setpoint {
namespace {

double median(std::vector<double> v) {
  std::erase_if(v, [](double x) { return std::isnan(x); });
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// "1 failed validation", "3 failed validations".
std::string validations_text(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

// Records this evaluation's value of every tracked expression, per label set. A label set seen
// before but absent now gets NaN: missing data is counted as missing, never skipped over. An
// expression Prometheus would refuse now is missing too, and remembered as an evaluation error.
void Engine::track(int64_t t_ms) {
  // The label sets present now, without __name__, as the evaluator's own labels (they stay
  // where they are while its table grows): sorted, so that one walk along each history's
  // series, which a map keeps in the same order, finds what is present and what is missing.
  std::vector<std::pair<const Labels*, double>>& now = tracked_now_;
  for (auto& [node, h] : history_) {
    const Value* value = nullptr;
    try {
      value = &evaluator_.value(node);
    } catch (const EvalError& e) {
      h.failed_ms = t_ms;
      h.failure = e.what();
    }
    now.clear();
    if (!value) {
      // Nothing is recorded: every known label set gets NaN below.
    } else if (value->type == ValueType::Scalar) {
      now.push_back({&labels(evaluator_.intern(Labels{})), value->scalar});
    } else {
      for (const VectorSample& s : value->vector) {
        now.push_back({&labels(evaluator_.without_name(s.labels)), s.value});
      }
    }
    h.times.push_back(t_ms);
    while (h.times.front() <= t_ms - h.keep_ms) h.times.pop_front();
    if (value && track_as_before(h, *value, t_ms)) continue;
    // Of two samples with the same labels the later one counts, as a map assignment would.
    std::stable_sort(now.begin(), now.end(),
                     [](const auto& x, const auto& y) { return *x.first < *y.first; });
    auto it = h.series.begin();
    for (size_t i = 0; i < now.size(); ++i) {
      if (i + 1 < now.size() && *now[i + 1].first == *now[i].first) continue;
      const Labels& l = *now[i].first;
      while (it != h.series.end() && it->first < l) it = age(h, it, t_ms, NAN);
      if (it == h.series.end() || l < it->first) it = h.series.emplace_hint(it, l, TrackedSeries{});
      it = age(h, it, t_ms, now[i].second);
    }
    while (it != h.series.end()) it = age(h, it, t_ms, NAN);
    remember_order(h, value);
  }
}

// The fast path of track(): the same label sets as at the last evaluation, in the same order,
// and no other series kept (none is missing). False, with nothing recorded, otherwise.
bool Engine::track_as_before(History& h, const Value& value, int64_t t_ms) {
  if (value.type != ValueType::Vector || h.last_ids_generation != label_generation_ ||
      value.vector.size() != h.last_ids.size() || h.series.size() != h.last_ids.size()) {
    return false;
  }
  for (size_t i = 0; i < value.vector.size(); ++i) {
    if (evaluator_.without_name(value.vector[i].labels) != h.last_ids[i]) return false;
  }
  bool forgotten = false;
  for (size_t i = 0; i < value.vector.size(); ++i) {
    TrackedSeries& s = *h.last_series[i];
    double v = value.vector[i].value;
    s.values.push_back(v);
    if (!std::isnan(v)) s.last_value_ms = t_ms;
    while (s.values.size() > h.times.size()) s.values.pop_front();
    forgotten |= s.last_value_ms <= t_ms - h.keep_ms;  // NaN for as long as it keeps
  }
  if (forgotten) {
    std::erase_if(h.series, [&](const auto& entry) {
      return entry.second.last_value_ms <= t_ms - h.keep_ms;
    });
    h.last_ids_generation = -1;  // pointers into what was erased
  }
  return true;
}

// After the slow path: the order of this evaluation's label sets, for track_as_before().
void Engine::remember_order(History& h, const Value* value) {
  h.last_ids_generation = -1;
  h.last_ids.clear();
  h.last_series.clear();
  if (!value || value->type != ValueType::Vector || value->vector.size() != h.series.size()) {
    return;  // a series missing, a duplicate, a scalar or a failure: the slow path again
  }
  for (const VectorSample& s : value->vector) {
    LabelSetId id = evaluator_.without_name(s.labels);
    auto found = h.series.find(labels(id));
    if (found == h.series.end()) return;
    h.last_ids.push_back(id);
    h.last_series.push_back(&found->second);
  }
  // As many samples as series, each found: a bijection unless two samples share labels (and
  // a series is missing).
  std::vector<TrackedSeries*> distinct = h.last_series;
  std::sort(distinct.begin(), distinct.end());
  if (std::adjacent_find(distinct.begin(), distinct.end()) != distinct.end()) return;
  h.last_ids_generation = label_generation_;
}

// One tracked series after an evaluation: its value (NaN when it was missing) added, values
// older than the history keeps dropped, and the series forgotten once nothing but NaN is left.
// Returns the next series.
std::map<Labels, Engine::TrackedSeries>::iterator Engine::age(
    History& h, std::map<Labels, TrackedSeries>::iterator it, int64_t t_ms, double value) {
  TrackedSeries& s = it->second;
  s.values.push_back(value);
  if (!std::isnan(value)) s.last_value_ms = t_ms;
  while (s.values.size() > h.times.size()) s.values.pop_front();
  return s.last_value_ms <= t_ms - h.keep_ms ? h.series.erase(it) : std::next(it);
}

// The values of a tracked expression for one instance with from < t <= to. *series_found is
// how many of its label sets fit the instance: only exactly one can be measured.
std::vector<double> Engine::window(NodeId expr, const Labels& instance, int64_t from_ms,
                                   int64_t to_ms, size_t* series_found,
                                   const Validation* baseline_of) const {
  std::vector<double> out;
  *series_found = 0;
  const History& h = history_.at(expr);
  const TrackedSeries* match = nullptr;
  for (const auto& [l, s] : h.series) {
    if (!labels_compatible(l, instance)) continue;
    ++*series_found;
    match = &s;
  }
  if (*series_found != 1) return out;
  if (baseline_of) return baseline_window(h, *match, *baseline_of);
  for (size_t i = 0; i < match->values.size(); ++i) {
    int64_t t = h.time_of(*match, i);
    if (t > from_ms && t <= to_ms) out.push_back(match->values[i]);
  }
  return out;
}

// The values before the action that it is measured against: those since the trigger began to
// hold (the state the action was meant to change, not the healthy time before the incident),
// within `within` of the action; at least the last min_samples of them when the hold was short.
std::vector<double> Engine::baseline_window(const History& h, const TrackedSeries& series,
                                            const Validation& v) const {
  int64_t within = seconds_to_ms(rules_[v.policy].within_seconds);
  std::vector<double> all, since;
  for (size_t i = 0; i < series.values.size(); ++i) {
    int64_t t = h.time_of(series, i);
    if (t <= v.applied_ms - within || t > v.applied_ms) continue;
    all.push_back(series.values[i]);
    if (t >= v.since_ms) since.push_back(series.values[i]);
  }
  if (since.size() >= options_.min_samples) return since;
  size_t keep = std::min(all.size(), options_.min_samples);
  return std::vector<double>(all.end() - static_cast<std::ptrdiff_t>(keep), all.end());
}

void Engine::start_validation(size_t p, const Labels& instance, uint64_t action,
                              std::vector<std::string> knobs, int64_t since_ms, int64_t t_ms) {
  const PolicyRules& r = rules_[p];
  Validation v;
  v.action = action;
  v.policy = p;
  v.instance = instance;
  v.applied_ms = t_ms;
  v.since_ms = since_ms;
  int64_t within = seconds_to_ms(r.within_seconds);
  // Observation starts once the change has settled and the expectation's own windows no longer
  // reach back before the action.
  int64_t settle = std::max(static_cast<int64_t>(std::llround(within * options_.settle_fraction)),
                            seconds_to_ms(r.lookback_seconds));
  v.settle_ms = t_ms + settle;
  v.end_ms = t_ms + within;
  v.knobs = std::move(knobs);
  // Each expectation's baseline is taken now, so a validation resumed after a restart (whose
  // history starts over) still compares against the state that was acted on.
  for (const PolicyRules::Expect& x : r.expects) {
    size_t found = 0;
    v.expect_baselines.push_back(window(x.expr, instance, 0, 0, &found, &v));
    v.expect_baseline_series.push_back(found);
  }
  // `baseline` is the median of its expression over the window before the action, per series.
  for (NodeId rollback : r.rollbacks) {
    std::vector<NodeId> stack{rollback};
    while (!stack.empty()) {
      NodeId n = stack.back();
      stack.pop_back();
      for (auto [e, end] = boost::in_edges(n, program_.graph); e != end; ++e) {
        NodeId in = boost::source(*e, program_.graph);
        if (program_.graph[in].kind == NodeKind::Baseline) {
          NodeId expr = boost::source(*boost::in_edges(in, program_.graph).first, program_.graph);
          std::vector<std::pair<Labels, double>>& values = v.baselines[in];
          const History& h = history_.at(expr);
          for (const auto& [l, series] : h.series) {
            double m = median(baseline_window(h, series, v));
            if (!std::isnan(m)) values.emplace_back(l, m);
          }
        } else if (is_expression(program_.graph[in].kind)) {
          stack.push_back(in);
        }
      }
    }
  }
  validations_.push_back(std::move(v));
}

// What judge_effect() is asked about one `expect`, with the engine's alpha and minimum samples.
Expectation Engine::expectation(const PolicyRules::Expect& x) const {
  Expectation e;
  e.metric = x.name;
  e.direction = x.direction;
  e.promised = x.promised;
  e.alpha = options_.alpha;
  e.min_samples = options_.min_samples;
  return e;
}

std::vector<std::pair<uint64_t, size_t>> Engine::validating() const {
  std::vector<std::pair<uint64_t, size_t>> out;
  for (const Validation& v : validations_) out.push_back({v.action, v.policy});
  return out;
}

// Whether policy p may not start a validation now because one it must be kept apart from runs.
std::string Engine::validation_conflict(size_t p) const {
  for (const Validation& v : validations_) {
    for (auto [a, b] : program_.validation_exclusions) {
      if ((a == p && b == v.policy) || (b == p && a == v.policy)) {
        return "validation isolation: " + program_.policies[v.policy].name +
               " is being validated on the same metrics";
      }
    }
  }
  return {};
}

void Engine::undo(size_t index, int64_t t_ms, const std::string& reason, std::vector<Event>& out) {
  const Validation& v = validations_[index];
  undo_actions(v.policy, v.applied_ms, v.instance, t_ms, reason, out);
}

void Engine::undo_actions(size_t p, int64_t applied_ms, const Labels& instance, int64_t t_ms,
                          const std::string& reason, std::vector<Event>& out) {
  std::vector<uint64_t> undone;
  for (auto it = applied_.rbegin(); it != applied_.rend(); ++it) {
    if (it->undone || it->policy != p || it->t_ms != applied_ms) continue;
    it->undone = true;
    undone.push_back(it->id);
    change_knob(it->knob, it->before, t_ms, it->id);
    Event e = make_event(p, instance, t_ms, EventKind::RolledBack);
    e.knob = it->knob;
    e.from = it->after;
    e.to = it->before;
    e.action = it->id;
    e.reason = reason;
    out.push_back(std::move(e));
  }
  // Each undone action whose validation is in progress has baselines to return to.
  for (uint64_t id : undone) {
    if (const Validation* v = validation_of(id)) start_recovery(*v, t_ms);
  }
}

// Failures and inconclusive results count since the last confirmed validation; errors count
// while nothing is measured, so any verdict ends a run of them (as Argo's consecutive errors).
void Engine::count_outcome(size_t p, Outcome outcome, const Labels& instance, int64_t applied_ms,
                           uint64_t action, int64_t t_ms, std::vector<Event>& out) {
  PolicyState& st = state_[p];
  const PolicyRules& r = rules_[p];
  int count = 0, limit = 0;
  std::string what;
  switch (outcome) {
    case Outcome::Confirmed:
      st.consecutive_failures = st.consecutive_errors = st.inconclusive = 0;
      return;
    case Outcome::Failed:
      st.consecutive_errors = 0;
      count = ++st.consecutive_failures;
      limit = r.failure_limit;
      what = validations_text(count, "failed validation", "failed validations");
      break;
    case Outcome::Inconclusive:
      st.consecutive_errors = 0;
      count = ++st.inconclusive;
      limit = r.inconclusive_limit;
      what = validations_text(count, "inconclusive validation", "inconclusive validations");
      break;
    case Outcome::Error:
      count = ++st.consecutive_errors;
      limit = r.error_limit;
      what = validations_text(count, "validation error", "validation errors");
      break;
  }
  if (limit == 0 || count < limit || st.quarantined) return;
  std::string reason = what + ": the limit of " + std::to_string(limit) + " is exhausted";
  if (r.rollback_at_limit) undo_actions(p, applied_ms, instance, t_ms, reason, out);
  st.quarantined = true;
  st.quarantine_reason = reason;
  Event e = make_event(p, instance, t_ms, EventKind::Quarantined);
  e.action = action;
  e.reason = reason;
  out.push_back(std::move(e));
}

void Engine::check_validations(int64_t t_ms, std::vector<Event>& out) {
  // Which validations go on. They stay in place until the end: an undo may start the recovery
  // check of any of them (undo_actions), which copies its baselines.
  std::vector<bool> keep(validations_.size(), false);
  for (size_t i = 0; i < validations_.size(); ++i) {
    Validation& v = validations_[i];
    const PolicyPlan& plan = program_.policies[v.policy];
    const PolicyRules& r = rules_[v.policy];
    auto undone = std::find_if(applied_.begin(), applied_.end(),
                               [&](const AppliedAction& a) { return a.id == v.action; });
    if (undone != applied_.end() && undone->undone) {
      recover_if_undone(v);  // an emergency got there first, at the last evaluation
      continue;
    }
    auto event = [&](EventKind kind, std::string reason, bool error = false) {
      Event e = make_event(v.policy, v.instance, t_ms, kind);
      e.action = v.action;
      e.reason = std::move(reason);
      e.error = error;
      out.push_back(std::move(e));
    };
    auto outcome = [&](Outcome o) {
      count_outcome(v.policy, o, v.instance, v.applied_ms, v.action, t_ms, out);
    };

    // A rollback condition, with `baseline` bound to this action's values before it.
    bool rolled_back = false;
    rollback_evaluator_.at(t_ms);
    rollback_evaluator_.baseline_value = [&](NodeId b) {
      auto found = v.baselines.find(b);
      return found == v.baselines.end() ? std::vector<std::pair<Labels, double>>{} : found->second;
    };
    for (NodeId rollback : r.rollbacks) {
      NodeId cond = boost::source(*boost::in_edges(rollback, program_.graph).first, program_.graph);
      bool holds = false;
      try {
        const Value& c = rollback_evaluator_.value(cond);
        holds = c.type == ValueType::Scalar
                    ? c.scalar != 0 && !std::isnan(c.scalar)
                    : std::any_of(c.vector.begin(), c.vector.end(), [&](const VectorSample& s) {
                        return labels_compatible(rollback_evaluator_.labels(s.labels), v.instance);
                      });
      } catch (const EvalError& e) {
        // A condition that cannot be checked is no reason to undo, but the validation can no
        // longer say the action was safe: it ends in an error.
        if (v.error.empty()) v.error = std::string("evaluation failed: ") + e.what();
      }
      if (!holds) continue;
      std::string text(modules_[plan.module].file->slice(program_.graph[rollback].span));
      undo(i, t_ms, "rollback condition held: " + text, out);
      outcome(Outcome::Failed);
      rolled_back = true;
      break;
    }
    if (rolled_back) continue;
    if (t_ms < v.end_ms) {
      keep[i] = true;
      continue;
    }

    // The verdict: every expectation must be confirmed; one regression undoes the action. An
    // expectation that cannot be measured is reported as inconclusive and counted as an error.
    bool regressed = false, error = false, inconclusive = false;
    for (size_t k = 0; k < r.expects.size(); ++k) {
      const PolicyRules::Expect& x = r.expects[k];
      size_t found_base = v.expect_baseline_series[k], found_obs = 0;
      const std::vector<double>& base = v.expect_baselines[k];
      std::vector<double> obs = window(x.expr, v.instance, v.settle_ms, v.end_ms, &found_obs);
      Expectation e = expectation(x);
      EffectVerdict verdict = judge_effect(base, obs, e);
      std::string reason = verdict.explanation.reason;
      bool cannot = verdict.verdict == Verdict::Error;
      if (found_base > 1 || found_obs > 1) {
        cannot = true;
        reason = x.name + " has several series for this instance: it cannot be measured";
      } else if (const History& h = history_.at(x.expr); h.failed_ms > v.applied_ms) {
        cannot = true;
        reason = x.name + " could not be evaluated: " + h.failure;
      }
      if (cannot) verdict.verdict = Verdict::Inconclusive;
      EventKind kind = verdict.verdict == Verdict::Confirmed   ? EventKind::Confirmed
                       : verdict.verdict == Verdict::Regressed ? EventKind::Regressed
                                                               : EventKind::Inconclusive;
      event(kind, reason, cannot);
      regressed |= verdict.verdict == Verdict::Regressed;
      error |= cannot;
      inconclusive |= verdict.verdict == Verdict::Inconclusive && !cannot;
    }
    if (!regressed && !v.error.empty()) {
      event(EventKind::Inconclusive, v.error, true);
      error = true;
    }
    if (regressed) {
      undo(i, t_ms, "validation regressed", out);
      outcome(Outcome::Failed);
      continue;
    }
    // `on inconclusive rollback`: a change not shown to help is undone, but it did no harm
    // either, so it counts as inconclusive (or as an error), never as a failure.
    if ((error || inconclusive) && r.rollback_inconclusive) {
      undo(i, t_ms, "validation inconclusive", out);
    }
    outcome(error ? Outcome::Error : inconclusive ? Outcome::Inconclusive : Outcome::Confirmed);
  }
  rollback_evaluator_.baseline_value = nullptr;  // it pointed into the validation just checked
  std::vector<Validation> still;
  for (size_t i = 0; i < validations_.size(); ++i) {
    if (keep[i]) still.push_back(std::move(validations_[i]));
  }
  validations_ = std::move(still);
  check_recoveries(t_ms, out);
  validations_checked_ms_ = t_ms;
}

}  // namespace setpoint
