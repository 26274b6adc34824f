// What reaches the engine core from outside a policy evaluation: actuator failures reported by
// the daemon, and an operator's controls (pause, resume, release, approve, reject, roll back,
// emergency stop). Each returns the events it caused, so they are logged and stored like any.
#include <algorithm>
#include <cmath>

#include "interpreter/engine.h"

namespace setpoint {

size_t Engine::policy_index(std::string_view name) const {
  for (size_t p = 0; p < program_.policies.size(); ++p) {
    if (program_.policies[p].name == name) return p;
  }
  return SIZE_MAX;
}

void Engine::forget_knob(std::string_view knob) {
  auto found = knobs_.find(knob);
  if (found != knobs_.end()) knobs_.erase(found);
}

std::vector<Event> Engine::action_failed(uint64_t action, int64_t t_ms, const std::string& error) {
  std::vector<Event> out;
  auto a = std::find_if(applied_.begin(), applied_.end(),
                        [&](const AppliedAction& x) { return x.id == action; });
  if (a == applied_.end() || a->undone) return out;
  a->undone = true;
  // The knob was not changed: what the engine believes must be what is there, and a max step
  // must not count a change that never happened.
  if (!std::isnan(a->before)) set_knob(a->knob, a->before);
  auto history = knob_history_.find(a->knob);
  if (history != knob_history_.end()) {
    std::erase_if(history->second.changes,
                  [&](const DampingChange& c) { return c.action == a->id; });
  }
  Labels instance;
  for (auto v = validations_.begin(); v != validations_.end();) {
    bool mine = std::find(v->knobs.begin(), v->knobs.end(), a->knob) != v->knobs.end() &&
                v->policy == a->policy && v->applied_ms == a->t_ms;
    if (mine) instance = v->instance;
    v = mine ? validations_.erase(v) : std::next(v);
  }
  Event e = make_event(a->policy, instance, t_ms, EventKind::ActionFailed);
  e.knob = a->knob;
  e.from = a->before;
  e.to = a->after;
  e.action = a->id;
  e.reason = error;
  out.push_back(std::move(e));
  // Each actuator that failed is an error of its policy: `quarantine after N errors` stops a
  // policy whose changes keep failing to apply.
  count_outcome(a->policy, Outcome::Error, instance, a->t_ms, a->id, t_ms, out);
  return out;
}

std::vector<Event> Engine::rollback_failed(uint64_t action, int64_t t_ms,
                                           const std::string& error) {
  std::vector<Event> out;
  auto a = std::find_if(applied_.begin(), applied_.end(),
                        [&](const AppliedAction& x) { return x.id == action; });
  if (a == applied_.end()) return out;
  forget_knob(a->knob);
  Event e = make_event(a->policy, {}, t_ms, EventKind::RollbackFailed);
  e.knob = a->knob;
  e.from = a->after;
  e.to = a->before;
  e.action = a->id;
  e.reason = error + "; the knob's value is unknown until it is read again";
  out.push_back(std::move(e));
  return out;
}

std::vector<Event> Engine::pause(std::string_view policy, int64_t t_ms,
                                 std::optional<int64_t> until_ms, std::string* error) {
  std::vector<Event> out;
  Event e;
  e.t_ms = t_ms;
  e.kind = EventKind::Paused;
  if (policy.empty()) {
    paused_until_ = until_ms.value_or(std::numeric_limits<int64_t>::max());
    pause_reason_ = "an operator";
    e.reason = "automatic actions paused by an operator";
  } else {
    size_t p = policy_index(policy);
    if (p == SIZE_MAX) {
      *error = "no policy named " + std::string(policy);
      return out;
    }
    state_[p].paused = true;
    e.policy = program_.policies[p].name;
    e.reason = "paused by an operator";
  }
  out.push_back(std::move(e));
  return out;
}

std::vector<Event> Engine::resume(std::string_view policy, int64_t t_ms, std::string* error) {
  std::vector<Event> out;
  Event e;
  e.t_ms = t_ms;
  e.kind = EventKind::Resumed;
  if (policy.empty()) {
    paused_until_.reset();
    pause_reason_.clear();
    for (PolicyState& st : state_) st.paused = false;
    e.reason = "automatic actions resumed by an operator";
  } else {
    size_t p = policy_index(policy);
    if (p == SIZE_MAX) {
      *error = "no policy named " + std::string(policy);
      return out;
    }
    state_[p].paused = false;
    e.policy = program_.policies[p].name;
    e.reason = "resumed by an operator";
  }
  out.push_back(std::move(e));
  return out;
}

std::vector<Event> Engine::release(std::string_view policy, int64_t t_ms, std::string* error) {
  std::vector<Event> out;
  size_t p = policy_index(policy);
  if (p == SIZE_MAX) {
    *error = "no policy named " + std::string(policy);
    return out;
  }
  if (!state_[p].quarantined) {
    *error = std::string(policy) + " is not quarantined";
    return out;
  }
  PolicyState& st = state_[p];
  st.quarantined = false;
  st.quarantine_reason.clear();
  st.consecutive_failures = st.consecutive_errors = st.inconclusive = 0;
  Event e = make_event(p, {}, t_ms, EventKind::Released);
  e.reason = "released by an operator";
  out.push_back(std::move(e));
  return out;
}

std::vector<Event> Engine::approve(uint64_t proposal, int64_t t_ms, std::string* error) {
  std::vector<Event> out;
  auto found = std::find_if(proposals_.begin(), proposals_.end(),
                            [&](const Proposal& x) { return x.id == proposal; });
  if (found == proposals_.end()) {
    *error = "no proposal " + std::to_string(proposal) + " awaits approval";
    return out;
  }
  Proposal pr = *found;
  proposals_.erase(found);
  size_t p = policy_index(pr.policy);
  if (p == SIZE_MAX) {
    *error = "the policy of proposal " + std::to_string(proposal) + " is gone";
    return out;
  }
  // The knob must be known and free, exactly as for an automatic action.
  for (const auto& [knob, value] : pr.steps) {
    if (!this->knob(knob)) {
      *error = "the current value of knob " + knob + " is unknown";
      proposals_.push_back(pr);
      return out;
    }
    for (const Validation& v : validations_) {
      if (std::find(v.knobs.begin(), v.knobs.end(), knob) != v.knobs.end()) {
        *error =
            "knob " + knob + " is held by the validation of " + program_.policies[v.policy].name;
        proposals_.push_back(pr);
        return out;
      }
    }
  }
  PolicyState& st = state_[p];
  st.last_action_ms = t_ms;
  remember_action_time(p, t_ms);
  std::vector<std::string> knobs;
  uint64_t first = next_action_;
  for (const auto& [knob, value] : pr.steps) {
    apply_step(p, pr.instance, t_ms, knob, value, "approved by an operator", out);
    knobs.push_back(knob);
  }
  const PolicyRules& r = rules_[p];
  if (!r.expects.empty() || !r.rollbacks.empty()) {
    start_validation(p, pr.instance, first, std::move(knobs), pr.since_ms, t_ms);
  }
  return out;
}

std::vector<Event> Engine::reject(uint64_t proposal, int64_t t_ms, std::string* error) {
  std::vector<Event> out;
  auto found = std::find_if(proposals_.begin(), proposals_.end(),
                            [&](const Proposal& x) { return x.id == proposal; });
  if (found == proposals_.end()) {
    *error = "no proposal " + std::to_string(proposal) + " awaits approval";
    return out;
  }
  size_t p = policy_index(found->policy);
  Event e;
  e.t_ms = t_ms;
  e.policy = found->policy;
  e.instance = found->instance;
  e.kind = EventKind::Rejected;
  e.action = found->id;
  e.reason = "rejected by an operator";
  if (p != SIZE_MAX) {
    // Rejected is a decision: the firing does not propose again until it resolves.
    if (Instance* inst = find_instance(p, found->instance)) inst->acted = true;
  }
  proposals_.erase(found);
  out.push_back(std::move(e));
  return out;
}

std::vector<Event> Engine::rollback(uint64_t action, int64_t t_ms, std::string* error) {
  std::vector<Event> out;
  auto a = std::find_if(applied_.begin(), applied_.end(),
                        [&](const AppliedAction& x) { return x.id == action; });
  if (a == applied_.end()) {
    *error = "no action " + std::to_string(action);
    return out;
  }
  if (a->undone) {
    *error = "action " + std::to_string(action) + " was already rolled back";
    return out;
  }
  // An emergency's rollback of another of its knobs came first, and its recovery with it.
  if (const Validation* v = validation_of(a->id)) recover_if_undone(*v);
  a->undone = true;
  change_knob(a->knob, a->before, t_ms, a->id);
  if (const Validation* v = validation_of(a->id)) start_recovery(*v, t_ms);
  Labels instance;
  for (auto v = validations_.begin(); v != validations_.end();) {
    bool mine = v->policy == a->policy && v->applied_ms == a->t_ms;
    if (mine) instance = v->instance;
    v = mine ? validations_.erase(v) : std::next(v);
  }
  Event e = make_event(a->policy, instance, t_ms, EventKind::RolledBack);
  e.knob = a->knob;
  e.from = a->after;
  e.to = a->before;
  e.action = a->id;
  e.reason = "rolled back by an operator";
  out.push_back(std::move(e));
  return out;
}

std::vector<Event> Engine::emergency_stop(int64_t since_ms, int64_t t_ms) {
  std::vector<Event> out;
  for (const Validation& v : validations_) recover_if_undone(v);  // undone before the stop
  for (auto it = applied_.rbegin(); it != applied_.rend(); ++it) {
    if (it->undone || it->t_ms < since_ms) continue;
    it->undone = true;
    if (const Validation* v = validation_of(it->id)) start_recovery(*v, t_ms);
    change_knob(it->knob, it->before, t_ms, it->id);
    Event e = make_event(it->policy, {}, t_ms, EventKind::RolledBack);
    e.knob = it->knob;
    e.from = it->after;
    e.to = it->before;
    e.action = it->id;
    e.reason = "emergency stop by an operator";
    out.push_back(std::move(e));
  }
  validations_.clear();
  paused_until_ = std::numeric_limits<int64_t>::max();
  pause_reason_ = "an operator's emergency stop";
  Event e;
  e.t_ms = t_ms;
  e.kind = EventKind::Paused;
  e.reason = "automatic actions paused by an emergency stop";
  out.push_back(std::move(e));
  return out;
}

}  // namespace setpoint
