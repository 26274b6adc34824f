// Evaluates compiled expressions over the window store at a time t, exactly as a Prometheus
// instant query at t would. Nodes are evaluated from their graph inputs; a node is computed once
// per (node, time) within one Evaluator::at() pass, so an expression shared by many policies
// is computed once for all of them. Evaluation is incremental across passes: a value is kept
// from one at() to the next and used again while no sample of the series under it arrived and
// none left its window or lookback (incremental.cc), so a sample re-evaluates only the nodes
// downstream of its series.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "interpreter/program.h"
#include "interpreter/value.h"
#include "interpreter/window_order.h"
#include "interpreter/window_store.h"
#include "interpreter/window_sum.h"

namespace setpoint {

struct EvalOptions {
  int64_t lookback_ms = kLookbackMs;
  int64_t default_subquery_step_ms = 60'000;  // Prometheus' default evaluation interval
  // Derived label sets are forgotten at the next at() once there are more than this many, so a
  // long-running evaluator stays bounded whatever the series churn.
  size_t max_label_sets = 1'000'000;
  // Values kept from one at() to the next for the nodes downstream of series that did not
  // change, at most this many elements (vector samples and range points) in all. Off, every
  // node is computed afresh at every time (the differential tests compare the two).
  bool incremental = true;
  size_t max_kept_elements = 1 << 18;
};

class Evaluator {
 public:
  Evaluator(const std::vector<Module>& modules, const Program& program, const WindowStore& store,
            EvalOptions options = {});

  // Starts a new evaluation time. Times only move forward for incremental evaluation to pay:
  // a value computed earlier is used again only at the same or a later time, and only where no
  // sample under it arrived or aged out since.
  void at(int64_t t_ms);
  // The value of node n at the current time. Throws EvalError for a query Prometheus refuses
  // at run time.
  const Value& value(NodeId n);
  // Drops a value the caller has read and will not ask for again at this time (a policy's
  // condition), so memory holds one condition's result at a time, not all of them.
  void drop(NodeId n);
  // A condition computed as a mask (conjunction.cc) without making its vector: which elements
  // of its base vector it keeps, and each element's label set without __name__. Equal
  // `layout` stamps mean equal `ids` at any two times, so a caller that kept the bits of an
  // earlier evaluation sees what changed by comparing them bit by bit. False when the condition
  // is not computed as a mask at this time (value() gives it then); a later value() of it is
  // computed afresh.
  struct Truth {
    const std::vector<LabelSetId>* ids = nullptr;  // valid until the next at()
    uint64_t layout = 0;                           // never 0
    bool unique = false;                           // no id twice
  };
  bool truth(NodeId condition, std::vector<uint64_t>& keep, Truth& out);
  // The labels behind a sample's id (valid until the next at()).
  const Labels& labels(LabelSetId id) const { return table_.get(id); }
  // Every label set's rank in label order, by id (LabelTable::order).
  const std::vector<uint32_t>& label_order() { return table_.order(); }
  bool label_order_ready() const { return table_.ordered(); }
  LabelSetId without_name(LabelSetId id) { return table_.without_name(id); }
  LabelSetId intern(const Labels& labels) { return table_.intern(labels); }
  // How many label sets the table holds; forgetting them makes every id meaningless, which at()
  // does by itself past EvalOptions::max_label_sets (the engine does it first, keeping its own).
  size_t label_sets() const { return table_.size(); }
  // Counts the times the label table started again: ids from before mean nothing after.
  uint64_t label_generation() const { return label_generation_; }
  void forget_labels() { reset_labels(); }
  // Nodes computed at a current time since construction, not counting those whose kept value
  // was used again (incremental evaluation's measure, for tests and benchmarks).
  uint64_t computed_nodes() const { return computed_nodes_; }

  // The current value of a knob, for expressions that read one; unset or nullopt means unknown
  // (the expression then has no value).
  std::function<std::optional<double>(std::string_view knob)> knob_value;
  // What `baseline` stands for in a rollback condition: the engine's record of the expression
  // before the action, as label sets and values. Unset: no value (so the condition never holds).
  std::function<std::vector<std::pair<Labels, double>>(NodeId baseline)> baseline_value;

