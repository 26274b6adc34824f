// PromQL's binary operators: arithmetic and comparisons between scalars and vectors, vector
// matching (on / ignoring, group_left / group_right) and the set operators and / or / unless.
// Follows Prometheus' engine.go: which side's value and labels a result keeps, when the metric
// name is dropped, and which matchings are refused.
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "interpreter/evaluator.h"

namespace setpoint {
namespace {

bool drops_metric_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
    case BinaryOp::Sub:
    case BinaryOp::Mul:
    case BinaryOp::Div:
    case BinaryOp::Mod:
    case BinaryOp::Pow:
    case BinaryOp::Atan2:
      return true;
    default:
      return false;
  }
}

// The value of `l op r`, and for comparisons whether it holds (arithmetic always "holds").
std::pair<double, bool> apply(BinaryOp op, double l, double r) {
  switch (op) {
    case BinaryOp::Add:
      return {l + r, true};
    case BinaryOp::Sub:
      return {l - r, true};
    case BinaryOp::Mul:
      return {l * r, true};
    case BinaryOp::Div:
      return {l / r, true};
    case BinaryOp::Mod:
      return {std::fmod(l, r), true};
    case BinaryOp::Pow:
      return {std::pow(l, r), true};
    case BinaryOp::Atan2:
      return {std::atan2(l, r), true};
    case BinaryOp::Eq:
      return {l, l == r};
    case BinaryOp::Ne:
      return {l, l != r};
    case BinaryOp::Lt:
      return {l, l < r};
    case BinaryOp::Le:
      return {l, l <= r};
    case BinaryOp::Gt:
      return {l, l > r};
    case BinaryOp::Ge:
      return {l, l >= r};
    default:
      return {0, false};
  }
}

LabelSetId result_labels(LabelSetId many, LabelSetId one, const Expr& e, LabelTable& table) {
  bool drop = drops_metric_name(e.op) || e.bool_modifier;
  if (e.group_side == GroupSide::None && e.grouping == Grouping::None) {
    return drop ? table.without_name(many) : many;
  }
  Labels out = table.get(drop ? table.without_name(many) : many);
  if (e.group_side == GroupSide::None) {
    std::erase_if(out, [&](const Label& l) {
      bool listed = std::find(e.grouping_labels.begin(), e.grouping_labels.end(), l.name) !=
                    e.grouping_labels.end();
      return e.grouping == Grouping::On ? !listed : listed;
    });
  }
  const Labels& from = table.get(one);
  for (std::string_view name : e.include_labels) {
    std::erase_if(out, [&](const Label& l) { return l.name == name; });
    std::string_view v = label_value(from, name);
    if (!v.empty()) out.push_back({std::string(name), std::string(v)});
  }
  std::sort(out.begin(), out.end());
  return table.intern(out);
}

// A comparison filter of a vector against a constant, the commonest shape in policies
// (`p95 > 500ms`): one tight loop per operator, writing into a vector sized in advance.
template <typename Holds>
void filter(const Vector& in, int64_t t_ms, Holds holds, Vector& out) {
  out.resize(in.size());
  size_t n = 0;
  for (const VectorSample& s : in) {
    out[n] = {s.labels, s.value, t_ms};
    n += holds(s.value);
  }
  out.resize(n);
}

bool filter_by_comparison(BinaryOp op, const Vector& in, double c, bool scalar_left, int64_t t_ms,
                          Vector& out) {
  // `c < v` is `v > c`.
  if (scalar_left) {
    op = op == BinaryOp::Lt   ? BinaryOp::Gt
         : op == BinaryOp::Le ? BinaryOp::Ge
         : op == BinaryOp::Gt ? BinaryOp::Lt
         : op == BinaryOp::Ge ? BinaryOp::Le
                              : op;
  }
  switch (op) {
    case BinaryOp::Gt:
      filter(
          in, t_ms, [c](double v) { return v > c; }, out);
      return true;
    case BinaryOp::Ge:
      filter(
          in, t_ms, [c](double v) { return v >= c; }, out);
      return true;
    case BinaryOp::Lt:
      filter(
          in, t_ms, [c](double v) { return v < c; }, out);
      return true;
    case BinaryOp::Le:
      filter(
          in, t_ms, [c](double v) { return v <= c; }, out);
      return true;
    case BinaryOp::Eq:
      filter(
          in, t_ms, [c](double v) { return v == c; }, out);
      return true;
    case BinaryOp::Ne:
      filter(
          in, t_ms, [c](double v) { return v != c; }, out);
      return true;
    default:
      return false;
  }
}

Value vector_scalar(const Expr& e, const Vector& vector, double scalar, bool scalar_left,
                    int64_t t_ms, LabelTable& table) {
  Value out;
  if (!e.bool_modifier &&
      filter_by_comparison(e.op, vector, scalar, scalar_left, t_ms, out.vector)) {
    return out;  // a filter keeps the vector's element, on whichever side it stood
  }
  out.vector.reserve(vector.size());
  bool drop = drops_metric_name(e.op) || e.bool_modifier;
  for (const VectorSample& s : vector) {
    double l = scalar_left ? scalar : s.value;
    double r = scalar_left ? s.value : scalar;
    auto [value, keep] = apply(e.op, l, r);
    if (e.bool_modifier) {
      value = keep ? 1 : 0;
      keep = true;
    }
    if (!keep) continue;
    out.vector.push_back({drop ? table.without_name(s.labels) : s.labels, value, t_ms});
  }
  return out;
}

