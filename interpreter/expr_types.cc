// PromQL typing of expressions (scalar, instant vector, range vector, string) and unit inference,
// with the diagnostics for wrong argument types, counts, operands and incompatible units.
#include <cmath>

#include "grammar/spelling.h"
#include "interpreter/check_context.h"

namespace setpoint {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Prometheus naming conventions carry the unit in the name's suffix.
Dim metric_dim(std::string_view name) {
  if (ends_with(name, "_count") || ends_with(name, "_bucket")) return Dim::Plain;
  bool counter = false;
  if (ends_with(name, "_total")) {
    name.remove_suffix(6);
    counter = true;
  } else if (ends_with(name, "_sum")) {
    name.remove_suffix(4);
  }
  if (ends_with(name, "_seconds")) return Dim::Seconds;
  if (ends_with(name, "_bytes")) return Dim::Bytes;
  if (ends_with(name, "_ratio")) return Dim::Ratio;
  return counter ? Dim::Plain : Dim::Unknown;
}

Dim unit_dim(Unit unit) {
  switch (unit) {
    case Unit::None:
      return Dim::Plain;
    case Unit::Seconds:
      return Dim::Seconds;
    case Unit::Bytes:
      return Dim::Bytes;
    case Unit::Percent:
      return Dim::Ratio;
  }
  return Dim::Unknown;
}

Dim knob_dim(KnobType type) {
  switch (type) {
    case KnobType::Duration:
      return Dim::Seconds;
    case KnobType::Bytes:
      return Dim::Bytes;
    case KnobType::Percent:
      return Dim::Ratio;
    default:
      return Dim::Plain;
  }
}

bool is_physical(Dim d) {
  return d == Dim::Seconds || d == Dim::Bytes || d == Dim::Ratio || d == Dim::PerSecond;
}

const char* dim_article(Dim d) {
  switch (d) {
    case Dim::Seconds:
      return "a duration";
    case Dim::Bytes:
      return "a byte size";
    case Dim::Ratio:
      return "a ratio";
    case Dim::PerSecond:
      return "a per-second rate";
    default:
      return "a number";
  }
}

// Functions that work element by element also accept a scalar (a knob's value) in setpoint.
bool is_elementwise(std::string_view f) {
  static const std::string_view names[] = {
      "abs", "ceil", "floor", "round", "clamp", "clamp_min", "clamp_max",
      "exp", "ln",   "log2",  "log10", "sqrt",  "sgn",       "sin",
      "cos", "tan",  "asin",  "acos",  "atan",  "deg",       "rad"};
  for (auto n : names) {
    if (n == f) return true;
  }
  return false;
}

// The histogram's base metric: the first selector inside, without its _bucket suffix.
Dim bucket_dim(const Module& m, ExprId id) {
  const Expr& e = m.expr(id);
  if (e.kind == ExprKind::Name || e.kind == ExprKind::Selector) {
    std::string_view name = e.text;
    if (ends_with(name, "_bucket")) name.remove_suffix(7);
    return metric_dim(name);
  }
  for (ExprId child : {e.lhs, e.rhs}) {
    if (child != kNoExpr) {
      Dim d = bucket_dim(m, child);
      if (d != Dim::Unknown) return d;
    }
  }
  for (ExprId arg : e.args) {
    Dim d = bucket_dim(m, arg);
    if (d != Dim::Unknown) return d;
  }
  return Dim::Unknown;
}

// The side of a comparison that holds `baseline` may only scale or shift it: baseline * 1.2,
// baseline + 100ms. `p95 - baseline > 100ms` would make baseline mean the constant 100ms.
bool only_baseline_arithmetic(const Module& m, ExprId id) {
  const Expr& e = m.expr(id);
  switch (e.kind) {
    case ExprKind::Number:
    case ExprKind::Baseline:
      return true;
    case ExprKind::Paren:
    case ExprKind::Unary:
      return only_baseline_arithmetic(m, e.lhs);
    case ExprKind::Binary:
      return !is_comparison(e.op) && !is_set_operator(e.op) && only_baseline_arithmetic(m, e.lhs) &&
             only_baseline_arithmetic(m, e.rhs);
    default:
      return false;
  }
}

// Whether an expression measures anything (a let, knob, metric or function), rather than being
// a constant.
bool measures_something(const Module& m, ExprId id) {
  const Expr& e = m.expr(id);
  switch (e.kind) {
    case ExprKind::Name:
    case ExprKind::Selector:
    case ExprKind::Call:
    case ExprKind::Aggregate:
      return true;
    default:
      for (ExprId child : {e.lhs, e.rhs}) {
        if (child != kNoExpr && measures_something(m, child)) return true;
      }
      return false;
  }
}

class ExprChecker {
 public:
  ExprChecker(CheckContext& ctx, uint32_t module)
      : ctx_(ctx), m_(ctx.modules[module]), module_(module), file_(ctx.file(module)) {}

