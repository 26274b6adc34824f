// The engine core: a deterministic state machine over a compiled policy set. Its inputs are
// the window store's samples, the time of each evaluation and the knobs' values; its output is
// events. It reads no clock and does no I/O: `simulate` drives it with a virtual clock and the
// daemon with the real one, so a replay predicts exactly what the daemon does.
#pragma once

#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "interpreter/effect_verdict.h"
#include "interpreter/engine_event.h"
#include "interpreter/evaluator.h"
#include "interpreter/knob_damping.h"
#include "interpreter/time_window.h"

namespace setpoint {

// The wall clock of a named time zone at a moment, from the system's tz database (the runtime
// has it; the core may not read files). nullopt for a zone it does not know.
using LocalTimeFn = std::function<std::optional<LocalTime>(std::string_view zone, int64_t t_ms)>;

struct EngineOptions {
  EvalOptions eval;
  // Effect validation (docs/validation.md): the observation window starts this fraction of
  // `within` after the action, so the change has settled before it is measured.
  double settle_fraction = 0.2;
  double alpha = 0.05;
  size_t min_samples = 8;
  LocalTimeFn local_time;  // unset: only UTC windows can be evaluated
  bool dry_run = false;    // every auto policy runs as dry-run (the daemon's --dry-run)
};

// The decisions the core reads from each policy's clauses (and its file's defaults) once.
struct PolicyRules {
  Mode mode = Mode::Auto;
  double hold_seconds = 0;      // trigger ... for D
  std::string pending_reason;   // "for 2m": a pending event's reason, written once
  double cooldown_seconds = 0;  // 0: none
  int limit_count = 0;          // limit N per D; 0: none
  double limit_seconds = 0;
  // quarantine [and rollback] after N failures, N errors, N inconclusive (docs/validation.md):
  // each 0 when not given. A policy's own clause replaces its file's defaults' whole.
  int failure_limit = 0;
  int error_limit = 0;
  int inconclusive_limit = 0;
  bool rollback_at_limit = false;      // undo the action judged before quarantining
  bool rollback_inconclusive = false;  // on inconclusive rollback
  double pause_seconds = 0;            // emergencies: then pause D
  std::vector<TimeWindow> during;      // any of them must hold
  struct Expect {
    NodeId expr = kNoNode;
    std::string name;  // how reasons name it: the let, or the expression as written
    Direction direction = Direction::Decreases;
    double promised = 0;  // 0.2 for `by 20%`
    double within_seconds = 0;
  };
  std::vector<Expect> expects;
  std::vector<NodeId> rollbacks;  // conditions: its own and its file's defaults
  double within_seconds = 0;      // the longest `within`: the validation and baseline window
  // How far back its expected effects look (the longest range, subquery and offset in them):
  // an observation sample closer than this to the action still averages data from before it.
  double lookback_seconds = 0;
};

// What survives a restart or a reload (runtime/engine_state_json.cc stores it): holds,
// cooldowns, rate-limit counts, validation counts and quarantines, pauses, applied actions,
// validations in progress with their baselines, proposals, and what knob damping remembers.
// Policies and knobs are named, not numbered, so a reload carries the state of every policy
// that is still there.
struct EngineState {
  struct InstanceState {
    Labels labels;
    int64_t active_since = 0;
    bool firing = false;
    bool acted = false;
  };
  struct PolicyState {
    std::string name;
    std::vector<InstanceState> instances;
    std::optional<int64_t> last_action_ms;
    std::vector<int64_t> action_times;
    // Validation outcomes since the last confirmed validation (errors: since the last
    // validation that measured anything), as the limits of `quarantine` count them.
    int consecutive_failures = 0;
    int consecutive_errors = 0;
    int inconclusive = 0;
    bool quarantined = false;
    std::string quarantine_reason;  // which limit was exhausted
    bool paused = false;            // by an operator
  };
  struct Action {
    uint64_t id = 0;
    std::string policy;
    Labels instance;
    int64_t t_ms = 0;
    std::string knob;
    double before = 0;
    double after = 0;
    bool undone = false;
  };
  struct ValidationState {
    uint64_t action = 0;
    std::string policy;
    Labels instance;
    int64_t applied_ms = 0, since_ms = 0, settle_ms = 0, end_ms = 0;
    std::vector<std::string> knobs;
    std::vector<std::vector<double>> expect_baselines;  // per `expect`, in the order written
    std::vector<size_t> expect_baseline_series;         // how many series fit the instance
    std::vector<std::vector<std::pair<Labels, double>>> rollback_baselines;  // per `baseline`
    std::string error;  // a rollback condition that could not be evaluated, once
  };
  // A recovery check after a rollback (Engine::Recovery).
  struct RecoveryState {
    uint64_t action = 0;
    std::string policy;
    Labels instance;
    int64_t rolled_back_ms = 0, settle_ms = 0, end_ms = 0;
    std::vector<std::string> knobs;
    std::vector<std::vector<double>> expect_baselines;
    std::vector<size_t> expect_baseline_series;
  };
  // What damping remembers of a knob (knob_damping.h).
  struct KnobHistoryState {
    std::string knob;
    std::vector<DampingRecommendation> recommendations;
    std::vector<DampingChange> changes;
  };
  struct Proposal {
    uint64_t id = 0;
    std::string policy;
    Labels instance;
    int64_t t_ms = 0;
    int64_t since_ms = 0;
    std::vector<std::pair<std::string, double>> steps;  // knob -> proposed value
  };
  std::vector<PolicyState> policies;
  std::vector<Action> actions;
  std::vector<ValidationState> validations;
  std::vector<RecoveryState> recoveries;
  std::vector<Proposal> proposals;
  std::vector<KnobHistoryState> knob_histories;
  std::map<std::string, double> knobs;
  std::optional<int64_t> paused_until;
  std::string pause_reason;
  std::optional<int64_t> last_eval_ms;
  uint64_t next_action = 1;
};

class Engine {
 public:
  Engine(const std::vector<Module>& modules, const CheckedProgram& checked, const Program& program,
         const WindowStore& store, EngineOptions options = {});