 private:
  const Value& value_at(NodeId n, int64_t t_ms);
  Value compute(NodeId n, int64_t t_ms);
  // `until`, when given, is lowered to the time from which these samples may give another value.
  Value selector(NodeId n, int64_t t_ms, int64_t range_ms, int64_t* until = nullptr);
  const std::vector<uint32_t>& matching_series(NodeId selector);
  Value subquery(NodeId n, int64_t t_ms);
  Value function(NodeId n, int64_t t_ms);
  const std::vector<NodeId>& inputs(NodeId n) const { return inputs_[n]; }
  const Expr& expr_of(NodeId n) const;
  LabelSetId series_labels(uint32_t series);
  void reset_labels();

  // Incremental evaluation (incremental.cc). Per node: what its value was computed from, so a
  // value kept from an earlier at() is used again when nothing under it changed.
  struct Freshness {
    uint64_t verified_pass = 0;  // the at() at which the value was last computed or found the same
    uint64_t changed_pass = 0;   // the at() at which it last changed
    uint64_t resolved_pass = 0;  // the at() at which unchanged() last answered
    int64_t at_ms = 0;           // the time it was last computed at
    // A leaf reads the store through `selector` (kNoNode for a node computed from its inputs):
    // the store's appends() then, how many series the selector matched, and the time from which
    // the same samples may give another value (one leaving the window or the lookback).
    NodeId selector = kNoNode;
    uint32_t matched = 0;
    uint64_t appends = 0;
    int64_t until_ms = 0;
    bool known = false;     // computed at a current time in this label generation
    bool reusable = false;  // by kind: follows from its inputs and samples, not from the time
  };
  void classify_reuse();
  // Whether n's value at the current time is the one it had at its last verified_pass; answered
  // once per at(), after which changed_pass says so to every consumer.
  bool unchanged(NodeId n);
  bool series_unchanged(const Freshness& f);
  void note_leaf(NodeId n, NodeId selector, int64_t until_ms);
  bool keep_for_later(NodeId n);  // whether a released value stays for the next at()
  void carry_over();              // at(): the values that stay, within max_kept_elements
  void restamp(NodeId n);         // a kept value's evaluation times, moved to the current time

  // The conjunction fast path (conjunction.cc): a comparison with a constant (`x > 0.5`) and an
  // `and` of such comparisons are computed as masks over their operand's vector, so that 1,000
  // policies comparing one shared expression with their own thresholds cost one pass each over
  // a column of doubles, not a filtered copy and a label match per policy.
  enum class MaskKind : uint8_t { None, Filter, And };
  struct Column {  // a vector-valued node's values and match signatures at the current time
    std::vector<double> values;
    std::vector<LabelSetId> signatures;  // for `and` without on/ignoring; filled on demand
  };
  struct Alignment {             // where each element of one vector has its match in another
    bool identity = false;       // same length, element i matches element i
    bool unique = false;         // each signature at most once on the right: index is valid
    std::vector<int32_t> index;  // right element matching left element i, or -1
  };
  void classify_masks();
  // The mask of node n over its base vector (written to keep); returns the base node, or
  // kNoNode when n cannot be computed as a mask at this time (a scalar operand).
  // `outermost`: n is what the caller asked for, not a mask under it (only those keep bits).
  NodeId mask(NodeId n, std::vector<uint64_t>& keep, bool outermost = true);
  NodeId mask_of(NodeId n, std::vector<uint64_t>& keep);  // mask() without the bookkeeping
  void mark_masked(NodeId n);  // n and the masks under it, as mask_of() marks them
  // The bits of masks whose inputs did not change are kept from one at() to the next: a
  // thousand policies over an unchanged expression then cost a copy each, not a comparison.
  struct KeptMask {
    uint64_t pass = 0;  // the at() they were computed at
    NodeId base = kNoNode;
    std::vector<uint64_t> bits;
  };
  std::vector<KeptMask> kept_masks_;  // by node
  size_t kept_mask_words_ = 0;
  // A mask buffer for the length of one computation; masks nest (an operand can itself be
  // computed through masks), so buffers are a stack.
  struct MaskBuffer {
    explicit MaskBuffer(Evaluator& ev);
    ~MaskBuffer();
    MaskBuffer(const MaskBuffer&) = delete;
    MaskBuffer& operator=(const MaskBuffer&) = delete;
    std::vector<uint64_t>* keep;  // a bitmap, 64 elements a word
    Evaluator& ev_;
  };
  const Column& column(NodeId base);
  const std::vector<LabelSetId>& none_signatures(NodeId base);
  const Alignment& alignment(NodeId and_node, NodeId left, NodeId right);
  Value materialize(NodeId base, const std::vector<uint64_t>& keep, int64_t t_ms);
  void release(NodeId input);
  void recycle(Value& v);           // empties v, keeping a large vector's buffer
  Vector vector_of_size(size_t n);  // uninitialized, in a kept buffer when there is one

