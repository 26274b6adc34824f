// Incremental evaluation: a value computed at one at() is used again at a later one when
// nothing it was computed from changed. The daemon scrapes many targets on their own schedules
// and evaluates at every scrape; each scrape brings the samples of a few series, and a policy
// over other series should cost nothing.
//
// Leaves read the store: a selector, a range, or a range function computed straight from a
// selector's windows. A leaf is the same while no series its selector matches accepted a
// sample, no new series matched, and the time has not reached `until`: the first moment one of
// the samples it saw leaves its window (or the 5-minute lookback). A sample later than the
// evaluation time makes `until` the next millisecond (an offline store loaded ahead of time).
// A node computed from inputs is the same while every input is, unless its value follows the
// clock itself (time(), rate's extrapolation, offsets, subqueries, knobs): those are never
// reused, and neither is anything computed from them.
//
// Comparison is by pass numbers, never by values: each node records the at() at which it was
// last found current (verified_pass) and the last at() at which it changed (changed_pass); a
// consumer is current while no input changed after its own verified_pass.
#include <algorithm>

#include "interpreter/evaluator.h"

namespace setpoint {

namespace {

// Functions whose value at t depends on t itself, not only on their arguments' values.
bool follows_the_clock(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "time",        "timestamp",   "rate",          "increase",      "delta",
      "hour",        "minute",      "month",         "year",          "day_of_month",
      "day_of_week", "day_of_year", "days_in_month", "predict_linear"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

size_t elements(const Value& v) {
  return v.vector.size() + v.matrix.points.size() + v.matrix.series.size();
}

}  // namespace

void Evaluator::classify_reuse() {
  size_t n = boost::num_vertices(program_.graph);
  fresh_.assign(n, Freshness{});
  kept_masks_.resize(n);  // never again: mask() holds references into it across value_at()
  for (NodeId v = 0; v < n; ++v) {
    switch (program_.graph[v].kind) {
      case NodeKind::Number:
      case NodeKind::String:
      case NodeKind::Selector:
      case NodeKind::Range:
      case NodeKind::Aggregation:
      case NodeKind::Unary:
      case NodeKind::Binary:
        fresh_[v].reusable = true;
        break;
      case NodeKind::Function:
        fresh_[v].reusable = !follows_the_clock(expr_of(v).text);
        break;
      default:
        // Offsets and subqueries are computed at other times; knobs and baselines are the
        // engine's to say; conditions and policies have no value of their own.
        break;
    }
  }
}

bool Evaluator::unchanged(NodeId n) {
  Freshness& f = fresh_[n];
  if (f.resolved_pass == passes_) return f.changed_pass != passes_;
  f.resolved_pass = passes_;
  if (!options_.incremental) {
    f.changed_pass = passes_;
    return false;
  }
  // Constants never change (and masks read theirs without computing them).
  NodeKind own = program_.graph[n].kind;
  if (own == NodeKind::Number || own == NodeKind::String) return true;
  bool same = f.reusable && f.known && now_ms_ >= f.at_ms;
  bool leaf = f.selector != kNoNode;
  if (same && leaf) {
    same = now_ms_ < f.until_ms && series_unchanged(f);
    // What arrived since went to other series: the next look starts from here.
    if (same) f.appends = store_.appends();
  }
  for (size_t k = 0; same && k < inputs_[n].size(); ++k) {
    NodeId i = inputs_[n][k];
    NodeKind kind = program_.graph[i].kind;
    if (leaf && (kind == NodeKind::Range || kind == NodeKind::Selector)) continue;  // the store
    unchanged(i);
    same = fresh_[i].changed_pass <= f.verified_pass;
  }
  if (!same) f.changed_pass = passes_;
  return same;
}

bool Evaluator::series_unchanged(const Freshness& f) {
  const std::vector<uint32_t>& ids = matching_series(f.selector);
  if (ids.size() != f.matched) return false;
  if (store_.appends() == f.appends) return true;  // nothing arrived anywhere
  // A tick that brought samples for these series usually brought one for the first of them.
  return std::none_of(ids.begin(), ids.end(),
                      [&](uint32_t id) { return store_.appended_at(id) > f.appends; });
}

void Evaluator::note_leaf(NodeId n, NodeId selector, int64_t until_ms) {
  Freshness& f = fresh_[n];
  f.selector = selector;
  f.matched = static_cast<uint32_t>(matched_series_[selector].ids.size());
  f.appends = store_.appends();
  f.until_ms = until_ms;
}

bool Evaluator::keep_for_later(NodeId n) {
  const Freshness& f = fresh_[n];
  if (!options_.incremental || !f.reusable || !f.known) return false;
  size_t size = elements(now_values_[n]);
  if (kept_elements_ + size > options_.max_kept_elements) return false;
  kept_elements_ += size;
  return true;
}

void Evaluator::carry_over() {
  kept_elements_ = 0;
  for (NodeId n = 0; n < now_state_.size(); ++n) {
    uint8_t& state = now_state_[n];
    if (state == kComputed || state == kKept) {
      if (keep_for_later(n)) {
        state = kKept;
        continue;
      }
      recycle(now_values_[n]);
    }
    state = kNotComputed;
  }
  std::erase_if(columns_, [&](const auto& c) { return now_state_[c.first] != kKept; });
}

void Evaluator::restamp(NodeId n) {
  Value& v = now_values_[n];
  switch (program_.graph[n].kind) {
    case NodeKind::Selector:
      return;  // a selector's samples carry their own times
    case NodeKind::Range: {
      int64_t range_ms = v.matrix.end_ms - v.matrix.start_ms;
      v.matrix.end_ms = now_ms_;
      v.matrix.start_ms = now_ms_ - range_ms;
      return;
    }
    default:
      for (VectorSample& s : v.vector) s.t_ms = now_ms_;
  }
}

}  // namespace setpoint
