// The conjunction fast path of the evaluator. The commonest trigger compares shared expressions
// with constants and joins the comparisons with `and`:
//   avg_over_time(a[5m]) > 412.37 and b < 96.37
// and a thousand policies differ only in their constants. Computed as PromQL values, each policy
// copies two filtered vectors and matches their label sets. Here a comparison is a mask over its
// operand's vector (one pass over a column of doubles), and `and` is a mask over its left
// operand's vector; the label match between two operand vectors is worked out once per
// evaluation time and shared by every policy that joins the same two vectors. The result, once
// materialized, is exactly what binary_operation() would have returned.
#include <algorithm>
#include <bit>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "interpreter/evaluator.h"

namespace setpoint {

namespace {

BinaryOp flipped(BinaryOp op) {
  switch (op) {
    case BinaryOp::Lt:
      return BinaryOp::Gt;
    case BinaryOp::Le:
      return BinaryOp::Ge;
    case BinaryOp::Gt:
      return BinaryOp::Lt;
    case BinaryOp::Ge:
      return BinaryOp::Le;
    default:
      return op;  // == and != are symmetric
  }
}

// Masks are bitmaps, 64 elements a word, the bits past the end zero: `and` is then one AND
// per 64 elements, and materializing visits the kept elements only.
void resize_bits(std::vector<uint64_t>& bits, size_t n) { bits.assign((n + 63) / 64, 0); }

bool test_bit(const std::vector<uint64_t>& bits, size_t i) { return bits[i >> 6] >> (i & 63) & 1; }

// bits[i] = values[i] op c. With SSE2 (every x86-64) two comparisons per instruction and their
// signs gathered with movemask; GCC does not vectorize the plain loop into bits itself.
template <typename Holds, typename Wide>
void compare_into(const std::vector<double>& values, Holds holds, Wide wide,
                  std::vector<uint64_t>& bits) {
  size_t n = values.size();
  resize_bits(bits, n);
  const double* v = values.data();
  size_t i = 0;
#ifdef __SSE2__
  for (; i + 64 <= n; i += 64) {
    // Eight elements a byte, the four pairs independent: no chain of variable shifts.
    uint64_t word = 0;
    for (int k = 0; k < 64; k += 8) {
      const double* p = v + i + k;
      auto pair = [&](int j) {
        return static_cast<uint64_t>(_mm_movemask_pd(wide(_mm_loadu_pd(p + j))));
      };
      word |= (pair(0) | pair(2) << 2 | pair(4) << 4 | pair(6) << 6) << k;
    }
    bits[i >> 6] = word;
  }
#else
  (void)wide;
#endif
  for (; i < n; ++i) bits[i >> 6] |= static_cast<uint64_t>(holds(v[i])) << (i & 63);
}

void compare(BinaryOp op, const std::vector<double>& values, double c,
             std::vector<uint64_t>& bits) {
#ifdef __SSE2__
  __m128d cc = _mm_set1_pd(c);
#define SETPOINT_WIDE(intrinsic) [cc](__m128d x) { return intrinsic(x, cc); }
#else
  int cc = 0;
#define SETPOINT_WIDE(intrinsic) [cc](int) { return cc; }
#endif
  switch (op) {
    case BinaryOp::Gt:
      return compare_into(
          values, [c](double v) { return v > c; }, SETPOINT_WIDE(_mm_cmpgt_pd), bits);
    case BinaryOp::Ge:
      return compare_into(
          values, [c](double v) { return v >= c; }, SETPOINT_WIDE(_mm_cmpge_pd), bits);
    case BinaryOp::Lt:
      return compare_into(
          values, [c](double v) { return v < c; }, SETPOINT_WIDE(_mm_cmplt_pd), bits);
    case BinaryOp::Le:
      return compare_into(
          values, [c](double v) { return v <= c; }, SETPOINT_WIDE(_mm_cmple_pd), bits);
    case BinaryOp::Eq:
      return compare_into(
          values, [c](double v) { return v == c; }, SETPOINT_WIDE(_mm_cmpeq_pd), bits);
    default:
      // NaN != c holds, as cmpneq says too.
      return compare_into(
          values, [c](double v) { return v != c; }, SETPOINT_WIDE(_mm_cmpneq_pd), bits);
  }
#undef SETPOINT_WIDE
}

}  // namespace

void Evaluator::classify_masks() {
  size_t n = boost::num_vertices(program_.graph);
  mask_kind_.assign(n, MaskKind::None);
  filter_operand_.assign(n, kNoNode);
  filter_op_.assign(n, BinaryOp::Add);
  filter_constant_.assign(n, 0);
  masked_.assign(n, 0);
  // Inputs may have larger ids than their consumers: classify leaves first, then `and` nodes
  // until nothing changes (trees of `and` are shallow).
  for (NodeId v = 0; v < n; ++v) {
    const GraphNode& g = program_.graph[v];
    if (g.kind != NodeKind::Binary || inputs_[v].size() != 2) continue;
    const Expr& e = expr_of(v);
    if (!is_comparison(e.op) || e.bool_modifier) continue;
    bool left_number = program_.graph[inputs_[v][0]].kind == NodeKind::Number;
    bool right_number = program_.graph[inputs_[v][1]].kind == NodeKind::Number;
    if (left_number == right_number) continue;
    mask_kind_[v] = MaskKind::Filter;
    filter_operand_[v] = inputs_[v][left_number ? 1 : 0];
    filter_op_[v] = left_number ? flipped(e.op) : e.op;
    filter_constant_[v] = program_.graph[inputs_[v][left_number ? 0 : 1]].value;
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (NodeId v = 0; v < n; ++v) {
      const GraphNode& g = program_.graph[v];
      if (mask_kind_[v] != MaskKind::None || g.kind != NodeKind::Binary || inputs_[v].size() != 2 ||
          expr_of(v).op != BinaryOp::And) {
        continue;
      }
      if (mask_kind_[inputs_[v][0]] == MaskKind::None ||
          mask_kind_[inputs_[v][1]] == MaskKind::None) {
        continue;
      }
      mask_kind_[v] = MaskKind::And;
      changed = true;
    }
  }
}

const Evaluator::Column& Evaluator::column(NodeId base) {
  auto [it, fresh] = columns_.try_emplace(base);
  if (fresh) {
    const Vector& v = now_values_[base].vector;
    it->second.values.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) it->second.values[i] = v[i].value;
  }
  return it->second;
}