  ExprInfo check(ExprId id, const ExprScope& scope) {
    ExprInfo info = infer(id, scope);
    ctx_.out.exprs[module_][id] = info;
    return info;
  }

 private:
  ExprInfo infer(ExprId id, const ExprScope& scope);
  ExprInfo name(const Expr& e);
  ExprInfo call(const Expr& e, const ExprScope& scope);
  ExprInfo aggregate(const Expr& e, const ExprScope& scope);
  ExprInfo binary(const Expr& e, const ExprScope& scope);
  void check_comparison_units(const Expr& e, const ExprInfo& l, const ExprInfo& r);
  bool expect_type(const Expr& call, size_t index, ExprId arg, ValueType want, ValueType got);

  CheckContext& ctx_;
  const Module& m_;
  uint32_t module_;
  const SourceFile* file_;
};

ExprInfo ExprChecker::name(const Expr& e) {
  ExprInfo info;
  auto let = ctx_.lets[module_].find(e.text);
  if (let != ctx_.lets[module_].end()) {
    info = check_let(ctx_, module_, let->second, e.span);
    info.name = NameKind::Let;
    info.target = let->second;
    return info;
  }
  auto knob = ctx_.knobs.find(e.text);
  if (knob != ctx_.knobs.end()) {
    info.type = ValueType::Scalar;
    info.dim = knob_dim(ctx_.out.knobs[knob->second].type);
    info.name = NameKind::Knob;
    info.target = knob->second;
    return info;
  }
  for (std::string_view b : ctx_.broken) {
    if (b == e.text) return info;  // already reported where it was defined
  }
  info.type = ValueType::Vector;
  info.dim = metric_dim(e.text);
  info.name = NameKind::Metric;
  // Lets belong to their file: a let of another file is a metric name here, which is never
  // what was meant.
  for (uint32_t other = 0; other < ctx_.lets.size(); ++other) {
    if (other != module_ && ctx_.lets[other].count(e.text)) {
      ctx_.diags.add(Code::LikelyMisspelling, file_, e.span,
                     "'" + std::string(e.text) +
                         "' is a let of another file, so here it is read as a metric name",
                     "lets belong to the file that defines them: define it in this file too");
      return info;
    }
  }
  // A typo in a let or knob name would silently select a metric that never exists.
  std::vector<std::string_view> known;
  for (const auto& [n, _] : ctx_.lets[module_]) known.push_back(n);
  for (const auto& [n, _] : ctx_.knobs) known.push_back(n);
  // Short names (x, up) are too often legitimately close to something else to warn about.
  std::string match = e.text.size() >= 4 ? closest_match(e.text, known) : std::string();
  if (match.size() >= 4) {
    bool is_let = ctx_.lets[module_].count(match) > 0;
    ctx_.diags.add(
        Code::LikelyMisspelling, file_, e.span,
        "'" + std::string(e.text) + "' is neither a let nor a knob, so it is read as a metric name",
        "did you mean the " + std::string(is_let ? "let" : "knob") + " '" + match +
            "'? A metric that looks like this is spelled {__name__=\"" + std::string(e.text) +
            "\"}");
  }
  return info;
}

// Reports an argument of the wrong type; false when it was wrong.
bool ExprChecker::expect_type(const Expr& call, size_t index, ExprId arg, ValueType want,
                              ValueType got) {
  if (got == ValueType::Unknown || got == want) return true;
  std::string hint;
  if (want == ValueType::Matrix && got == ValueType::Vector) {
    hint = "add a range to the selector, as in " + std::string(call.text) + "(metric[5m])";
  } else if (want == ValueType::Vector && got == ValueType::Matrix) {
    hint = "a range vector needs a function over time first, such as avg_over_time(...[5m])";
  } else if (want == ValueType::Scalar && got == ValueType::Vector) {
    hint = "turn a one-element vector into a scalar with scalar(...)";
  } else if (want == ValueType::String) {
    hint = "write it as a quoted string";
  }
  ctx_.diags.add(Code::ArgumentType, file_, m_.expr(arg).span,
                 std::string(call.text) + "() needs " +
                     (want == ValueType::Matrix   ? "a "
                      : want == ValueType::Vector ? "an "
                                                  : "a ") +
                     value_type_name(want) + " as argument " + std::to_string(index + 1) +
                     ", found " + (got == ValueType::Vector ? "an " : "a ") + value_type_name(got),
                 hint);
  return false;
}

ExprInfo ExprChecker::call(const Expr& e, const ExprScope& scope) {
  std::vector<ExprInfo> args;
  for (ExprId a : e.args) args.push_back(check(a, scope));
  const FunctionSignature* sig = find_function(e.text);
  if (!sig) {
    std::vector<std::string_view> names;
    for (const auto& f : all_functions()) names.push_back(f.name);
    std::string hint = did_you_mean(e.text, names);
    ctx_.diags.add(Code::UnknownFunction, file_,
                   {e.span.begin, e.span.begin + static_cast<uint32_t>(e.text.size())},
                   "unknown function '" + std::string(e.text) + "'",
                   hint.empty() ? "docs/language.md lists the supported functions" : hint);
    return {};
  }
  size_t n = args.size();
  if (n < sig->required || (n > sig->params.size() && !sig->variadic)) {
    std::string expected =
        sig->required == sig->params.size()
            ? std::to_string(sig->required)
            : std::to_string(sig->required) +
                  (sig->variadic ? " or more" : " to " + std::to_string(sig->params.size()));
    ctx_.diags.add(Code::ArgumentCount, file_, e.span,
                   std::string(e.text) + "() takes " + expected + " argument" +
                       (expected == "1" ? "" : "s") + ", found " + std::to_string(n),
                   "");
    return {sig->result, Dim::Unknown};
  }
  bool scalar_form = false;
  bool arguments_ok = true;
  for (size_t i = 0; i < n; ++i) {
    ValueType want = i < sig->params.size() ? sig->params[i] : sig->params.back();
    if (i == 0 && want == ValueType::Vector && args[0].type == ValueType::Scalar &&
        is_elementwise(e.text)) {
      scalar_form = true;
      continue;
    }
    arguments_ok &= expect_type(e, i, e.args[i], want, args[i].type);
  }
  // A wrong argument has already been reported; an unknown unit avoids a second, derived error.
  if (!arguments_ok) return {sig->result, Dim::Unknown};
  ExprInfo info;
  info.type = scalar_form ? ValueType::Scalar : sig->result;
  Dim first = n > 0 ? args[0].dim : Dim::Unknown;
  switch (sig->unit) {
    case UnitRule::Keep:
      info.dim = first;  // vector(5m), scalar(x): the only argument
      for (size_t i = 0; i < n; ++i) {
        ValueType p = i < sig->params.size() ? sig->params[i] : sig->params.back();
        if (p == ValueType::Vector || p == ValueType::Matrix) {
          info.dim = args[i].dim;
          break;
        }
      }
      break;
    case UnitRule::Plain:
      info.dim = Dim::Plain;
      break;
    case UnitRule::PerSecond:
      // Seconds per second is a fraction of time (CPU use); counts per second are a rate.
      info.dim = first == Dim::Seconds ? Dim::Ratio
                 : first == Dim::Plain ? Dim::PerSecond
                                       : Dim::Unknown;
      break;
    case UnitRule::FromSecond:
      info.dim = n > 1 ? args[1].dim : Dim::Unknown;
      break;
    case UnitRule::Bucket:
      info.dim = n > 1 ? bucket_dim(m_, e.args[1]) : Dim::Unknown;
      break;
    case UnitRule::Seconds:
      info.dim = Dim::Seconds;
      break;
  }
  return info;
}

ExprInfo ExprChecker::aggregate(const Expr& e, const ExprScope& scope) {
  std::vector<ExprInfo> args;
  for (ExprId a : e.args) args.push_back(check(a, scope));
  bool param = aggregation_takes_parameter(e.text);
  size_t want = param ? 2 : 1;
  if (args.size() != want) {
    ctx_.diags.add(Code::ArgumentCount, file_, e.span,
                   std::string(e.text) + " takes " + std::to_string(want) + " argument" +
                       (want == 1 ? "" : "s") + ", found " + std::to_string(args.size()),
                   param ? std::string(e.text) + "(PARAMETER, VECTOR), as in topk(3, x)" : "");
    return {ValueType::Vector, Dim::Unknown};
  }
  bool ok = true;
  if (param) {
    ok &=
        expect_type(e, 0, e.args[0],
                    e.text == "count_values" ? ValueType::String : ValueType::Scalar, args[0].type);
  }
  ok &= expect_type(e, want - 1, e.args[want - 1], ValueType::Vector, args[want - 1].type);
  if (!ok) return {ValueType::Vector, Dim::Unknown};
  // Counts have no unit; a variance has the square of its input's, which no check uses.
  bool counting =
      e.text == "count" || e.text == "count_values" || e.text == "group" || e.text == "stdvar";
  return {ValueType::Vector, counting ? Dim::Plain : args[want - 1].dim};
}

void ExprChecker::check_comparison_units(const Expr& e, const ExprInfo& l, const ExprInfo& r) {
  double value = 0;
  const Expr* lit_l = literal_number(m_, e.lhs, &value);
  const Expr* lit_r = lit_l ? nullptr : literal_number(m_, e.rhs, &value);
  const Expr* lit = lit_l ? lit_l : lit_r;
  const ExprInfo& other = lit_l ? r : l;
  if (lit && lit->unit == Unit::None && value != 0) {
    // The literal as the comparison sees it, with any unary minus in front of it.
    std::string text = (value < 0 ? "-" : "") + std::string(lit->text);
    if (other.dim == Dim::Seconds) {
      std::string fix = std::abs(value) >= 10 ? text + "ms" : text + "s";
      ctx_.diags.add(
          Code::BareNumberUnit, file_, lit->span,
          "comparing a duration with the bare number " + text + ", which means " + text +
              " seconds",
          "write " + fix +
              (std::abs(value) >= 10 ? " if you mean milliseconds, or " + text + "s for seconds"
                                     : " to say the unit"));
      return;
    }
    if (other.dim == Dim::Bytes) {
      ctx_.diags.add(Code::BareNumberUnit, file_, lit->span,
                     "comparing a byte size with the bare number " + text,
                     "write the size with a unit, such as " + text + "MB or " + text + "MiB");
      return;
    }
    if (other.dim == Dim::Ratio && std::abs(value) > 1) {
      ctx_.diags.add(Code::PercentScale, file_, lit->span,
                     "comparing a ratio (0 to 1) with " + text + ", which it can never reach",
                     "write " + text + "% for a percentage");
      return;
    }
  }
  if (is_physical(l.dim) && is_physical(r.dim) && l.dim != r.dim) {
    ctx_.diags.add(
        Code::UnitMismatch, file_, e.span,
        std::string("cannot compare ") + dim_article(l.dim) + " with " + dim_article(r.dim),
        "both sides of a comparison need the same unit");
  }
}

ExprInfo ExprChecker::binary(const Expr& e, const ExprScope& scope) {
  ExprInfo l, r;
  if (is_comparison(e.op) && scope.rollback) {
    // `baseline` stands for the value, before the action, of the comparison's other side.
    bool in_l = contains_baseline(m_, e.lhs);
    bool in_r = contains_baseline(m_, e.rhs);
    ExprScope inner{true, nullptr};
    static const ExprInfo kUnknown;
    if (in_l && in_r) {
      ctx_.diags.add(Code::BadBaseline, file_, e.span, "baseline on both sides of a comparison",
                     "compare an expression with its own baseline: p95_latency > baseline * 1.2");
      inner.baseline = &kUnknown;  // reported once, here
      l = check(e.lhs, inner);
      r = check(e.rhs, inner);
    } else if (in_l || in_r) {
      ExprId with = in_l ? e.lhs : e.rhs;
      ExprId other = in_l ? e.rhs : e.lhs;
      ExprInfo& other_info = in_l ? r : l;
      ExprInfo& with_info = in_l ? l : r;
      other_info = check(other, inner);
      if (!only_baseline_arithmetic(m_, with)) {
        ctx_.diags.add(Code::BadBaseline, file_, m_.expr(with).span,
                       "the side of a comparison that holds baseline may only scale or shift it",
                       "move the rest to the other side: `p95_latency > baseline + 100ms`");
        inner.baseline = &kUnknown;
      } else if (!measures_something(m_, other)) {
        ctx_.diags.add(Code::BadBaseline, file_, e.span,
                       "baseline is compared with a constant, which has no value before the action",
                       "compare a metric with its baseline: `p95_latency > baseline * 1.2`");
        inner.baseline = &kUnknown;
      } else {
        inner.baseline = &other_info;
      }
      with_info = check(with, inner);
    } else {
      l = check(e.lhs, inner);
      r = check(e.rhs, inner);
    }
  } else {
    // Arithmetic inside a comparison passes the baseline on; a new comparison does not.
    ExprScope inner = scope;
    if (is_comparison(e.op) || is_set_operator(e.op)) inner.baseline = nullptr;
    l = check(e.lhs, inner);
    r = check(e.rhs, inner);
  }

  for (const auto* side : {&l, &r}) {
    if (side->type == ValueType::Matrix || side->type == ValueType::String) {
      ExprId id = side == &l ? e.lhs : e.rhs;
      ctx_.diags.add(
          Code::OperandType, file_, m_.expr(id).span,
          std::string("a ") + value_type_name(side->type) + " cannot be an operand of '" +
              binary_op_text(e.op) + "'",
          side->type == ValueType::Matrix
              ? "apply a function over the range first, such as rate() or avg_over_time()"
              : "");
      return {};
    }
  }
  if (e.bool_modifier && !is_comparison(e.op)) {
    ctx_.diags.add(
        Code::BadModifier, file_, e.span,
        std::string("'bool' only applies to comparisons, not to '") + binary_op_text(e.op) + "'",
        "");
  }
  bool has_matching = e.grouping != Grouping::None || e.group_side != GroupSide::None;
  if (has_matching && (l.type == ValueType::Scalar || r.type == ValueType::Scalar)) {
    ctx_.diags.add(
        Code::BadModifier, file_, e.span, "vector matching needs vectors on both sides",
        "on(...) and ignoring(...) match series of two vectors; a scalar matches every series");
  } else if (e.group_side != GroupSide::None && is_set_operator(e.op)) {
    ctx_.diags.add(Code::BadModifier, file_, e.span,
                   "group_left and group_right do not apply to set operators", "");
  }

  ExprInfo info;
  info.type = (l.type == ValueType::Vector || r.type == ValueType::Vector)     ? ValueType::Vector
              : (l.type == ValueType::Unknown || r.type == ValueType::Unknown) ? ValueType::Unknown
                                                                               : ValueType::Scalar;
  switch (e.op) {
    case BinaryOp::Eq:
    case BinaryOp::Ne:
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge:
      check_comparison_units(e, l, r);
      info.dim = e.bool_modifier                                                ? Dim::Plain
                 : (r.type == ValueType::Vector && l.type != ValueType::Vector) ? r.dim
                                                                                : l.dim;
      break;
    case BinaryOp::Add:
    case BinaryOp::Sub:
      if (is_physical(l.dim) && is_physical(r.dim) && l.dim != r.dim) {
        ctx_.diags.add(Code::UnitMismatch, file_, e.span,
                       std::string("cannot ") + (e.op == BinaryOp::Add ? "add " : "subtract ") +
                           dim_article(r.dim) + (e.op == BinaryOp::Add ? " to " : " from ") +
                           dim_article(l.dim),
                       "both sides of + and - need the same unit");
      }
      info.dim = is_physical(l.dim)                             ? l.dim
                 : is_physical(r.dim)                           ? r.dim
                 : (l.dim == Dim::Plain && r.dim == Dim::Plain) ? Dim::Plain
                                                                : Dim::Unknown;
      break;
    case BinaryOp::Mul:
      if ((l.dim == Dim::PerSecond && r.dim == Dim::Seconds) ||
          (l.dim == Dim::Seconds && r.dim == Dim::PerSecond)) {
        info.dim = Dim::Plain;  // a rate over a duration is a count
      } else {
        info.dim = (r.dim == Dim::Plain || r.dim == Dim::Ratio)   ? l.dim
                   : (l.dim == Dim::Plain || l.dim == Dim::Ratio) ? r.dim
                                                                  : Dim::Unknown;
      }
      break;
    case BinaryOp::Div:
      if (r.dim == Dim::Plain) {
        info.dim = l.dim;
      } else if (r.dim == Dim::PerSecond && (l.dim == Dim::Plain || l.dim == Dim::Ratio)) {
        // rate(x_seconds_sum) / rate(x_seconds_count) is seconds per event: an average latency.
        info.dim = Dim::Seconds;
      } else if (l.dim == r.dim && (l.dim == Dim::Bytes || l.dim == Dim::Ratio)) {
        info.dim = Dim::Ratio;  // used / total: a fraction of capacity
      } else if (l.dim == r.dim && (l.dim == Dim::Seconds || l.dim == Dim::PerSecond)) {
        info.dim = Dim::Plain;  // p99 / p50, errors / requests: ratios that often pass 1
      } else {
        info.dim = Dim::Unknown;
      }
      break;
    case BinaryOp::Or:
    case BinaryOp::And:
    case BinaryOp::Unless:
      info.dim = l.dim;
      break;
    default:
      info.dim = Dim::Unknown;
      break;
  }
  return info;
}

ExprInfo ExprChecker::infer(ExprId id, const ExprScope& scope) {
  const Expr& e = m_.expr(id);
  switch (e.kind) {
    case ExprKind::Number:
      return {ValueType::Scalar, unit_dim(e.unit)};
    case ExprKind::String:
      return {ValueType::String, Dim::Unknown};
    case ExprKind::Name:
      return name(e);
    case ExprKind::Selector: {
      // `p95{job="api"}` where p95 is a let or knob selects a metric named p95, not the let.
      if (!e.text.empty() && (ctx_.lets[module_].count(e.text) || ctx_.knobs.count(e.text))) {
        bool let = ctx_.lets[module_].count(e.text) > 0;
        ctx_.diags.add(Code::LikelyMisspelling, file_, e.span,
                       "'" + std::string(e.text) + "' is a " + (let ? "let" : "knob") +
                           ", but with label matchers it selects the metric of that name",
                       let ? "put the matchers inside the let's own selector" : "");
      }
      std::string_view metric = e.text;
      for (const Matcher& mt : e.matchers) {
        if (mt.label == "__name__" && mt.op == MatchOp::Equal) metric = mt.value;
      }
      return {ValueType::Vector, metric_dim(metric)};
    }
    case ExprKind::Range:
    case ExprKind::Offset: {
      ExprInfo inner = check(e.lhs, scope);
      const Expr& operand = m_.expr(e.lhs);
      bool selector = operand.kind == ExprKind::Selector ||
                      (operand.kind == ExprKind::Name &&
                       (inner.name == NameKind::Metric ||
                        (inner.name == NameKind::Let && inner.type == ValueType::Vector &&
                         (m_.expr(m_.items[inner.target].expr).kind == ExprKind::Name ||
                          m_.expr(m_.items[inner.target].expr).kind == ExprKind::Selector))));
      bool offset_target = e.kind == ExprKind::Offset &&
                           (operand.kind == ExprKind::Range || operand.kind == ExprKind::Subquery);
      if (inner.type != ValueType::Unknown && !selector && !offset_target) {
        ctx_.diags.add(
            Code::BadRange, file_, e.span,
            e.kind == ExprKind::Range
                ? "a range [" + std::string(e.duration_text) + "] applies only to a metric selector"
                : "offset applies only to a selector or a subquery",
            e.kind == ExprKind::Range
                ? "to take a range of a computed expression, use a subquery: (...)[" +
                      std::string(e.duration_text) + ":1m]"
                : "");
        return {};
      }
      if (e.kind == ExprKind::Offset) return {inner.type, inner.dim};
      return {ValueType::Matrix, inner.dim};
    }
    case ExprKind::Subquery: {
      ExprInfo inner = check(e.lhs, scope);
      if (inner.type != ValueType::Unknown && inner.type != ValueType::Vector) {
        ctx_.diags.add(Code::BadRange, file_, e.span,
                       std::string("a subquery needs an instant vector, found ") +
                           (inner.type == ValueType::Scalar ? "a " : "a ") +
                           value_type_name(inner.type),
                       "");
        return {};
      }
      return {ValueType::Matrix, inner.dim};
    }
    case ExprKind::Call:
      return call(e, scope);
    case ExprKind::Aggregate:
      return aggregate(e, scope);
    case ExprKind::Unary: {
      ExprInfo inner = check(e.lhs, scope);
      if (inner.type == ValueType::Matrix || inner.type == ValueType::String) {
        ctx_.diags.add(Code::OperandType, file_, e.span,
                       std::string("unary '") + (e.op == BinaryOp::Sub ? "-" : "+") +
                           "' cannot apply to a " + value_type_name(inner.type),
                       "");
        return {};
      }
      return {inner.type, inner.dim};
    }
    case ExprKind::Paren: {
      ExprInfo inner = check(e.lhs, scope);
      return {inner.type, inner.dim};
    }
    case ExprKind::Binary:
      return binary(e, scope);
    case ExprKind::Baseline:
      if (!scope.rollback) {
        ctx_.diags.add(Code::BadBaseline, file_, e.span,
                       "baseline only has a meaning in a rollback condition",
                       "baseline is the value before the action: `rollback when p95_latency > "
                       "baseline * 1.2`");
        return {};
      }
      if (!scope.baseline) {
        ctx_.diags.add(Code::BadBaseline, file_, e.span,
                       "baseline must be one side of a comparison",
                       "compare an expression with its baseline: `rollback when p95_latency > "
                       "baseline * 1.2`");
        return {};
      }
      return {scope.baseline->type, scope.baseline->dim};
  }
  return {};
}

}  // namespace