  // A knob's current value, as its actuator reports it (or as `simulate` starts it).
  void set_knob(std::string_view knob, double value);
  std::optional<double> knob(std::string_view knob) const;

  // One evaluation of every policy at t (times must increase). Returns the events it caused,
  // in a fixed order: emergencies first, then policies by priority and `after`.
  std::vector<Event> evaluate(int64_t t_ms);
  // The same evaluation, handing each policy's events to `sink` as soon as that policy is
  // done: a replay over thousands of instances then holds one policy's events, not all of them.
  // The sink may keep the event it is handed.
  void evaluate(int64_t t_ms, const std::function<void(Event&&)>& sink);

  const PolicyRules& rules(size_t policy) const { return rules_[policy]; }

  // Actuator results (engine_control.cc). The daemon applies each Applied event and reports
  // back only when it failed: the knob then keeps its value before the action, the action's
  // validation is dropped, and the failure counts as an error (`quarantine after N errors`).
  std::vector<Event> action_failed(uint64_t action, int64_t t_ms, const std::string& error);
  // A rollback that did not happen leaves the knob's value unknown: no policy acts on it until
  // set_knob() reports what it really is.
  std::vector<Event> rollback_failed(uint64_t action, int64_t t_ms, const std::string& error);
  void forget_knob(std::string_view knob);

  // Operator controls (the control API). A refused control returns no events and says why.
  // `policy` empty means every policy. Paused until `until_ms`, or until resumed.
  std::vector<Event> pause(std::string_view policy, int64_t t_ms, std::optional<int64_t> until_ms,
                           std::string* error);
  std::vector<Event> resume(std::string_view policy, int64_t t_ms, std::string* error);
  std::vector<Event> release(std::string_view policy, int64_t t_ms, std::string* error);
  std::vector<Event> approve(uint64_t proposal, int64_t t_ms, std::string* error);
  std::vector<Event> reject(uint64_t proposal, int64_t t_ms, std::string* error);
  std::vector<Event> rollback(uint64_t action, int64_t t_ms, std::string* error);
  // Rolls back every action since `since_ms`, newest first, and pauses automatic actions.
  std::vector<Event> emergency_stop(int64_t since_ms, int64_t t_ms);

  // engine_state.cc. restore() after construction, before the first evaluate(); state of
  // policies no longer in the program is dropped. A pending hold resumes with the time it had
  // held before `down_ms` (the last evaluation stored): the outage neither counts toward the
  // `for` nor resets it, so a restart neither fires at once nor starts the hold over.
  EngineState state() const;
  // The same state in parts, so that the daemon rewrites only what changed: one policy's, and
  // everything that is not any one policy's (state() with `policies` empty).
  size_t policy_count() const { return state_.size(); }
  EngineState::PolicyState policy_state(size_t p) const;
  EngineState shared_state() const;
  // Replaces `out` with words that are equal for two calls exactly when policy_state(p) would
  // be: a cheap test of whether a policy's stored state is still current, with no labels copied.
  void policy_digest(size_t p, std::vector<int64_t>& out) const;
  // The actions whose validation is under way, each with its policy's index: cheaper than
  // state() for a caller that only follows validations.
  std::vector<std::pair<uint64_t, size_t>> validating() const;
  void restore(const EngineState& state, int64_t now_ms);
  size_t policy_index(std::string_view name) const;  // SIZE_MAX when unknown