const std::vector<LabelSetId>& Evaluator::none_signatures(NodeId base) {
  Column& c = columns_[base];
  const Vector& v = now_values_[base].vector;
  if (c.signatures.size() != v.size()) {
    c.signatures.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) c.signatures[i] = table_.without_name(v[i].labels);
  }
  return c.signatures;
}

// How the elements of `left` find theirs in `right` under and_node's matching. Without on() or
// ignoring() the answer depends on the two vectors only, so every `and` of the same two vectors
// shares it.
const Evaluator::Alignment& Evaluator::alignment(NodeId and_node, NodeId left, NodeId right) {
  const Expr& e = expr_of(and_node);
  bool plain = e.grouping == Grouping::None;
  auto key = std::make_tuple(left, right, plain ? kNoNode : and_node);
  auto [it, fresh] = alignments_.try_emplace(key);
  Alignment& a = it->second;
  if (!fresh) return a;
  std::vector<LabelSetId> projected_left, projected_right;
  const std::vector<LabelSetId>* ls = &projected_left;
  const std::vector<LabelSetId>* rs = &projected_right;
  if (plain) {
    ls = &none_signatures(left);
    rs = &none_signatures(right);
  } else {
    for (const VectorSample& s : now_values_[left].vector) {
      projected_left.push_back(match_signature(s.labels, e, and_node, table_));
    }
    for (const VectorSample& s : now_values_[right].vector) {
      projected_right.push_back(match_signature(s.labels, e, and_node, table_));
    }
  }
  if (position_.size() < table_.size()) position_.resize(table_.size(), -1);
  a.unique = true;
  for (size_t j = 0; j < rs->size(); ++j) {
    int32_t& p = position_[(*rs)[j]];
    if (p >= 0) a.unique = false;
    p = static_cast<int32_t>(j);
  }
  a.identity = a.unique && ls->size() == rs->size();
  a.index.resize(ls->size());
  for (size_t i = 0; i < ls->size(); ++i) {
    LabelSetId sig = (*ls)[i];
    a.index[i] = sig < position_.size() ? position_[sig] : -1;
    a.identity &= a.index[i] == static_cast<int32_t>(i);
  }
  for (LabelSetId sig : *rs) position_[sig] = -1;  // the scratch is all -1 again
  return a;
}

Evaluator::MaskBuffer::MaskBuffer(Evaluator& ev) : ev_(ev) {
  if (ev.mask_buffers_.size() <= ev.buffers_in_use_) ev.mask_buffers_.emplace_back();
  keep = &ev.mask_buffers_[ev.buffers_in_use_++];
}

Evaluator::MaskBuffer::~MaskBuffer() { --ev_.buffers_in_use_; }

// A node computed as a mask is current, for incremental evaluation, as one computed as a value:
// its consumers compare its changed_pass with theirs.
NodeId Evaluator::mask(NodeId n, std::vector<uint64_t>& keep, bool outermost) {
  Freshness& f = fresh_[n];
  // Resolved before its inputs are read, as value_at() does.
  if (unchanged(n)) {
    KeptMask& kept = kept_masks_[n];
    if (kept.base != kNoNode && kept.pass >= f.changed_pass) {
      // The base is read as the caller reads it (materialize, truth's layout).
      const Value& base = value_at(kept.base, now_ms_);
      if (base.type == ValueType::Vector && (base.vector.size() + 63) / 64 == kept.bits.size()) {
        keep = kept.bits;
        mark_masked(n);
        f.verified_pass = passes_;
        return kept.base;
      }
    }
  }
  NodeId base = mask_of(n, keep);
  if (base == kNoNode) return kNoNode;
  f.known = true;
  f.selector = kNoNode;
  f.at_ms = now_ms_;
  f.verified_pass = passes_;
  ++computed_nodes_;
  if (options_.incremental && outermost) {
    KeptMask& kept = kept_masks_[n];
    kept_mask_words_ -= kept.bits.size();
    if (kept_mask_words_ + keep.size() <= options_.max_kept_elements) {
      kept.pass = passes_;
      kept.base = base;
      kept.bits.assign(keep.begin(), keep.end());  // in the buffer of the last time
      kept_mask_words_ += keep.size();
    } else {
      kept = KeptMask{};
    }
  }
  return base;
}

