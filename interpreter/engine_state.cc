// The engine core's state as plain data, and back: what the daemon stores so that a restart
// neither resets a hold nor acts twice, and what a reload carries from the old policy set to
// the new one, policy by policy, by name.
#include <algorithm>

#include "interpreter/engine.h"

namespace setpoint {

std::vector<NodeId> Engine::baseline_nodes(size_t p) const {
  std::vector<NodeId> out;
  for (NodeId rollback : rules_[p].rollbacks) {
    std::vector<NodeId> stack{rollback};
    while (!stack.empty()) {
      NodeId n = stack.back();
      stack.pop_back();
      for (auto [e, end] = boost::in_edges(n, program_.graph); e != end; ++e) {
        NodeId in = boost::source(*e, program_.graph);
        if (program_.graph[in].kind == NodeKind::Baseline) {
          if (std::find(out.begin(), out.end(), in) == out.end()) out.push_back(in);
        } else if (is_expression(program_.graph[in].kind)) {
          stack.push_back(in);
        }
      }
    }
  }
  return out;
}

EngineState::PolicyState Engine::policy_state(size_t p) const {
  const PolicyState& st = state_[p];
  EngineState::PolicyState ps;
  ps.name = program_.policies[p].name;
  for (const ActiveInstance& a : st.instances) {
    ps.instances.push_back(
        {evaluator_.labels(a.id), a.state.active_since, a.state.firing, a.state.acted});
  }
  // In label order, whatever the ids: the stored state is the same for the same instances.
  std::sort(ps.instances.begin(), ps.instances.end(),
            [](const auto& a, const auto& b) { return a.labels < b.labels; });
  ps.last_action_ms = st.last_action_ms;
  ps.action_times.assign(st.action_times.begin(), st.action_times.end());
  ps.consecutive_failures = st.consecutive_failures;
  ps.consecutive_errors = st.consecutive_errors;
  ps.inconclusive = st.inconclusive;
  ps.quarantined = st.quarantined;
  ps.quarantine_reason = st.quarantine_reason;
  ps.paused = st.paused;
  return ps;
}

// Every field policy_state() reads, in a fixed layout: sizes come before their elements, so
// no two different states give the same words. Ids stand for labels within one generation of
// the label table, which is why the generation comes first.
void Engine::policy_digest(size_t p, std::vector<int64_t>& out) const {
  const PolicyState& st = state_[p];
  out.clear();
  out.push_back(label_generation_);
  out.push_back(static_cast<int64_t>(st.instances.size()));
  for (const ActiveInstance& a : st.instances) {
    out.push_back(static_cast<int64_t>(a.id));
    int64_t since = a.state.active_since;  // a copy: the packed member is not 8-byte aligned
    out.push_back(since);
    out.push_back((a.state.firing ? 1 : 0) | (a.state.acted ? 2 : 0));
  }
  out.push_back(st.last_action_ms.has_value());
  out.push_back(st.last_action_ms.value_or(0));
  out.push_back(static_cast<int64_t>(st.action_times.size()));
  out.insert(out.end(), st.action_times.begin(), st.action_times.end());
  out.push_back(st.consecutive_failures);
  out.push_back(st.consecutive_errors);
  out.push_back(st.inconclusive);
  out.push_back((st.quarantined ? 1 : 0) | (st.paused ? 2 : 0));
  out.push_back(static_cast<int64_t>(st.quarantine_reason.size()));
  for (unsigned char c : st.quarantine_reason) out.push_back(c);
}

EngineState Engine::state() const {
  EngineState s = shared_state();
  for (size_t p = 0; p < state_.size(); ++p) s.policies.push_back(policy_state(p));
  return s;
}

EngineState Engine::shared_state() const {
  EngineState s;
  for (const AppliedAction& a : applied_) {
    Labels instance;
    s.actions.push_back({a.id, program_.policies[a.policy].name, instance, a.t_ms, a.knob, a.before,
                         a.after, a.undone});
  }
  for (const Validation& v : validations_) {
    EngineState::ValidationState vs;
    vs.action = v.action;
    vs.policy = program_.policies[v.policy].name;
    vs.instance = v.instance;
    vs.applied_ms = v.applied_ms;
    vs.since_ms = v.since_ms;
    vs.settle_ms = v.settle_ms;
    vs.end_ms = v.end_ms;
    vs.knobs = v.knobs;
    vs.expect_baselines = v.expect_baselines;
    vs.expect_baseline_series = v.expect_baseline_series;
    vs.error = v.error;
    for (NodeId b : baseline_nodes(v.policy)) {
      auto found = v.baselines.find(b);
      vs.rollback_baselines.push_back(
          found == v.baselines.end() ? std::vector<std::pair<Labels, double>>{} : found->second);
    }
    s.validations.push_back(std::move(vs));
  }
  for (const Recovery& r : recoveries_) {
    s.recoveries.push_back({r.action, program_.policies[r.policy].name, r.instance,
                            r.rolled_back_ms, r.settle_ms, r.end_ms, r.knobs, r.expect_baselines,
                            r.expect_baseline_series});
  }
  s.proposals = proposals_;
  for (const auto& [knob, h] : knob_history_) {
    if (h.recommendations.empty() && h.changes.empty()) continue;
    s.knob_histories.push_back({knob,
                                {h.recommendations.begin(), h.recommendations.end()},
                                {h.changes.begin(), h.changes.end()}});
  }
  s.knobs.insert(knobs_.begin(), knobs_.end());
  s.paused_until = paused_until_;
  s.pause_reason = pause_reason_;
  s.last_eval_ms = last_eval_ms_;
  s.next_action = next_action_;
  return s;
}

void Engine::restore(const EngineState& s, int64_t now_ms) {
  int64_t down_ms = s.last_eval_ms.value_or(now_ms);
  for (const EngineState::PolicyState& ps : s.policies) {
    size_t p = policy_index(ps.name);
    if (p == SIZE_MAX) continue;
    PolicyState& st = state_[p];
    st.instances.clear();
    st.truth_layout = 0;  // the next evaluation merges all of them
    st.last_skip.clear();
    for (const EngineState::InstanceState& is : ps.instances) {
      Instance inst;
      inst.firing = is.firing;
      inst.acted = is.acted;
      // The time held before the outage still counts; the outage itself was not observed.
      int64_t held = std::max<int64_t>(0, down_ms - is.active_since);
      inst.active_since =
          std::clamp(is.firing ? is.active_since : now_ms - held, -kLatestMs, kLatestMs);
      st.instances.push_back({evaluator_.intern(is.labels), inst});
    }
    std::sort(st.instances.begin(), st.instances.end(),
              [](const ActiveInstance& a, const ActiveInstance& b) { return a.id < b.id; });
    st.last_action_ms = ps.last_action_ms;
    st.action_times.assign(ps.action_times.begin(), ps.action_times.end());
    st.consecutive_failures = ps.consecutive_failures;
    st.consecutive_errors = ps.consecutive_errors;
    st.inconclusive = ps.inconclusive;
    st.quarantined = ps.quarantined;
    st.quarantine_reason = ps.quarantine_reason;
    st.paused = ps.paused;
  }
  applied_.clear();
  for (const EngineState::Action& a : s.actions) {
    size_t p = policy_index(a.policy);
    if (p == SIZE_MAX) continue;
    applied_.push_back({a.id, p, a.t_ms, a.knob, a.before, a.after, a.undone});
  }
  validations_.clear();
  for (const EngineState::ValidationState& vs : s.validations) {
    size_t p = policy_index(vs.policy);
    // A validation resumes only if its policy still promises what it promised.
    if (p == SIZE_MAX || vs.expect_baselines.size() != rules_[p].expects.size()) continue;
    std::vector<NodeId> nodes = baseline_nodes(p);
    if (vs.rollback_baselines.size() != nodes.size()) continue;
    Validation v;
    v.action = vs.action;
    v.policy = p;
    v.instance = vs.instance;
    v.applied_ms = vs.applied_ms;
    v.since_ms = vs.since_ms;
    v.settle_ms = vs.settle_ms;
    v.end_ms = vs.end_ms;
    v.knobs = vs.knobs;
    v.expect_baselines = vs.expect_baselines;
    v.expect_baseline_series = vs.expect_baseline_series;
    v.error = vs.error;
    for (size_t k = 0; k < nodes.size(); ++k) v.baselines[nodes[k]] = vs.rollback_baselines[k];
    validations_.push_back(std::move(v));
  }
  recoveries_.clear();
  for (const EngineState::RecoveryState& rs : s.recoveries) {
    size_t p = policy_index(rs.policy);
    // Only the same promises have the same baselines to return to.
    if (p == SIZE_MAX || rs.expect_baselines.size() != rules_[p].expects.size() ||
        rs.expect_baseline_series.size() != rs.expect_baselines.size()) {
      continue;
    }
    recoveries_.push_back({rs.action, p, rs.instance, rs.rolled_back_ms, rs.settle_ms, rs.end_ms,
                           rs.knobs, rs.expect_baselines, rs.expect_baseline_series});
  }
  // An emergency rollback the stored state holds came at its last evaluation.
  validations_checked_ms_ = s.last_eval_ms;
  proposals_.clear();
  for (const EngineState::Proposal& pr : s.proposals) {
    if (policy_index(pr.policy) != SIZE_MAX) proposals_.push_back(pr);
  }
  // The damping history of a knob that is still damped; the next evaluation prunes what its
  // windows, perhaps shorter now, no longer reach.
  knob_history_.clear();
  for (const EngineState::KnobHistoryState& h : s.knob_histories) {
    if (!damping_.count(h.knob)) continue;
    KnobHistory& mine = knob_history_[h.knob];
    mine.recommendations.assign(h.recommendations.begin(), h.recommendations.end());
    mine.changes.assign(h.changes.begin(), h.changes.end());
  }
  for (const auto& [knob, value] : s.knobs) knobs_.insert_or_assign(knob, value);
  paused_until_ = s.paused_until;
  pause_reason_ = s.pause_reason;
  next_action_ = std::max(next_action_, s.next_action);
}

}  // namespace setpoint