 private:
  // Packed to 4-byte alignment, the flags in the time's top bits: with the id an instance is
  // 12 bytes rather than 24, and a replay over a million instances holds half as much. A time
  // in milliseconds needs far fewer than 62 bits.
#pragma pack(push, 4)
  struct Instance {
    int64_t active_since : 62 = 0;
    bool firing : 1 = false;
    bool acted : 1 = false;  // an action was taken (or proposed) for this firing
  };
  static_assert(sizeof(Instance) == 8);
  // The times an instance can hold: +-2^60 ms is 36 million years either side of 1970.
  static constexpr int64_t kLatestMs = int64_t{1} << 60;
  // A pending or firing instance. The hot path matches instances by the id of their label set
  // in the evaluator's table (the trigger's labels without __name__), never by the labels.
  struct ActiveInstance {
    LabelSetId id = 0;  // its labels are the evaluator's
    Instance state;
  };
#pragma pack(pop)
  static_assert(sizeof(ActiveInstance) == 12);
  struct PolicyState {
    std::vector<ActiveInstance> instances;  // sorted by id
    // The skip reason standing for an instance, so it is reported once, not every evaluation.
    std::unordered_map<LabelSetId, std::string> last_skip;
    std::optional<int64_t> last_action_ms;
    std::deque<int64_t> action_times;  // within the limit's period
    int consecutive_failures = 0;      // as EngineState::PolicyState counts them
    int consecutive_errors = 0;
    int inconclusive = 0;
    bool quarantined = false;
    std::string quarantine_reason;
    bool paused = false;  // by an operator
    // When the condition was a mask at the last evaluation (Evaluator::truth), its bits and
    // the stamp of the elements they stand for (0: none), the earliest time a pending
    // instance's `for` may pass (or earlier), and the firing instances not yet acted on: all
    // the next evaluation needs besides the changed bits (engine_changes.cc). Anything else
    // that changes the instances sets the stamp to 0.
    uint64_t truth_layout = 0;
    std::vector<uint64_t> truth_bits;
    int64_t next_due_ms = INT64_MAX;
    std::vector<LabelSetId> waiting;
  };
  struct AppliedAction {
    uint64_t id = 0;
    size_t policy = 0;
    int64_t t_ms = 0;
    std::string knob;
    double before = 0;
    double after = 0;
    bool undone = false;
  };
  // An action whose effect is being measured: from the action to `within` after it.
  struct Validation {
    uint64_t action = 0;
    size_t policy = 0;
    Labels instance;
    int64_t applied_ms = 0;
    int64_t since_ms = 0;   // when the trigger began to hold: the baseline is the state acted on
    int64_t settle_ms = 0;  // observation starts after this
    int64_t end_ms = 0;
    std::vector<std::string> knobs;  // held until the verdict
    // Each `expect`'s values before the action, taken when it was applied, and how many series
    // fitted the instance (only exactly one can be measured).
    std::vector<std::vector<double>> expect_baselines;
    std::vector<size_t> expect_baseline_series;
    // What each `baseline` of the policy's rollback conditions stands for.
    std::map<NodeId, std::vector<std::pair<Labels, double>>> baselines;
    std::string error;  // the first rollback condition that could not be evaluated
  };
  // After a validated action is rolled back: do its expected metrics return to what they were
  // before it? (engine_recovery.cc, docs/validation.md "After a rollback"). It holds no knob,
  // starts no action and counts toward no limit.
  struct Recovery {
    uint64_t action = 0;  // the validation's first action
    size_t policy = 0;
    Labels instance;
    int64_t rolled_back_ms = 0;
    int64_t settle_ms = 0;  // observation starts after this: the validation's delay, again
    int64_t end_ms = 0;
    std::vector<std::string> knobs;
    std::vector<std::vector<double>> expect_baselines;  // the validation's, before the action
    std::vector<size_t> expect_baseline_series;
  };
  // The validation that action `id` belongs to, if it is in progress.
  const Validation* validation_of(uint64_t id) const;
  // Starts the recovery check of v's action, rolled back at t_ms (once per validation).
  void start_recovery(const Validation& v, int64_t t_ms);
  // An action of v undone since the last check (by an emergency policy's rollback, at the
  // evaluation after that check): its recovery starts at the time of that evaluation.
  void recover_if_undone(const Validation& v);
  void check_recoveries(int64_t t_ms, std::vector<Event>& out);
  // How a validation ended, for the limits of `quarantine`.
  enum class Outcome : uint8_t { Confirmed, Failed, Error, Inconclusive };
  using Proposal = EngineState::Proposal;
  // A tracked expression's recent values, per label set, for baselines and observations.
  // Every series gets a value at every evaluation (NaN when it is missing), so the times are
  // kept once: a series' values are those of the newest `values.size()` times. That is 8 bytes
  // a value rather than 16, for thousands of series times minutes of evaluations.
  struct TrackedSeries {
    std::deque<double> values;
    int64_t last_value_ms = INT64_MIN;  // the newest value that is not NaN
  };
  struct History {
    int64_t keep_ms = 0;
    std::deque<int64_t> times;  // the evaluations within keep_ms, oldest first
    std::map<Labels, TrackedSeries> series;
    int64_t failed_ms = INT64_MIN;  // the last evaluation at which it could not be computed
    std::string failure;
    // The last evaluation's label sets (evaluator ids without __name__) in the value's order,
    // and each one's series, when they were every series kept, each once: an evaluation with
    // the same ids in the same order hands each value to its series, with no label compared.
    std::vector<LabelSetId> last_ids;
    std::vector<TrackedSeries*> last_series;
    int64_t last_ids_generation = -1;  // label_generation_ the ids belong to
    // The time of series s's value i.
    int64_t time_of(const TrackedSeries& s, size_t i) const {
      return times[times.size() - s.values.size() + i];
    }
  };