const char* dim_name(Dim dim) {
  switch (dim) {
    case Dim::Unknown:
      return "unknown";
    case Dim::Plain:
      return "number";
    case Dim::Seconds:
      return "duration";
    case Dim::Bytes:
      return "byte size";
    case Dim::Ratio:
      return "ratio";
    case Dim::PerSecond:
      return "per-second rate";
  }
  return "unknown";
}

bool contains_baseline(const Module& m, ExprId id) {
  const Expr& e = m.expr(id);
  if (e.kind == ExprKind::Baseline) return true;
  if (e.lhs != kNoExpr && contains_baseline(m, e.lhs)) return true;
  if (e.rhs != kNoExpr && contains_baseline(m, e.rhs)) return true;
  for (ExprId a : e.args) {
    if (contains_baseline(m, a)) return true;
  }
  return false;
}

const Expr* literal_number(const Module& m, ExprId id, double* value) {
  const Expr* e = &m.expr(id);
  double sign = 1;
  while (e->kind == ExprKind::Paren || e->kind == ExprKind::Unary) {
    if (e->kind == ExprKind::Unary && e->op == BinaryOp::Sub) sign = -sign;
    e = &m.expr(e->lhs);
  }
  if (e->kind != ExprKind::Number) return nullptr;
  if (value) *value = sign * e->number;
  return e;
}

