// The syntax tree of one policy file. Plain structs; expressions live in Module::exprs and
// refer to each other by index, so a module is a few flat vectors rather than a pointer web.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/source_file.h"

namespace setpoint {

using ExprId = uint32_t;
inline constexpr ExprId kNoExpr = UINT32_MAX;

// The unit a literal was written with. Values are stored in base units: seconds, bytes, and
// ratios (80% is 0.8).
enum class Unit : uint8_t { None, Seconds, Bytes, Percent };

enum class ExprKind : uint8_t {
  Number,     // 500ms, 80%, 1GiB, 0.95, Inf
  String,     // "text"
  Name,       // bare identifier: a let, a knob, or a metric (resolved by the checker)
  Selector,   // metric{label="value"}, or {label="value"}
  Range,      // lhs[5m]
  Subquery,   // lhs[30m:1m]
  Offset,     // lhs offset 5m
  Call,       // rate(x[5m])
  Aggregate,  // sum by (job) (x), topk(3, x)
  Unary,      // -x
  Binary,     // a + b, a > bool b, a and on(job) b
  Paren,      // (x)
  Baseline,   // `baseline` inside a rollback condition
};

enum class BinaryOp : uint8_t {
  Or,
  And,
  Unless,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  Atan2,
  Pow,
};

enum class MatchOp : uint8_t { Equal, NotEqual, Regex, NotRegex };

// by / without (aggregations), on / ignoring (vector matching).
enum class Grouping : uint8_t { None, By, Without, On, Ignoring };
enum class GroupSide : uint8_t { None, Left, Right };

struct Matcher {
  std::string_view label;
  MatchOp op = MatchOp::Equal;
  std::string value;            // unescaped
  std::string_view value_text;  // as written, with quotes
  Span span;
};

struct Expr {
  ExprKind kind = ExprKind::Number;
  BinaryOp op = BinaryOp::Add;  // Binary, and Unary (Add or Sub)
  Unit unit = Unit::None;       // Number
  bool bool_modifier = false;   // Binary comparisons
  Grouping grouping = Grouping::None;
  GroupSide group_side = GroupSide::None;
  Span span;
  // Number/String: the literal as written. Name/Selector: the metric name (may be empty).
  // Call/Aggregate: the function or operator name.
  std::string_view text;
  double number = 0;               // Number: value in base units. Range/Subquery/Offset: seconds.
  double step = 0;                 // Subquery: step in seconds, 0 when omitted
  std::string_view duration_text;  // Range/Subquery/Offset: the duration as written
  std::string_view step_text;      // Subquery
  ExprId lhs = kNoExpr;      // Unary, Paren, Range, Subquery, Offset operand; Binary left side;
                             // Aggregate operand
  ExprId rhs = kNoExpr;      // Binary right side; Aggregate parameter (topk's k)
  std::vector<ExprId> args;  // Call
  std::vector<Matcher> matchers;                  // Selector
  std::vector<std::string_view> grouping_labels;  // by/without/on/ignoring (...)
  std::vector<std::string_view> include_labels;   // group_left/group_right (...)
  bool trailing_grouping = false;                 // Aggregate written as `sum(x) by (job)`
  std::string string_value;                       // String: unescaped
};

struct Name {
  std::string_view text;
  Span span;
};

struct Duration {
  double seconds = 0;
  std::string_view text;
  Span span;
  bool present = false;
  bool valid = false;  // decoded to a non-negative duration (errors are reported when not)
};

enum class ClauseKind : uint8_t {
  Description,
  Priority,
  Mode,
  Trigger,
  When,
  During,
  Action,
  Expect,
  Rollback,
  Cooldown,
  Limit,
  After,
  Quarantine,
  Pause,
};

enum class ActionKind : uint8_t { Set, Run, Notify, RollbackAll };
enum class Mode : uint8_t { Auto, Propose, DryRun };
enum class Direction : uint8_t { Decreases, Increases };

// ClauseKind::Quarantine holds the clauses that say what validation outcomes do: `quarantine
// [and rollback] after N failures, N errors, N inconclusive` and `on inconclusive keep|rollback`.
enum class VerdictRule : uint8_t { Quarantine, OnInconclusive };
enum class LimitKind : uint8_t { Failures, Errors, Inconclusive };

// One count of a quarantine clause: `3 failures`, `2 consecutive errors`, `4 inconclusive`.
struct ValidationLimit {
  LimitKind kind = LimitKind::Failures;
  double count = 0;
  std::string_view count_text;
  Unit count_unit = Unit::None;
  Span count_span;
  std::string_view words;  // as written after the count: "consecutive failures", "error"
  Span words_span;
};

struct Argument {
  Name name;  // empty text for a positional argument
  ExprId value = kNoExpr;
};

// One line-led clause of a policy, emergency or defaults block. Which fields are set depends
// on `kind` (and `action` for actions); the rest stay at their defaults.
struct Clause {
  ClauseKind kind = ClauseKind::Description;
  Span span;
  Span keyword_span;
  ExprId expr = kNoExpr;         // trigger, when, rollback, expect target, set value
  Duration duration;             // for, within, cooldown, per, since, pause
  Name name;                     // set knob, run actuator, notify channel
  std::string_view string_text;  // description, during, notify message (as written)
  std::string string_value;      // unescaped
  Span string_span;
  double number = 0;  // priority, limit count, quarantine count, expect amount (ratio)
  std::string_view number_text;
  Unit number_unit = Unit::None;
  Span number_span;
  Mode mode = Mode::Auto;
  Direction direction = Direction::Decreases;
  ActionKind action = ActionKind::Set;
  std::vector<Name> names;     // after
  std::vector<Argument> args;  // run
  // quarantine / on inconclusive. `number` and its fields repeat the first limit's count.
  VerdictRule verdict_rule = VerdictRule::Quarantine;
  std::vector<ValidationLimit> limits;
  bool rollback = false;  // `quarantine and rollback`; `on inconclusive rollback`
};

enum class ItemKind : uint8_t { Let, Knob, Policy, Emergency, Defaults };
enum class KnobType : uint8_t { Int, Float, Duration, Bytes, Percent };

// How the engine damps changes to a knob, as the Kubernetes HPA's `behavior` does:
// `stabilize up D down D`, `tolerance P%`, `max step N per D`.
enum class KnobOptionKind : uint8_t { Stabilize, Tolerance, MaxStep };
struct KnobOption {
  KnobOptionKind kind = KnobOptionKind::Stabilize;
  Span span;
  Span keyword_span;
  Duration up, down;        // stabilize: each present when written
  Span up_span, down_span;  // the `up D` and `down D` parts
  ExprId amount = kNoExpr;  // tolerance, max step: a Number expression
  Duration per;             // max step
};

struct Item {
  ItemKind kind = ItemKind::Let;
  Span span;
  Span keyword_span;
  Name name;              // empty for defaults
  ExprId expr = kNoExpr;  // let
  Name type_name;         // knob
  KnobType knob_type = KnobType::Int;
  ExprId min = kNoExpr;  // knob bounds: Number expressions (possibly negated)
  ExprId max = kNoExpr;
  std::vector<KnobOption> options;  // knob damping, in the order written
  std::vector<Clause> clauses;
  // A block with a clause that did not parse: its other clauses are still checked, but not
  // whether required clauses are missing.
  bool broken = false;
};

struct Comment {
  Span span;              // from '#' to the end of the line, terminator excluded
  bool own_line = false;  // nothing but blanks before it on its line
};

struct Module {
  std::shared_ptr<const SourceFile> file;
  std::vector<Expr> exprs;
  std::vector<Item> items;
  std::vector<Comment> comments;
  // Names of items that failed to parse, so that references to them do not cascade into
  // "unknown name" errors.
  std::vector<std::string> broken_names;