  bool track_as_before(History& h, const Value& value, int64_t t_ms);
  void remember_order(History& h, const Value* value);
  std::map<Labels, TrackedSeries>::iterator age(History& h,
                                                std::map<Labels, TrackedSeries>::iterator it,
                                                int64_t t_ms, double value);
  PolicyRules read_rules(const PolicyPlan& plan) const;
  double lookback_seconds(NodeId expr) const;
  std::vector<size_t> policy_order() const;
  void evaluate_policy(size_t p, int64_t t_ms, std::vector<Event>& out);
  // Fill gone_instances_ and notable_ and update the instances (engine_changes.cc): from
  // present_, or from the bits that changed since the last evaluation (truth_now_ against the
  // policy's truth_bits, over the same elements).
  void merge_present(size_t p, int64_t t_ms, int64_t hold);
  void changes_from_bits(size_t p, int64_t t_ms, int64_t hold, const std::vector<LabelSetId>& ids);
  void remember_truth(size_t p, bool incremental, uint64_t layout, int64_t hold);
  // Why a firing instance may not act now, or "" when it may.
  std::string skip_reason(size_t p, const Labels& instance, int64_t t_ms);
  // One action of a firing, its value computed before any knob changes (act()).
  struct PlannedStep {
    const Clause* clause;
    double value = NAN;
    double current = NAN;
    std::string damped{};  // why damping left the knob as it is, or how it changed the value
    bool unchanged = false;
  };
  void act(size_t p, LabelSetId id, const Labels& instance, Instance& inst, int64_t t_ms,
           std::vector<Event>& out);
  // Reports a skip reason unless it already stands for the instance.
  void note_skip(size_t p, LabelSetId id, const Labels& instance, const std::string& reason,
                 int64_t t_ms, std::vector<Event>& out);
  Instance* find_instance(size_t p, const Labels& instance);
  // Before the evaluator's label table outgrows its bound: forget it, and key the instances
  // anew by their labels.
  void forget_labels();
  void rollback_since(size_t emergency, int64_t since_ms, int64_t t_ms, std::vector<Event>& out);
  bool holds_for(NodeId condition, const Labels& instance);
  // engine_validation.cc
  void track(int64_t t_ms);
  void start_validation(size_t p, const Labels& instance, uint64_t action,
                        std::vector<std::string> knobs, int64_t since_ms, int64_t t_ms);
  void check_validations(int64_t t_ms, std::vector<Event>& out);
  void undo(size_t validation, int64_t t_ms, const std::string& reason, std::vector<Event>& out);
  // Undoes the automatic actions policy p applied at applied_ms that still stand.
  void remember_action_time(size_t p, int64_t t_ms);
  void undo_actions(size_t p, int64_t applied_ms, const Labels& instance, int64_t t_ms,
                    const std::string& reason, std::vector<Event>& out);
  // Counts a validation's outcome and quarantines the policy when that exhausts a limit.
  void count_outcome(size_t p, Outcome outcome, const Labels& instance, int64_t applied_ms,
                     uint64_t action, int64_t t_ms, std::vector<Event>& out);
  // Knob damping (knob_damping.h): the damped value of one `set`, recording its recommendation;
  // the current value as the recommendation of knobs nobody recommended for at t.
  DampedStep damp(const std::string& knob, double current, double wanted, int64_t t_ms);
  void record_status_quo(int64_t t_ms);
  // Every change the engine makes to a knob goes through here, so max steps can count it.
  void change_knob(const std::string& knob, double value, int64_t t_ms, uint64_t action);
  // The values of a tracked expression for one instance in (from, to], or its baseline window
  // before the action of `baseline_of`.
  std::vector<double> window(NodeId expr, const Labels& instance, int64_t from_ms, int64_t to_ms,
                             size_t* series_found, const Validation* baseline_of = nullptr) const;
  std::vector<double> baseline_window(const History& h, const TrackedSeries& series,
                                      const Validation& v) const;
  std::string validation_conflict(size_t p) const;
  Expectation expectation(const PolicyRules::Expect& x) const;
  // The `baseline` nodes of a policy's rollback conditions, in a fixed order (engine_state.cc).
  std::vector<NodeId> baseline_nodes(size_t p) const;
  void apply_step(size_t p, const Labels& instance, int64_t t_ms, const std::string& knob,
                  double value, const std::string& reason, std::vector<Event>& out);
  Event make_event(size_t p, SharedLabels instance, int64_t t_ms, EventKind kind) const;
  const Labels& labels(LabelSetId id) const { return evaluator_.labels(id); }
  // The labels of an id as events carry them: made once per id, then shared.
  SharedLabels shared_labels(LabelSetId id);