// Keeps the samples of `in` whose matching signature is (keep == true) or is not in `marks`.
template <typename Signature>
void keep_marked(const Vector& in, const std::vector<uint8_t>& marks, bool keep, int64_t t_ms,
                 Signature signature, Vector& out) {
  size_t n = out.size();
  out.resize(n + in.size());
  for (const VectorSample& s : in) {
    LabelSetId sig = signature(s.labels);
    bool marked = sig < marks.size() && marks[sig];
    out[n] = {s.labels, s.value, t_ms};
    n += marked == keep;
  }
  out.resize(n);
}

Value set_operation(const Expr& e, uint32_t slot, const Vector& lhs, const Vector& rhs,
                    int64_t t_ms, LabelTable& table) {
  Value out;
  // Label-set ids are small and dense: a flat array of marks beats hashing them.
  auto signature_of = [&](LabelSetId id) { return match_signature(id, e, slot, table); };
  std::vector<uint8_t> marks(table.size(), 0);
  auto mark = [&](const Vector& v) {
    for (const VectorSample& s : v) {
      LabelSetId sig = signature_of(s.labels);
      if (sig >= marks.size()) marks.resize(sig + 1, 0);
      marks[sig] = 1;
    }
  };
  if (e.op == BinaryOp::Or) {
    mark(lhs);
    keep_marked(lhs, marks, true, t_ms, signature_of, out.vector);
    keep_marked(rhs, marks, false, t_ms, signature_of, out.vector);
  } else {
    mark(rhs);
    keep_marked(lhs, marks, e.op == BinaryOp::And, t_ms, signature_of, out.vector);
  }
  return out;
}

Value vector_vector(const Expr& e, uint32_t slot, const Vector& lhs, const Vector& rhs,
                    int64_t t_ms, LabelTable& table) {
  if (is_set_operator(e.op)) return set_operation(e, slot, lhs, rhs, t_ms, table);
  // group_right is group_left with the sides swapped; values keep their original sides.
  bool right = e.group_side == GroupSide::Right;
  const Vector& many = right ? rhs : lhs;
  const Vector& one = right ? lhs : rhs;
  std::unordered_map<LabelSetId, const VectorSample*> ones;
  for (const VectorSample& s : one) {
    auto [it, fresh] = ones.emplace(match_signature(s.labels, e, slot, table), &s);
    if (!fresh) {
      std::string group = labels_text(table.get(it->first));
      if (e.group_side == GroupSide::None) {
        throw EvalError("found duplicate series for the match group " + group +
                        " on the right hand-side of the operation: many-to-many matching not "
                        "allowed: matching labels must be unique on one side");
      }
      throw EvalError("found duplicate series for the match group " + group + " on the " +
                      (right ? "left" : "right") +
                      " hand-side of the operation: many-to-many matching not allowed");
    }
  }
  Value out;
  std::unordered_set<LabelSetId> matched;  // one-to-one: each match group once
  std::unordered_set<LabelSetId> results;
  for (const VectorSample& m : many) {
    LabelSetId sig = match_signature(m.labels, e, slot, table);
    auto found = ones.find(sig);
    if (found == ones.end()) continue;
    const VectorSample& o = *found->second;
    double l = right ? o.value : m.value;
    double r = right ? m.value : o.value;
    auto [value, keep] = apply(e.op, l, r);
    if (e.bool_modifier) {
      value = keep ? 1 : 0;
      keep = true;
    }
    if (!keep) continue;
    if (e.group_side == GroupSide::None && !matched.insert(sig).second) {
      throw EvalError(
          "multiple matches for labels: many-to-one matching must be explicit "
          "(group_left/group_right)");
    }
    LabelSetId labels = result_labels(m.labels, o.labels, e, table);
    if (e.group_side != GroupSide::None && !results.insert(labels).second) {
      throw EvalError("multiple matches for labels: grouping labels must ensure unique matches");
    }
    out.vector.push_back({labels, value, t_ms});
  }
  return out;
}

}  // namespace

LabelSetId match_signature(LabelSetId id, const Expr& e, uint32_t slot, LabelTable& table) {
  if (e.grouping == Grouping::None) return table.without_name(id);
  return table.project(slot, id, e.grouping_labels, e.grouping == Grouping::On);
}

Value binary_operation(const Expr& e, uint32_t slot, const Value& lhs, const Value& rhs,
                       int64_t t_ms, LabelTable& table) {
  bool ls = lhs.type == ValueType::Scalar, rs = rhs.type == ValueType::Scalar;
  if (ls && rs) {
    auto [value, keep] = apply(e.op, lhs.scalar, rhs.scalar);
    if (is_comparison(e.op)) value = keep ? 1 : 0;  // scalar comparisons need `bool`
    return Value::of_scalar(value);
  }
  if (ls) return vector_scalar(e, rhs.vector, lhs.scalar, true, t_ms, table);
  if (rs) return vector_scalar(e, lhs.vector, rhs.scalar, false, t_ms, table);
  return vector_vector(e, slot, lhs.vector, rhs.vector, t_ms, table);
}

}  // namespace setpoint