ExprInfo check_expr(CheckContext& ctx, uint32_t module, ExprId id, const ExprScope& scope) {
  return ExprChecker(ctx, module).check(id, scope);
}

ExprInfo check_let(CheckContext& ctx, uint32_t module, uint32_t item, Span reference) {
  const Module& m = ctx.modules[module];
  LetState& state = ctx.let_state[module][item];
  if (state == LetState::Done) return ctx.out.exprs[module][m.items[item].expr];
  if (state == LetState::Visiting) {
    // The path from the let's first appearance on the stack back to itself: a -> b -> a.
    size_t start = 0;
    while (start < ctx.let_path.size() && ctx.let_path[start].first != item) ++start;
    std::string path;
    for (size_t k = start; k < ctx.let_path.size(); ++k)
      path += std::string(m.items[ctx.let_path[k].first].name.text) + " -> ";
    path += std::string(m.items[item].name.text);
    Diagnostic& d = ctx.diags.add(
        Code::LetCycle, ctx.file(module), reference,
        "let '" + std::string(m.items[item].name.text) + "' depends on itself: " + path,
        "a let cannot depend on its own value, directly or through other lets");
    for (size_t k = start + 1; k < ctx.let_path.size(); ++k) {
      const Item& step = m.items[ctx.let_path[k].first];
      d.notes.push_back({ctx.file(module), ctx.let_path[k].second,
                         "'" + std::string(step.name.text) + "' is used here"});
    }
    return {};
  }
  state = LetState::Visiting;
  ctx.let_path.emplace_back(item, reference);
  ExprInfo info = check_expr(ctx, module, m.items[item].expr, {});
  ctx.let_path.pop_back();
  state = LetState::Done;
  return info;
}

bool is_condition(const CheckContext& ctx, uint32_t module, ExprId id) {
  const Module& m = ctx.modules[module];
  const Expr& e = m.expr(id);
  switch (e.kind) {
    case ExprKind::Paren:
      return is_condition(ctx, module, e.lhs);
    case ExprKind::Binary:
      if (is_comparison(e.op)) return !e.bool_modifier;
      if (e.op == BinaryOp::Unless) return is_condition(ctx, module, e.lhs);
      if (is_set_operator(e.op))
        return is_condition(ctx, module, e.lhs) && is_condition(ctx, module, e.rhs);
      return false;
    case ExprKind::Call:
      return e.text == "absent" || e.text == "absent_over_time" || e.text == "present_over_time";
    case ExprKind::Name: {
      const ExprInfo& info = ctx.out.exprs[module][id];
      if (info.name == NameKind::Let) return is_condition(ctx, module, m.items[info.target].expr);
      return false;
    }
    default:
      return false;
  }
}

}  // namespace setpoint
