// The policy state machine. Per policy, one instance per label set of its trigger, with
// Prometheus' `for` semantics: pending from the first evaluation the trigger holds, firing once
// it has held at every evaluation for the whole duration, reset by any evaluation where it does
// not hold or has no data. A firing instance acts once, when nothing stands in its way, with the
// values it sets damped as their knobs declare (knob_damping.h).
#include "interpreter/engine.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <queue>
#include <set>

namespace setpoint {
namespace {

std::string duration_text(double seconds) {
  char buffer[32];
  if (seconds >= 3600 && std::fmod(seconds, 3600) == 0) {
    std::snprintf(buffer, sizeof buffer, "%gh", seconds / 3600);
  } else if (seconds >= 60 && std::fmod(seconds, 60) == 0) {
    std::snprintf(buffer, sizeof buffer, "%gm", seconds / 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%gs", seconds);
  }
  return buffer;
}

}  // namespace

Engine::Engine(const std::vector<Module>& modules, const CheckedProgram& checked,
               const Program& program, const WindowStore& store, EngineOptions options)
    : modules_(modules),
      checked_(checked),
      program_(program),
      options_(options),
      evaluator_(modules, program, store, options.eval),
      rollback_evaluator_(modules, program, store, options.eval) {
  evaluator_.knob_value = [this](std::string_view name) { return knob(name); };
  rollback_evaluator_.knob_value = evaluator_.knob_value;
  for (const PolicyPlan& plan : program.policies) {
    rules_.push_back(read_rules(plan));
    PolicyRules& r = rules_.back();
    if (r.hold_seconds > 0) r.pending_reason = "for " + duration_text(r.hold_seconds);
  }
  // Expected effects and baseline expressions are tracked from the start, so the window before
  // an action is there when the action comes. Each keeps one `within` and a minute: a
  // validation copies its baselines when it starts, and its observation, (settle, end], lies
  // within `within` of its end, as a recovery check's does; the minute covers a check that
  // comes late. Two windows kept for every series cost 8 MB more in a daemon of 7,000.
  auto keep = [&](NodeId expr, double within_seconds) {
    History& h = history_[expr];
    h.keep_ms = std::max(h.keep_ms, seconds_to_ms(within_seconds) + 60'000);
  };
  for (const PolicyRules& r : rules_) {
    for (const PolicyRules::Expect& x : r.expects) keep(x.expr, r.within_seconds);
    for (NodeId rollback : r.rollbacks) {
      std::vector<NodeId> stack{rollback};
      while (!stack.empty()) {
        NodeId n = stack.back();
        stack.pop_back();
        for (auto [e, end] = boost::in_edges(n, program.graph); e != end; ++e) {
          NodeId in = boost::source(*e, program.graph);
          if (program.graph[in].kind == NodeKind::Baseline) {
            keep(boost::source(*boost::in_edges(in, program.graph).first, program.graph),
                 r.within_seconds);
          } else if (is_expression(program.graph[in].kind)) {
            stack.push_back(in);
          }
        }
      }
    }
  }
  state_.resize(program.policies.size());
  order_ = policy_order();
  for (const KnobInfo& k : checked.knobs) {
    if (k.damping.any()) damping_.emplace(std::string(k.name), k.damping);
  }
}

void Engine::set_knob(std::string_view knob, double value) {
  knobs_.insert_or_assign(std::string(knob), value);
}

std::optional<double> Engine::knob(std::string_view knob) const {
  auto found = knobs_.find(knob);
  if (found == knobs_.end()) return std::nullopt;
  return found->second;
}

PolicyRules Engine::read_rules(const PolicyPlan& plan) const {
  PolicyRules r;
  const Module& mod = modules_[plan.module];
  auto apply = [&](const Clause& c) {
    switch (c.kind) {
      case ClauseKind::Mode:
        r.mode = c.mode;
        break;
      case ClauseKind::Trigger:
        r.hold_seconds = c.duration.present ? c.duration.seconds : 0;
        break;
      case ClauseKind::Cooldown:
        r.cooldown_seconds = c.duration.seconds;
        break;
      case ClauseKind::Limit:
        r.limit_count = static_cast<int>(c.number);
        r.limit_seconds = c.duration.seconds;
        break;
      case ClauseKind::Quarantine:
        if (c.verdict_rule == VerdictRule::OnInconclusive) {
          r.rollback_inconclusive = c.rollback;
          break;
        }
        r.failure_limit = r.error_limit = r.inconclusive_limit = 0;
        r.rollback_at_limit = c.rollback;
        for (const ValidationLimit& l : c.limits) {
          int& limit = l.kind == LimitKind::Failures ? r.failure_limit
                       : l.kind == LimitKind::Errors ? r.error_limit
                                                     : r.inconclusive_limit;
          limit = static_cast<int>(l.count);
        }
        break;
      case ClauseKind::Pause:
        r.pause_seconds = c.duration.seconds;
        break;
      case ClauseKind::During: {
        TimeWindowResult w = parse_time_window(c.string_value);
        if (w.ok) r.during.push_back(w.window);  // the checker refused any that is not
        break;
      }
      default:
        break;
    }
  };
  // The file's defaults first, so the policy's own clauses take precedence.
  if (!plan.emergency) {
    for (const Item& it : mod.items) {
      if (it.kind != ItemKind::Defaults) continue;
      for (const Clause& c : it.clauses) apply(c);
    }
  }
  for (const Clause& c : mod.items[plan.item].clauses) apply(c);
  if (options_.dry_run && r.mode == Mode::Auto) r.mode = Mode::DryRun;
  // Expectations in the order written, which is the order of the plan's expectation nodes.
  size_t k = 0;
  for (const Clause& c : mod.items[plan.item].clauses) {
    if (c.kind != ClauseKind::Expect || k >= plan.expectations.size()) continue;
    PolicyRules::Expect x;
    NodeId node = plan.expectations[k++];
    x.expr = boost::source(*boost::in_edges(node, program_.graph).first, program_.graph);
    const Expr& e = mod.expr(c.expr);
    x.name = std::string(e.kind == ExprKind::Name ? e.text : mod.file->slice(e.span));
    x.direction = c.direction;
    x.promised = c.number;
    x.within_seconds = c.duration.seconds;
    r.within_seconds = std::max(r.within_seconds, x.within_seconds);
    r.lookback_seconds = std::max(r.lookback_seconds, lookback_seconds(x.expr));
    r.expects.push_back(std::move(x));
  }
  r.rollbacks = plan.rollbacks;
  // Without an `expect`, rollback conditions are watched (and baselines measured) over 10m.
  if (r.within_seconds == 0) r.within_seconds = 600;
  return r;
}

double Engine::lookback_seconds(NodeId n) const {
  const GraphNode& g = program_.graph[n];
  double own = 0;
  if (g.kind == NodeKind::Range || g.kind == NodeKind::Subquery || g.kind == NodeKind::Offset) {
    own = std::max(0.0, modules_[g.module].expr(g.expr).number);
  }
  double inputs = 0;
  for (NodeId in : node_inputs(program_, n)) inputs = std::max(inputs, lookback_seconds(in));
  return own + inputs;
}

// Emergencies first; then policies by priority, highest first, but never before a policy
// they are ordered `after`; ties in the order the files define them.
std::vector<size_t> Engine::policy_order() const {
  const auto& plans = program_.policies;
  std::vector<size_t> waiting(plans.size(), 0);
  std::vector<std::vector<size_t>> followers(plans.size());
  for (size_t i = 0; i < plans.size(); ++i) {
    for (size_t j : plans[i].after) {
      ++waiting[i];
      followers[j].push_back(i);
    }
  }
  auto later = [&](size_t a, size_t b) {
    if (plans[a].emergency != plans[b].emergency) return plans[b].emergency;
    if (plans[a].priority != plans[b].priority) return plans[a].priority < plans[b].priority;
    return a > b;
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> ready(later);
  for (size_t i = 0; i < plans.size(); ++i) {
    if (waiting[i] == 0) ready.push(i);
  }
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t f : followers[i]) {
      if (--waiting[f] == 0) ready.push(f);
    }
  }
  return order;
}

bool Engine::holds_for(NodeId condition, const Labels& instance) {
  const Value& v = evaluator_.value(condition);
  if (v.type == ValueType::Scalar) return v.scalar != 0 && !std::isnan(v.scalar);
  return std::any_of(v.vector.begin(), v.vector.end(), [&](const VectorSample& s) {
    return labels_compatible(labels(s.labels), instance);
  });
}

std::vector<Event> Engine::evaluate(int64_t t_ms) {
  std::vector<Event> all;
  evaluate(t_ms, [&all](Event&& e) { all.push_back(std::move(e)); });
  return all;
}

void Engine::evaluate(int64_t t_ms, const std::function<void(Event&&)>& sink) {
  if (last_eval_ms_ && t_ms <= *last_eval_ms_) return;  // time only moves forward
  if (t_ms > kLatestMs || t_ms < -kLatestMs) return;    // no instance could hold the time
  last_eval_ms_ = t_ms;
  if (evaluator_.label_sets() > options_.eval.max_label_sets) forget_labels();
  evaluator_.at(t_ms);
  knob_actor_.clear();
  for (const auto& [knob, d] : damping_) prune_history(knob_history_[knob], d, t_ms);
  track(t_ms);
  std::vector<Event>& out = pending_events_;
  auto flush = [&] {
    for (Event& e : out) sink(std::move(e));
    out.clear();
  };
  out.clear();
  check_validations(t_ms, out);
  flush();
  for (size_t p : order_) {
    try {
      evaluate_policy(p, t_ms, out);
    } catch (const EvalError& e) {
      // A query Prometheus would refuse (many-to-many matching...) is no reason to act.
      Event ev;
      ev.t_ms = t_ms;
      ev.policy = program_.policies[p].name;
      ev.kind = EventKind::Skipped;
      ev.reason = std::string("evaluation failed: ") + e.what();
      out.push_back(std::move(ev));
    }
    flush();
  }
  record_status_quo(t_ms);
}

void Engine::evaluate_policy(size_t p, int64_t t_ms, std::vector<Event>& out) {
  const PolicyPlan& plan = program_.policies[p];
  PolicyState& st = state_[p];
  const PolicyRules& r = rules_[p];
  auto event = [&](SharedLabels instance, EventKind kind, std::string reason = {}) {
    Event e;
    e.t_ms = t_ms;
    e.policy = plan.name;
    e.instance = std::move(instance);
    e.kind = kind;
    e.reason = std::move(reason);
    out.push_back(std::move(e));
  };
  NodeId condition =
      boost::source(*boost::in_edges(plan.trigger, program_.graph).first, program_.graph);
  int64_t hold = seconds_to_ms(r.hold_seconds);
  std::vector<ActiveInstance>& gone = gone_instances_;
  std::vector<std::pair<size_t, bool>>& notable = notable_;  // index in instances, fresh
  gone.clear();
  notable.clear();
  // Until this evaluation is over, the bits kept from the last one do not describe the
  // instances (an exception may end it half-way).
  uint64_t last_layout = std::exchange(st.truth_layout, 0);
  Evaluator::Truth truth;
  bool masked = evaluator_.truth(condition, truth_now_, truth);
  bool incremental = masked && truth.unique && truth.layout == last_layout;
  if (incremental) {
    changes_from_bits(p, t_ms, hold, *truth.ids);
  } else {
    // The instances present now, by label-set id (without __name__): sorted, each once.
    present_.clear();
    if (masked) {
      for (size_t w = 0; w < truth_now_.size(); ++w) {
        for (uint64_t bits = truth_now_[w]; bits != 0; bits &= bits - 1) {
          present_.push_back((*truth.ids)[w * 64 + static_cast<size_t>(std::countr_zero(bits))]);
        }
      }
    } else {
      const Value& v = evaluator_.value(condition);
      if (v.type == ValueType::Scalar) {
        if (v.scalar != 0 && !std::isnan(v.scalar)) present_.push_back(evaluator_.intern(Labels{}));
      } else {
        for (const VectorSample& s : v.vector)
          present_.push_back(evaluator_.without_name(s.labels));
      }
      evaluator_.drop(condition);
    }
    if (!std::is_sorted(present_.begin(), present_.end())) {
      std::sort(present_.begin(), present_.end());
    }
    present_.erase(std::unique(present_.begin(), present_.end()), present_.end());
    merge_present(p, t_ms, hold);
  }

  // Instances whose trigger no longer holds, or has no data, reset at once. All sort by the
  // ids' ranks in label order when the ranks are at hand; else a few by their labels, many by
  // the ranks, which cost a pass over the label table whenever it has grown (every id here is
  // in the table already, so the ranks cover it).
  constexpr size_t kSortByRankFrom = 64;
  auto label_less = [this](LabelSetId x, LabelSetId y) { return labels(x) < labels(y); };
  auto sort_by_labels = [&](auto& items, auto id_of) {
    if (items.size() < 2) return;
    if (items.size() < kSortByRankFrom && !evaluator_.label_order_ready()) {
      std::sort(items.begin(), items.end(),
                [&](const auto& x, const auto& y) { return label_less(id_of(x), id_of(y)); });
      return;
    }
    const std::vector<uint32_t>& rank = evaluator_.label_order();
    std::sort(items.begin(), items.end(),
              [&](const auto& x, const auto& y) { return rank[id_of(x)] < rank[id_of(y)]; });
  };
  sort_by_labels(gone, [](const ActiveInstance& g) { return g.id; });
  for (const ActiveInstance& g : gone) {
    event(shared_labels(g.id), EventKind::Resolved,
          g.state.firing ? "trigger no longer holds" : "hold reset before its `for` passed");
    if (!st.last_skip.empty()) st.last_skip.erase(g.id);
  }
  sort_by_labels(notable,
                 [&](const std::pair<size_t, bool>& n) { return st.instances[n.first].id; });
  for (auto [index, fresh] : notable) {
    // act() may add events, never instances: the index stays valid. Evaluating `when` or an
    // action's value may add label sets; the table keeps the ones it has where they are.
    LabelSetId id = st.instances[index].id;
    const Labels& labels = this->labels(id);
    Instance& inst = st.instances[index].state;
    if (fresh && hold > 0) event(shared_labels(id), EventKind::Pending, r.pending_reason);
    if (!inst.firing && t_ms - inst.active_since >= hold) {
      inst.firing = true;
      event(shared_labels(id), EventKind::Firing);
    }
    if (!inst.firing || inst.acted) continue;
    std::string reason = skip_reason(p, labels, t_ms);
    if (reason.empty()) {
      act(p, id, labels, inst, t_ms, out);  // which may itself be skipped, and remember why
    } else {
      note_skip(p, id, labels, reason, t_ms, out);
    }
  }
  if (masked && truth.unique) remember_truth(p, incremental, truth.layout, hold);
}

void Engine::note_skip(size_t p, LabelSetId id, const Labels& instance, const std::string& reason,
                       int64_t t_ms, std::vector<Event>& out) {
  std::string& standing = state_[p].last_skip[id];
  if (reason == standing) return;
  standing = reason;
  Event e = make_event(p, shared_labels(id), t_ms, EventKind::Skipped);
  e.reason = reason;
  out.push_back(std::move(e));
}

Engine::Instance* Engine::find_instance(size_t p, const Labels& instance) {
  for (ActiveInstance& a : state_[p].instances) {
    if (labels(a.id) == instance) return &a.state;
  }
  return nullptr;
}

void Engine::forget_labels() {
  std::vector<std::vector<Labels>> kept(state_.size());
  std::vector<std::vector<std::pair<Labels, std::string>>> skips(state_.size());
  for (size_t p = 0; p < state_.size(); ++p) {
    for (const ActiveInstance& a : state_[p].instances) kept[p].push_back(labels(a.id));
    for (const auto& [id, reason] : state_[p].last_skip) skips[p].push_back({labels(id), reason});
  }
  evaluator_.forget_labels();
  ++label_generation_;
  for (size_t p = 0; p < state_.size(); ++p) {
    PolicyState& st = state_[p];
    for (size_t i = 0; i < st.instances.size(); ++i)
      st.instances[i].id = evaluator_.intern(kept[p][i]);
    std::sort(st.instances.begin(), st.instances.end(),
              [](const ActiveInstance& x, const ActiveInstance& y) { return x.id < y.id; });
    st.truth_layout = 0;  // the bits' ids are gone with the table
    st.last_skip.clear();
    for (const auto& [l, reason] : skips[p]) st.last_skip[evaluator_.intern(l)] = reason;
  }
}

std::string Engine::skip_reason(size_t p, const Labels& instance, int64_t t_ms) {
  const PolicyPlan& plan = program_.policies[p];
  PolicyState& st = state_[p];
  const PolicyRules& r = rules_[p];
  if (!plan.emergency && paused_until_ && t_ms < *paused_until_) {
    return "paused: automatic actions are paused by " + pause_reason_;
  }
  if (st.paused) return "paused by an operator";
  if (st.quarantined) {
    return st.quarantine_reason.empty() ? "quarantined"
                                        : "quarantined after " + st.quarantine_reason;
  }
  if (plan.when != kNoNode) {
    NodeId when = boost::source(*boost::in_edges(plan.when, program_.graph).first, program_.graph);
    if (!holds_for(when, instance)) return "not applicable: `when` does not hold or has no data";
  }
  if (!r.during.empty()) {
    bool inside = false;
    for (const TimeWindow& w : r.during) {
      std::optional<LocalTime> local;
      if (w.zone == "UTC") {
        local = utc_local_time(t_ms);
      } else if (options_.local_time) {
        local = options_.local_time(w.zone, t_ms);
      }
      if (!local)
        return "outside its time window: the rules of time zone " + w.zone + " are unknown";
      inside |= window_contains(w, *local);
    }
    if (!inside) return "outside its time window";
  }
  if (r.cooldown_seconds > 0 && st.last_action_ms &&
      t_ms - *st.last_action_ms < seconds_to_ms(r.cooldown_seconds)) {
    return "cooldown " + duration_text(r.cooldown_seconds) + " after the last action";
  }
  if (r.limit_count > 0) {
    int64_t period = seconds_to_ms(r.limit_seconds);
    while (!st.action_times.empty() && st.action_times.front() <= t_ms - period) {
      st.action_times.pop_front();
    }
    if (static_cast<int>(st.action_times.size()) >= r.limit_count) {
      return "rate limit: " + std::to_string(r.limit_count) + " actions per " +
             duration_text(r.limit_seconds) + " reached";
    }
  }
  const Item& item = modules_[plan.module].items[plan.item];
  for (const Clause& c : item.clauses) {
    if (c.kind != ClauseKind::Action || c.action != ActionKind::Set) continue;
    auto held = knob_actor_.find(c.name.text);
    if (held != knob_actor_.end()) {
      // Instances of one policy each compute their value from the same snapshot: a second
      // change at this evaluation would repeat the first one, or undo it.
      const KnobActor& by = held->second;
      if (by.policy != p) {
        return "knob " + std::string(c.name.text) + " is being changed by " +
               program_.policies[by.policy].name;
      }
      if (by.instance != instance) {
        return "knob " + std::string(c.name.text) + " is being changed by " +
               program_.policies[p].name + labels_text(by.instance);
      }
    }
    for (const Validation& v : validations_) {
      if (std::find(v.knobs.begin(), v.knobs.end(), c.name.text) != v.knobs.end()) {
        return "knob " + std::string(c.name.text) + " is held by the validation of " +
               program_.policies[v.policy].name;
      }
    }
  }
  if (!plan.emergency) return validation_conflict(p);
  return {};
}

void Engine::act(size_t p, LabelSetId id, const Labels& instance, Instance& inst, int64_t t_ms,
                 std::vector<Event>& out) {
  const PolicyPlan& plan = program_.policies[p];
  PolicyState& st = state_[p];
  const PolicyRules& r = rules_[p];
  const Item& item = modules_[plan.module].items[plan.item];
  SharedLabels shared = shared_labels(id);
  auto event = [&](EventKind kind, std::string knob = {}, double from = NAN, double to = NAN,
                   std::string reason = {}) {
    Event e;
    e.t_ms = t_ms;
    e.policy = plan.name;
    e.instance = shared;
    e.kind = kind;
    e.knob = std::move(knob);
    e.from = from;
    e.to = to;
    e.reason = std::move(reason);
    out.push_back(std::move(e));
    return &out.back();
  };
  auto skip = [&](const std::string& reason) { note_skip(p, id, instance, reason, t_ms, out); };
  // Every value is computed before anything changes, so that one action's knob change cannot
  // alter a later action's value within the same firing; a value without data stops them all.
  std::vector<PlannedStep>& planned = planned_;  // reused: an allocation per firing adds up
  planned.clear();
  size_t action_index = 0, sets = 0, unchanged = 0;
  for (const Clause& c : item.clauses) {
    if (c.kind != ClauseKind::Action) continue;
    NodeId node = plan.actions[action_index++];
    PlannedStep step{&c};
    if (c.action == ActionKind::Set) {
      std::string name(c.name.text);
      std::optional<double> current = knob(name);
      if (!current) return skip("the current value of knob " + name + " is unknown");
      std::vector<NodeId> in;
      for (auto [e, end] = boost::in_edges(node, program_.graph); e != end; ++e) {
        in.push_back(boost::source(*e, program_.graph));
      }
      const Value& v = evaluator_.value(in.back());
      std::optional<double> value;
      if (v.type == ValueType::Scalar) {
        value = v.scalar;
      } else {
        for (const VectorSample& s : v.vector) {
          if (v.vector.size() == 1 || labels_compatible(labels(s.labels), instance))
            value = s.value;
        }
      }
      if (!value || std::isnan(*value)) return skip("the value for knob " + name + " has no data");
      for (const KnobInfo& k : checked_.knobs) {
        if (k.name == c.name.text) value = std::clamp(*value, k.min, k.max);
      }
      step.value = *value;
      step.current = *current;
      // An emergency is the last line of defence: nothing delays or shortens what it does.
      if (!plan.emergency && damping_.count(name)) {
        DampedStep d = damp(name, *current, *value, t_ms);
        step.value = d.value;
        step.unchanged = !d.skip.empty();
        step.damped = step.unchanged ? d.skip : d.note;
        unchanged += step.unchanged;
      }
      ++sets;
    }
    planned.push_back(step);
  }
  // Damping that leaves every knob as it is leaves the whole firing waiting: its notifications
  // and actuators would announce a change that is not made. It is tried again next evaluation.
  if (sets > 0 && unchanged == sets) {
    for (const PlannedStep& step : planned) {
      if (step.unchanged) return skip(step.damped);
    }
  }

  inst.acted = true;
  bool automatic = r.mode == Mode::Auto;
  if (automatic) {
    st.last_action_ms = t_ms;
    remember_action_time(p, t_ms);
  }
  std::vector<std::string> set_knobs;
  for (const PlannedStep& step : planned) {
    const Clause& c = *step.clause;
    switch (c.action) {
      case ActionKind::Set: {
        std::string name(c.name.text);
        if (step.unchanged) {
          event(EventKind::Skipped, name, NAN, NAN, step.damped);
          break;
        }
        set_knobs.push_back(name);
        std::string note = step.damped.empty() ? "" : "; " + step.damped;
        if (r.mode == Mode::Propose) {
          // One proposal per firing, approved or rejected whole (approve(), reject()).
          if (proposals_.empty() || proposals_.back().policy != plan.name ||
              proposals_.back().t_ms != t_ms || proposals_.back().instance != instance) {
            proposals_.push_back(
                {next_action_++, plan.name, instance, t_ms, inst.active_since, {}});
          }
          proposals_.back().steps.emplace_back(name, step.value);
          Event* e = event(EventKind::Proposed, name, step.current, step.value,
                           "awaiting approval" + note);
          e->action = proposals_.back().id;
        } else if (r.mode == Mode::DryRun) {
          event(EventKind::WouldApply, name, step.current, step.value, "dry-run" + note);
        } else {
          apply_step(p, instance, t_ms, name, step.value, step.damped, out);
        }
        break;
      }
      case ActionKind::Run:
        event(automatic ? EventKind::RunActuator : EventKind::WouldApply, std::string(c.name.text),
              NAN, NAN, "actuator " + std::string(c.name.text));
        break;
      case ActionKind::Notify:
        event(EventKind::Notified, {}, NAN, NAN, c.string_value);
        break;
      case ActionKind::RollbackAll:
        if (automatic) rollback_since(p, t_ms - seconds_to_ms(c.duration.seconds), t_ms, out);
        break;
    }
  }
  if (automatic && !plan.emergency && !set_knobs.empty() &&
      (!r.expects.empty() || !r.rollbacks.empty())) {
    // The first action's id is taken before set_knobs is moved into the call: the order in
    // which arguments are evaluated is unspecified, and GCC moves it first (size() is then 0).
    uint64_t first = next_action_ - set_knobs.size();
    start_validation(p, instance, first, std::move(set_knobs), inst.active_since, t_ms);
  }
  if (plan.emergency && automatic && r.pause_seconds > 0) {
    paused_until_ = t_ms + seconds_to_ms(r.pause_seconds);
    pause_reason_ = "emergency " + plan.name;
    event(EventKind::Paused, {}, NAN, NAN,
          "automatic actions paused for " + duration_text(r.pause_seconds));
  }
}

void Engine::apply_step(size_t p, const Labels& instance, int64_t t_ms, const std::string& knob,
                        double value, const std::string& reason, std::vector<Event>& out) {
  knob_actor_.emplace(knob, KnobActor{p, instance});
  double before = this->knob(knob).value_or(NAN);
  uint64_t id = next_action_++;
  change_knob(knob, value, t_ms, id);
  AppliedAction a{id, p, t_ms, knob, before, value, false};
  Event e = make_event(p, instance, t_ms, EventKind::Applied);
  e.knob = knob;
  e.from = before;
  e.to = value;
  e.action = a.id;
  e.reason = reason;
  out.push_back(std::move(e));
  applied_.push_back(std::move(a));
  // The actions an operator can still roll back by id or by time: the newest ones. Without a
  // bound the list, and the state written after every decision, grow with every action taken.
  while (applied_.size() > kRememberedActions) {
    auto old = std::find_if(applied_.begin(), applied_.end(), [this](const AppliedAction& x) {
      return std::none_of(validations_.begin(), validations_.end(), [&](const Validation& v) {
        return v.policy == x.policy && v.applied_ms == x.t_ms;
      });
    });
    if (old == applied_.end()) break;
    applied_.erase(old);
  }
}

// Only a `limit` counts action times, and only within its period.
void Engine::remember_action_time(size_t p, int64_t t_ms) {
  const PolicyRules& r = rules_[p];
  PolicyState& st = state_[p];
  if (r.limit_count <= 0) return;
  int64_t period = seconds_to_ms(r.limit_seconds);
  while (!st.action_times.empty() && st.action_times.front() <= t_ms - period) {
    st.action_times.pop_front();
  }
  st.action_times.push_back(t_ms);
}

Event Engine::make_event(size_t p, SharedLabels instance, int64_t t_ms, EventKind kind) const {
  Event e;
  e.t_ms = t_ms;
  e.policy = program_.policies[p].name;
  e.instance = std::move(instance);
  e.kind = kind;
  return e;
}

SharedLabels Engine::shared_labels(LabelSetId id) {
  if (shared_generation_ != evaluator_.label_generation()) {
    shared_labels_.clear();
    shared_generation_ = evaluator_.label_generation();
  }
  if (shared_labels_.size() <= id) shared_labels_.resize(id + 1);
  std::shared_ptr<const Labels>& p = shared_labels_[id];
  if (!p) p = std::make_shared<const Labels>(labels(id));
  return SharedLabels(p);
}

// Undoes every automatic action applied since `since_ms`, newest first, so each knob ends at
// the value it had before the oldest of them.
void Engine::rollback_since(size_t emergency, int64_t since_ms, int64_t t_ms,
                            std::vector<Event>& out) {
  for (auto it = applied_.rbegin(); it != applied_.rend(); ++it) {
    if (it->undone || it->t_ms < since_ms) continue;
    it->undone = true;
    change_knob(it->knob, it->before, t_ms, it->id);
    Event e;
    e.t_ms = t_ms;
    e.policy = program_.policies[it->policy].name;
    e.kind = EventKind::RolledBack;
    e.knob = it->knob;
    e.from = it->after;
    e.to = it->before;
    e.action = it->id;
    e.reason = "emergency " + program_.policies[emergency].name;
    out.push_back(std::move(e));
  }
}

// The knob's damping for one `set`; its recommendation joins the knob's history, since the
// stabilization window weighs what every policy asked for, whatever became of it.
DampedStep Engine::damp(const std::string& knob, double current, double wanted, int64_t t_ms) {
  const KnobDamping& d = damping_.at(knob);
  KnobHistory& h = knob_history_[knob];
  bool integer = false;
  for (const KnobInfo& k : checked_.knobs) {
    if (k.name == knob) integer = k.type == KnobType::Int;
  }
  DampedStep step = damp_step(d, h, knob, integer, current, wanted, t_ms);
  if (d.stabilizes()) h.recommendations.push_back({t_ms, step.recommendation});
  return step;
}

// An evaluation at which no policy computed a value for a stabilized knob recommends keeping it
// as it is, as an HPA whose metrics are on target recommends its current replicas: a change
// must then be asked for over the whole window before it is made.
void Engine::record_status_quo(int64_t t_ms) {
  for (const auto& [knob, d] : damping_) {
    if (!d.stabilizes()) continue;
    KnobHistory& h = knob_history_[knob];
    std::optional<double> current = this->knob(knob);
    if (!current || (!h.recommendations.empty() && h.recommendations.back().t_ms == t_ms)) continue;
    h.recommendations.push_back({t_ms, *current});
  }
}

void Engine::change_knob(const std::string& knob, double value, int64_t t_ms, uint64_t action) {
  std::optional<double> before = this->knob(knob);
  set_knob(knob, value);
  auto d = damping_.find(knob);
  if (d == damping_.end() || d->second.max_step == 0 || !before || std::isnan(*before) ||
      std::isnan(value) || *before == value) {
    return;
  }
  knob_history_[knob].changes.push_back({t_ms, value - *before, action});
}

}  // namespace setpoint