void Evaluator::mark_masked(NodeId n) {
  masked_[n] = 1;
  if (mask_kind_[n] == MaskKind::And) {
    mark_masked(inputs_[n][0]);
    mark_masked(inputs_[n][1]);
  }
}

NodeId Evaluator::mask_of(NodeId n, std::vector<uint64_t>& keep) {
  masked_[n] = 1;
  if (mask_kind_[n] == MaskKind::Filter) {
    NodeId base = filter_operand_[n];
    const Value& v = value_at(base, now_ms_);
    if (v.type != ValueType::Vector) return kNoNode;
    compare(filter_op_[n], column(base).values, filter_constant_[n], keep);
    return base;
  }
  // `l and r`: the elements of l whose signature some element of r has.
  NodeId left = mask(inputs_[n][0], keep, false);
  if (left == kNoNode) return kNoNode;
  MaskBuffer buffer(*this);
  std::vector<uint64_t>& other = *buffer.keep;
  NodeId right = mask(inputs_[n][1], other, false);
  if (right == kNoNode) return kNoNode;
  const Alignment& a = alignment(n, left, right);
  size_t size = now_values_[left].vector.size();
  if (a.identity) {
    for (size_t w = 0; w < keep.size(); ++w) keep[w] &= other[w];
    return left;
  }
  // Element by element: clear the kept bits whose element finds no kept match on the right.
  auto clear = [&keep](size_t i) { keep[i >> 6] &= ~(uint64_t{1} << (i & 63)); };
  if (a.unique) {
    for (size_t i = 0; i < size; ++i) {
      if (a.index[i] < 0 || !test_bit(other, static_cast<size_t>(a.index[i]))) clear(i);
    }
    return left;
  }
  // Several right elements share a signature: any kept one matches.
  const Expr& e = expr_of(n);
  std::vector<uint8_t> marks(table_.size(), 0);
  const Vector& rv = now_values_[right].vector;
  for (size_t j = 0; j < rv.size(); ++j) {
    if (test_bit(other, j)) marks[match_signature(rv[j].labels, e, n, table_)] = 1;
  }
  const Vector& lv = now_values_[left].vector;
  for (size_t i = 0; i < size; ++i) {
    LabelSetId sig = match_signature(lv[i].labels, e, n, table_);
    if (sig >= marks.size() || !marks[sig]) clear(i);
  }
  return left;
}

bool Evaluator::truth(NodeId n, std::vector<uint64_t>& keep, Truth& out) {
  if (mask_kind_[n] == MaskKind::None || now_state_[n] == kComputed) return false;
  if (now_state_[n] == kKept) recycle(now_values_[n]);  // the mask is all that is asked for
  NodeId base = mask(n, keep);
  if (base == kNoNode) return false;
  // Compared once per evaluation and base, however many conditions share the base.
  Layout& l = layouts_[base];
  if (l.pass != passes_) {
    l.pass = passes_;
    const std::vector<LabelSetId>& ids = none_signatures(base);
    if (l.stamp == 0 || l.ids != ids) {
      l.ids = ids;
      l.stamp = ++last_layout_;
      std::vector<LabelSetId> sorted = ids;
      std::sort(sorted.begin(), sorted.end());
      l.unique = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
    }
  }
  out.ids = &l.ids;
  out.layout = l.stamp;
  out.unique = l.unique;
  // As value_at() does once a node is computed; the condition itself holds no value.
  now_state_[n] = kDropped;
  for (NodeId i : inputs_[n]) release(i);
  return true;
}

Value Evaluator::materialize(NodeId base, const std::vector<uint64_t>& keep, int64_t t_ms) {
  const Vector& in = now_values_[base].vector;
  size_t kept = 0;
  for (uint64_t w : keep) kept += static_cast<size_t>(std::popcount(w));
  Value out;
  out.vector = vector_of_size(kept);
  VectorSample* o = out.vector.data();
  for (size_t w = 0; w < keep.size(); ++w) {
    for (uint64_t bits = keep[w]; bits != 0; bits &= bits - 1) {
      const VectorSample& s = in[w * 64 + static_cast<size_t>(std::countr_zero(bits))];
      *o++ = {s.labels, s.value, t_ms};
    }
  }
  return out;
}

}  // namespace setpoint
