// Walks the compiled graph for one evaluation time. Selectors, ranges, offsets and subqueries
// live here because they are about time; the arithmetic of values is in binary_operation.cc,
// aggregation.cc, instant_functions.cc and range_functions.cc.
#include "interpreter/evaluator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <span>

#include "interpreter/range_functions.h"

namespace setpoint {

namespace {

// Prometheus anchors every regex matcher: `=~"a|b"` must match the whole value.
bool matches(const Matcher& m, std::string_view value) {
  switch (m.op) {
    case MatchOp::Equal:
      return value == m.value;
    case MatchOp::NotEqual:
      return value != m.value;
    case MatchOp::Regex:
    case MatchOp::NotRegex: {
      static thread_local std::map<std::string, std::regex> cache;
      auto it = cache.find(m.value);
      if (it == cache.end()) {
        it = cache.emplace(m.value, std::regex("^(?:" + m.value + ")$", std::regex::ECMAScript))
                 .first;
      }
      bool hit = std::regex_match(value.begin(), value.end(), it->second);
      return m.op == MatchOp::Regex ? hit : !hit;
    }
  }
  return false;
}

int64_t saturating_add(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

// From when a series' samples, as they stand, may give an instant selector at t another value:
// when the sample it sees leaves the lookback. One it does not see stays unseen (only a new
// sample changes that), unless a sample later than t is stored already.
int64_t instant_until(std::span<const Sample> live, int64_t t_ms, int64_t lookback_ms) {
  if (live.empty()) return INT64_MAX;
  const Sample& newest = live.back();
  if (newest.t_ms > t_ms) return t_ms + 1;
  if (is_stale_marker(newest.value) || newest.t_ms <= t_ms - lookback_ms) return INT64_MAX;
  return saturating_add(newest.t_ms, lookback_ms);
}

// The same for a window (t - range, t] whose oldest sample is at oldest_ms (nullopt: empty).
int64_t window_until(std::span<const Sample> live, std::optional<int64_t> oldest_ms, int64_t t_ms,
                     int64_t range_ms) {
  if (!live.empty() && live.back().t_ms > t_ms) return t_ms + 1;
  return oldest_ms ? saturating_add(*oldest_ms, range_ms) : INT64_MAX;
}

// The oldest sample in a sliding window after its last move, stale markers included (one
// leaving changes nothing, so the answer is early at worst).
std::optional<int64_t> oldest_in(const WindowCursor& w, const WindowStore::Positioned& series) {
  if (w.begin >= w.end || w.begin < series.first) return std::nullopt;
  return series.samples[w.begin - series.first].t_ms;
}

}  // namespace

constexpr LabelSetId kUnset = UINT32_MAX;

Evaluator::Evaluator(const std::vector<Module>& modules, const Program& program,
                     const WindowStore& store, EvalOptions options)
    : modules_(modules), program_(program), store_(store), options_(options) {
  size_t n = boost::num_vertices(program.graph);
  inputs_.resize(n);
  for (NodeId v = 0; v < n; ++v) {
    for (auto [e, end] = boost::in_edges(v, program.graph); e != end; ++e) {
      inputs_[v].push_back(boost::source(*e, program.graph));
    }
  }
  now_values_.resize(n);
  matched_series_.resize(n);
  now_state_.assign(n, kNotComputed);
  consumers_.assign(n, 0);
  for (NodeId v = 0; v < n; ++v) {
    if (!is_expression(program.graph[v].kind)) continue;
    for (NodeId i : inputs_[v]) ++consumers_[i];
  }
  uses_left_ = consumers_;
  classify_masks();
  classify_reuse();
}

void Evaluator::reset_labels() {
  table_ = LabelTable();
  ++label_generation_;
  series_labels_.clear();
  layouts_.clear();                             // their ids mean nothing now; new stamps follow
  for (Freshness& f : fresh_) f.known = false;  // nor do the values kept
}

void Evaluator::at(int64_t t_ms) {
  if (table_.size() > options_.max_label_sets) reset_labels();
  now_ms_ = t_ms;
  ++passes_;
  carry_over();
  uses_left_ = consumers_;
  past_values_.clear();
  alignments_.clear();
  std::fill(masked_.begin(), masked_.end(), 0);
}

const Value& Evaluator::value(NodeId n) { return value_at(n, now_ms_); }

void Evaluator::drop(NodeId n) {
  if (now_state_[n] != kComputed) return;
  recycle(now_values_[n]);
  now_state_[n] = kDropped;
}

// A large vector's buffer is kept for the next one: 1,000 policies each materializing a few
// thousand instances at every evaluation would otherwise allocate and free a large block
// apiece, and with every large allocation glibc consolidates the small blocks events freed.
void Evaluator::recycle(Value& v) {
  constexpr size_t kWorthKeeping = 256, kSpares = 8;
  if (v.vector.capacity() >= kWorthKeeping && spare_vectors_.size() < kSpares) {
    v.vector.clear();
    spare_vectors_.push_back(std::move(v.vector));
  }
  v = Value{};
}

Vector Evaluator::vector_of_size(size_t n) {
  Vector out;
  if (!spare_vectors_.empty() && n >= 64) {
    out = std::move(spare_vectors_.back());
    spare_vectors_.pop_back();
  }
  out.resize(n);
  return out;
}

const Value& Evaluator::value_at(NodeId n, int64_t t_ms) {
  if (t_ms == now_ms_) {
    if (now_state_[n] != kComputed) {
      Freshness& f = fresh_[n];
      if (unchanged(n) && now_state_[n] == kKept) {
        restamp(n);
      } else {
        if (now_state_[n] == kKept) {
          recycle(now_values_[n]);  // of an earlier time
          columns_.erase(n);
        }
        now_state_[n] = kNotComputed;
        f.known = false;  // until computed: an exception may end it half-way
        f.selector = kNoNode;
        NodeId base = kNoNode;
        if (mask_kind_[n] != MaskKind::None) {
          MaskBuffer buffer(*this);
          base = mask(n, *buffer.keep);
          if (base != kNoNode) now_values_[n] = materialize(base, *buffer.keep, t_ms);
        }
        if (base == kNoNode) now_values_[n] = compute(n, t_ms);
        fresh_[n].known = true;
        fresh_[n].at_ms = t_ms;
        ++computed_nodes_;
      }
      fresh_[n].verified_pass = passes_;
      now_state_[n] = kComputed;
      // Once every consumer in the graph has read an input, its value is dropped: memory holds
      // the values on the current evaluation front, not one per node. Nodes read from outside
      // (conditions) have no consumer here and stay until the next at(); a dropped node asked
      // for again is computed again.
      if (is_expression(program_.graph[n].kind)) {
        for (NodeId i : inputs_[n]) release(i);
      }
    }
    return now_values_[n];
  }
  auto& at_node = past_values_[n];
  auto found = at_node.find(t_ms);
  if (found != at_node.end()) return found->second;
  Value v = compute(n, t_ms);
  return past_values_[n].emplace(t_ms, std::move(v)).first->second;
}

// One consumer of node i is done with it at this time. A node computed as a mask keeps no value
// of its own: once its last consumer is done, so is it with its own inputs.
void Evaluator::release(NodeId i) {
  if (uses_left_[i] == 0 || --uses_left_[i] > 0) return;
  if (now_state_[i] == kComputed) {
    if (keep_for_later(i)) return;  // for the next at(), and any later reader of this one
    recycle(now_values_[i]);
    now_state_[i] = kDropped;
    columns_.erase(i);
  } else if (masked_[i]) {
    for (NodeId j : inputs_[i]) release(j);
  }
}

const Expr& Evaluator::expr_of(NodeId n) const {
  const GraphNode& g = program_.graph[n];
  return modules_[g.module].expr(g.expr);
}

LabelSetId Evaluator::series_labels(uint32_t series) {
  if (series >= series_labels_.size()) series_labels_.resize(store_.series_count(), kUnset);
  LabelSetId& id = series_labels_[series];
  if (id == kUnset) id = table_.intern(store_.labels(series));
  return id;
}

// The series a selector's matchers pick, with their samples at t (instant, range_ms == 0) or
// in (t - range, t].
Value Evaluator::selector(NodeId n, int64_t t_ms, int64_t range_ms, int64_t* until) {
  Value out;
  out.type = range_ms > 0 ? ValueType::Matrix : ValueType::Vector;
  out.matrix.start_ms = t_ms - range_ms;
  out.matrix.end_ms = t_ms;
  for (uint32_t id : matching_series(n)) {
    if (range_ms > 0) {
      store_.range(id, t_ms - range_ms, t_ms, scratch_);
      if (until) {
        std::optional<int64_t> oldest;
        if (!scratch_.empty()) oldest = scratch_.front().t_ms;
        *until =
            std::min(*until, window_until(store_.positioned(id).samples, oldest, t_ms, range_ms));
      }
      if (scratch_.empty()) continue;
      auto begin = static_cast<uint32_t>(out.matrix.points.size());
      out.matrix.points.insert(out.matrix.points.end(), scratch_.begin(), scratch_.end());
      out.matrix.series.push_back(
          {series_labels(id), begin, static_cast<uint32_t>(out.matrix.points.size())});
    } else {
      if (until) {
        *until = std::min(*until,
                          instant_until(store_.positioned(id).samples, t_ms, options_.lookback_ms));
      }
      if (std::optional<Sample> s = store_.instant(id, t_ms, options_.lookback_ms)) {
        out.vector.push_back({series_labels(id), s->value, s->t_ms});
      }
    }
  }
  return out;
}

// The store only ever adds series, so the ones a selector matches are kept from one
// evaluation to the next and only series added since are matched: a thousand policies each
// watching ten of 10,000 series do not compare 10 million label sets per evaluation.
const std::vector<uint32_t>& Evaluator::matching_series(NodeId n) {
  const Expr& e = expr_of(n);
  std::string_view metric = e.text;
  for (const Matcher& m : e.matchers) {
    if (metric.empty() && m.label == "__name__" && m.op == MatchOp::Equal) metric = m.value;
  }
  MatchedSeries& matched = matched_series_[n];
  auto consider = [&](uint32_t id) {
    const Labels& labels = store_.labels(id);
    bool ok = std::all_of(e.matchers.begin(), e.matchers.end(), [&](const Matcher& m) {
      return matches(m, label_value(labels, m.label));
    });
    if (ok) matched.ids.push_back(id);
  };
  if (!metric.empty()) {
    const std::vector<uint32_t>& named = store_.series_named(metric);
    for (; matched.scanned < named.size(); ++matched.scanned) consider(named[matched.scanned]);
  } else {
    for (; matched.scanned < store_.series_count(); ++matched.scanned) {
      consider(static_cast<uint32_t>(matched.scanned));
    }
  }
  return matched.ids;
}

// inner[range:step] at t: the inner expression at every multiple of step in (t - range, t].
Value Evaluator::subquery(NodeId n, int64_t t_ms) {
  const Expr& e = expr_of(n);
  NodeId inner = inputs(n).front();
  int64_t range = seconds_to_ms(e.number);
  int64_t step = e.step > 0 ? seconds_to_ms(e.step) : options_.default_subquery_step_ms;
  int64_t start = t_ms - range;
  int64_t first = (start / step) * step;
  while (first <= start) first += step;  // the left edge is excluded, as for ranges
  Value out;
  out.type = ValueType::Matrix;
  out.matrix.start_ms = start;
  out.matrix.end_ms = t_ms;
  // Points are gathered per series, then laid out flat in series order.
  std::unordered_map<LabelSetId, size_t> index;
  std::vector<std::pair<LabelSetId, std::vector<Sample>>> gathered;
  auto add = [&](LabelSetId labels, int64_t ts, double v) {
    auto [it, fresh] = index.emplace(labels, gathered.size());
    if (fresh) gathered.push_back({labels, {}});
    gathered[it->second].second.push_back({ts, v});
  };
  for (int64_t ts = first; ts <= t_ms; ts += step) {
    const Value& v = value_at(inner, ts);
    if (v.type == ValueType::Scalar) {
      add(LabelTable::kEmpty, ts, v.scalar);
    } else {
      for (const VectorSample& s : v.vector) add(s.labels, ts, s.value);
    }
  }
  for (auto& [labels, points] : gathered) {
    auto begin = static_cast<uint32_t>(out.matrix.points.size());
    out.matrix.points.insert(out.matrix.points.end(), points.begin(), points.end());
    out.matrix.series.push_back({labels, begin, static_cast<uint32_t>(out.matrix.points.size())});
  }
  return out;
}

Value Evaluator::function(NodeId n, int64_t t_ms) {
  const Expr& e = expr_of(n);
  std::string_view name = e.text;
  const std::vector<NodeId>& in = inputs(n);
  if (is_range_function(name)) {
    // f(selector[range]), the common case, straight from the store: no range vector is built.
    std::vector<double> scalars;
    NodeId range = kNoNode;
    bool direct = true;
    for (NodeId i : in) {
      if (program_.graph[i].kind == NodeKind::Range) {
        direct &= range == kNoNode;
        range = i;
      } else {
        const Value& v = value_at(i, t_ms);
        direct &= v.type == ValueType::Scalar;
        scalars.push_back(v.scalar);
      }
    }
    NodeId selector_node = range == kNoNode ? kNoNode : inputs(range).front();
    if (direct && selector_node != kNoNode &&
        program_.graph[selector_node].kind == NodeKind::Selector) {
      int64_t range_ms = seconds_to_ms(expr_of(range).number);
      int64_t start = t_ms - range_ms;
      bool keep_name = name == "last_over_time";
      const std::vector<uint32_t>& ids = matching_series(selector_node);
      // Windows at the current time slide with it; other times (subqueries) are one-offs.
      std::optional<WindowSum::Fn> sliding;
      std::optional<WindowOrder::Fn> ordered;
      if (t_ms == now_ms_) {
        sliding = WindowSum::kind_of(name);
        ordered = WindowOrder::kind_of(name);
      }
      // This node's windows, one per matching series: ids only grow, each keeping its place.
      auto windows_of = [&](auto& by_node) {
        if (by_node.size() <= n) by_node.resize(n + 1);
        by_node[n].resize(ids.size());
        return &by_node[n];
      };
      std::vector<WindowSum>* sums = sliding ? windows_of(window_sums_) : nullptr;
      std::vector<WindowOrder>* orders = ordered ? windows_of(window_orders_) : nullptr;
      // At the current time this node is a leaf: the samples say until when it holds.
      bool now = t_ms == now_ms_;
      int64_t until = INT64_MAX;
      Value out;
      for (size_t k = 0; k < ids.size(); ++k) {
        uint32_t id = ids[k];
        std::optional<double> v;
        // Sliding windows are only kept at the current time, so `series` is there for them.
        WindowStore::Positioned series;
        if (now) series = store_.positioned(id);
        std::optional<int64_t> oldest;
        if (sliding) {
          constexpr size_t kBatch = 16;
          if (k % kBatch == 0) {
            for (size_t j = k; j < std::min(k + kBatch, ids.size()); ++j) {
              (*sums)[j].prefetch(store_.positioned(ids[j]));
            }
          }
          v = (*sums)[k].at(*sliding, name, series, t_ms, range_ms, scratch_);
          oldest = oldest_in((*sums)[k].window(), series);
        } else if (ordered) {
          v = (*orders)[k].at(*ordered, series, t_ms, range_ms, scalars);
          oldest = oldest_in((*orders)[k].window(), series);
        } else {
          std::span<const Sample> window = store_.range_view(id, start, t_ms, scratch_);
          if (!window.empty()) {
            oldest = window.front().t_ms;
            v = range_function_at(name, window, start, t_ms, t_ms, scalars);
          }
        }
        if (now) until = std::min(until, window_until(series.samples, oldest, t_ms, range_ms));
        if (!v) continue;
        LabelSetId labels = series_labels(id);
        out.vector.push_back({keep_name ? labels : table_.without_name(labels), *v, t_ms});
      }
      if (now) note_leaf(n, selector_node, until);
      return out;
    }
  }
  std::vector<const Value*> args;
  for (NodeId i : in) args.push_back(&value_at(i, t_ms));
  // The selector under the first argument, for absent() and absent_over_time().
  const Expr* first_selector = nullptr;
  if (!in.empty()) {
    NodeId a = in.front();
    while (program_.graph[a].kind == NodeKind::Range ||
           program_.graph[a].kind == NodeKind::Offset) {
      a = inputs(a).front();
    }
    if (program_.graph[a].kind == NodeKind::Selector) first_selector = &expr_of(a);
  }
  if (name == "absent_over_time") {
    Value out = instant_function("absent", n, {}, first_selector, t_ms, table_);
    if (!args[0]->matrix.points.empty()) out.vector.clear();
    return out;
  }
  if (!is_range_function(name))
    return instant_function(name, n, args, first_selector, t_ms, table_);

  const Value* matrix = nullptr;
  std::vector<double> scalars;
  for (const Value* a : args) {
    if (a->type == ValueType::Matrix) {
      matrix = a;
    } else {
      scalars.push_back(a->scalar);
    }
  }
  Value out;
  if (!matrix) return out;
  const Matrix& m = matrix->matrix;
  // last_over_time acts like an offset and keeps the metric name; the others drop it.
  bool keep_name = name == "last_over_time";
  for (const Matrix::Series& s : m.series) {
    std::span<const Sample> points(m.points.data() + s.begin, s.end - s.begin);
    std::optional<double> v = range_function_at(name, points, m.start_ms, m.end_ms, t_ms, scalars);
    if (!v) continue;
    out.vector.push_back({keep_name ? s.labels : table_.without_name(s.labels), *v, t_ms});
  }
  return out;
}

Value Evaluator::compute(NodeId n, int64_t t_ms) {
  const GraphNode& g = program_.graph[n];
  switch (g.kind) {
    case NodeKind::Number:
      return Value::of_scalar(g.value);
    case NodeKind::String: {
      Value out;
      out.type = ValueType::String;
      out.string = expr_of(n).string_value;
      return out;
    }
    case NodeKind::Selector: {
      if (t_ms != now_ms_) return selector(n, t_ms, 0);
      int64_t until = INT64_MAX;
      Value out = selector(n, t_ms, 0, &until);
      note_leaf(n, n, until);
      return out;
    }
    case NodeKind::Range: {
      NodeId in = inputs(n).front();
      // x[5m] offset 1m compiles as offset(range(x)); range(offset(x)) is not PromQL.
      int64_t range_ms = seconds_to_ms(expr_of(n).number);
      if (t_ms != now_ms_) return selector(in, t_ms, range_ms);
      int64_t until = INT64_MAX;
      Value out = selector(in, t_ms, range_ms, &until);
      note_leaf(n, in, until);
      return out;
    }
    case NodeKind::Subquery:
      return subquery(n, t_ms);
    case NodeKind::Offset: {
      Value v = value_at(inputs(n).front(), t_ms - seconds_to_ms(expr_of(n).number));
      return v;
    }
    case NodeKind::Function:
      return function(n, t_ms);
    case NodeKind::Aggregation: {
      const Expr& e = expr_of(n);
      const std::vector<NodeId>& in = inputs(n);
      const Value* parameter = in.size() > 1 ? &value_at(in[0], t_ms) : nullptr;
      return aggregate(e, n, parameter, value_at(in.back(), t_ms), t_ms, table_);
    }
    case NodeKind::Unary: {
      Value v = value_at(inputs(n).front(), t_ms);
      if (v.type == ValueType::Scalar) {
        v.scalar = -v.scalar;
        return v;
      }
      for (VectorSample& s : v.vector) {
        s.value = -s.value;
        s.labels = table_.without_name(s.labels);
        s.t_ms = t_ms;
      }
      return v;
    }
    case NodeKind::Binary: {
      const std::vector<NodeId>& in = inputs(n);
      const Value& l = value_at(in[0], t_ms);
      const Value& r = value_at(in[1], t_ms);
      return binary_operation(expr_of(n), n, l, r, t_ms, table_);
    }
    case NodeKind::KnobValue: {
      std::optional<double> v = knob_value ? knob_value(g.label) : std::nullopt;
      if (!v) return Value{};  // unknown: an empty vector, so nothing compares true
      return Value::of_scalar(*v);
    }
    case NodeKind::Baseline: {
      Value out;
      if (!baseline_value) return out;
      for (const auto& [labels, v] : baseline_value(n)) {
        out.vector.push_back({table_.intern(labels), v, t_ms});
      }
      return out;
    }
    default:
      // Conditions and policies are the engine's: they have no value of their own.
      return Value{};
  }
}

}  // namespace setpoint