  const std::vector<Module>& modules_;
  const Program& program_;
  const WindowStore& store_;
  EvalOptions options_;
  std::vector<std::vector<NodeId>> inputs_;  // graph in-edges, in operand order
  int64_t now_ms_ = 0;
  // Values at the current time, by node; values at other times (offsets, subqueries) by key.
  // kKept: a value computed at an earlier time, used again once unchanged() says so.
  enum : uint8_t { kNotComputed, kComputed, kDropped, kKept };
  std::vector<Value> now_values_;
  std::vector<uint8_t> now_state_;
  std::vector<uint32_t> consumers_;  // expression nodes that read each node
  std::vector<uint32_t> uses_left_;  // consumers not yet computed at the current time
  std::vector<Freshness> fresh_;     // by node
  size_t kept_elements_ = 0;         // in values kept for the next at()
  uint64_t computed_nodes_ = 0;
  std::unordered_map<uint64_t, std::unordered_map<int64_t, Value>> past_values_;
  LabelTable table_;
  uint64_t label_generation_ = 0;
  std::vector<LabelSetId> series_labels_;  // store series id -> label set, or kUnset
  std::vector<Sample> scratch_;
  std::vector<Vector> spare_vectors_;  // buffers of dropped values, for the next ones
  // sum/avg/count_over_time straight from a selector, by node, then by the selector's
  // matching series: the windows they slid over at the last evaluation.
  std::vector<std::vector<WindowSum>> window_sums_;
  // min/max/quantile_over_time straight from a selector, the same way.
  std::vector<std::vector<WindowOrder>> window_orders_;
  struct MatchedSeries {
    size_t scanned = 0;         // candidates (series of the metric, or all series) looked at
    std::vector<uint32_t> ids;  // those the matchers accept, in store order
  };
  std::vector<MatchedSeries> matched_series_;   // by selector node
  std::vector<MaskKind> mask_kind_;             // by node
  std::vector<NodeId> filter_operand_;          // Filter: the vector operand
  std::vector<BinaryOp> filter_op_;             // Filter: as `operand op constant`
  std::vector<double> filter_constant_;         // Filter
  std::unordered_map<NodeId, Column> columns_;  // at the current time
  std::map<std::tuple<NodeId, NodeId, NodeId>, Alignment> alignments_;
  std::deque<std::vector<uint64_t>> mask_buffers_;  // a stack: references stay valid
  size_t buffers_in_use_ = 0;
  std::vector<int32_t> position_;  // by signature, -1 when absent (scratch)
  std::vector<uint8_t> masked_;    // by node: computed as a mask at the current time
  // The id sequence of each base vector truth() was asked about, kept across times.
  struct Layout {
    uint64_t stamp = 0;
    uint64_t pass = 0;  // the at() it was last compared in
    bool unique = false;
    std::vector<LabelSetId> ids;
  };
  std::unordered_map<NodeId, Layout> layouts_;
  uint64_t passes_ = 0;       // at() calls
  uint64_t last_layout_ = 0;  // stamps handed out
};

// The label set two samples are matched on by binary operator e: on(...) keeps only those,
// ignoring(...) and the default drop those and the metric name.
LabelSetId match_signature(LabelSetId id, const Expr& e, uint32_t slot, LabelTable& table);

// The parts of evaluation that do not depend on the graph, each in a file of its own. `slot`
// names the operator (its node) for the label table's projection cache.
Value binary_operation(const Expr& op, uint32_t slot, const Value& lhs, const Value& rhs,
                       int64_t t_ms, LabelTable& table);
Value aggregate(const Expr& agg, uint32_t slot, const Value* parameter, const Value& operand,
                int64_t t_ms, LabelTable& table);
// Functions of instant vectors and scalars (everything but the range-vector functions).
// `first_selector` is the first argument's expression when it is a selector (absent() takes
// its labels from the selector's equality matchers).
Value instant_function(std::string_view name, uint32_t slot, const std::vector<const Value*>& args,
                       const Expr* first_selector, int64_t t_ms, LabelTable& table);

}  // namespace setpoint