  const Expr& expr(ExprId id) const { return exprs[id]; }
};

// Names of the enumerations, as the language writes them.
inline const char* binary_op_text(BinaryOp op) {
  static const char* const names[] = {"or", "and", "unless", "==", "!=", "<", "<=",    ">",
                                      ">=", "+",   "-",      "*",  "/",  "%", "atan2", "^"};
  return names[static_cast<size_t>(op)];
}

inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
inline bool is_set_operator(BinaryOp op) { return op <= BinaryOp::Unless; }

inline const char* knob_type_name(KnobType type) {
  static const char* const names[] = {"int", "float", "duration", "bytes", "percent"};
  return names[static_cast<size_t>(type)];
}

inline const char* clause_keyword(ClauseKind kind) {
  static const char* const names[] = {
      "description", "priority", "mode",     "trigger", "when",  "during",     "action",
      "expect",      "rollback", "cooldown", "limit",   "after", "quarantine", "then"};
  return names[static_cast<size_t>(kind)];
}

inline const char* clause_keyword(const Clause& clause) {
  if (clause.kind == ClauseKind::Quarantine && clause.verdict_rule == VerdictRule::OnInconclusive)
    return "on inconclusive";
  return clause_keyword(clause.kind);
}

inline const char* knob_option_keyword(KnobOptionKind kind) {
  static const char* const names[] = {"stabilize", "tolerance", "max step"};
  return names[static_cast<size_t>(kind)];
}

inline const char* limit_kind_name(LimitKind kind) {
  static const char* const names[] = {"failures", "errors", "inconclusive"};
  return names[static_cast<size_t>(kind)];
}

}  // namespace setpoint