  const std::vector<Module>& modules_;
  const CheckedProgram& checked_;
  const Program& program_;
  EngineOptions options_;
  Evaluator evaluator_;
  std::vector<PolicyRules> rules_;
  std::vector<PolicyState> state_;
  std::vector<size_t> order_;
  std::map<std::string, double, std::less<>> knobs_;
  static constexpr size_t kRememberedActions = 1000;  // applied_ keeps the newest ones
  std::vector<AppliedAction> applied_;
  struct KnobActor {
    size_t policy;
    Labels instance;
  };
  // knob -> the policy instance that set it at this evaluation: one action per knob per tick.
  std::map<std::string, KnobActor, std::less<>> knob_actor_;
  std::optional<int64_t> paused_until_;
  std::string pause_reason_;
  std::vector<Proposal> proposals_;
  std::optional<int64_t> last_eval_ms_;
  int64_t label_generation_ = 0;  // counts forget_labels(): instance ids change meaning
  std::vector<std::shared_ptr<const Labels>> shared_labels_;  // by id
  std::vector<PlannedStep> planned_;
  uint64_t shared_generation_ = 0;  // the evaluator's label generation they belong to
  // Scratch of evaluate_policy, kept for their capacity.
  std::vector<LabelSetId> present_;
  std::vector<ActiveInstance> next_instances_, gone_instances_;
  std::vector<std::pair<size_t, bool>> notable_;
  std::vector<uint64_t> truth_now_;
  std::vector<LabelSetId> added_, removed_;
  std::vector<size_t> places_;
  std::vector<Event> pending_events_;  // one policy's events, before evaluate() hands them on
  std::vector<std::pair<const Labels*, double>> tracked_now_;  // scratch of track()
  uint64_t next_action_ = 1;
  std::map<NodeId, History> history_;  // expectations and baseline expressions
  std::vector<Validation> validations_;
  std::vector<Recovery> recoveries_;
  // The time of the last check_validations(): an emergency rollback after it happened then.
  std::optional<int64_t> validations_checked_ms_;
  Evaluator rollback_evaluator_;  // rollback conditions, with one validation's baselines each
  std::map<std::string, KnobDamping, std::less<>> damping_;  // the knobs declared with damping
  std::map<std::string, KnobHistory, std::less<>> knob_history_;
};

}  // namespace setpoint
