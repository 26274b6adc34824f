#include "interpreter/checker.h"

#include <cmath>
#include <sstream>

#include "grammar/literal.h"
#include "grammar/spelling.h"
#include "interpreter/check_context.h"
#include "interpreter/time_window.h"

namespace setpoint {
namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// 1000000 rather than 1e+06.
std::string format_number(double v) {
  if (v == std::floor(v) && std::abs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  std::ostringstream s;
  s << v;
  return s.str();
}

// "an int knob", "a duration knob".
std::string knob_kind(KnobType type) {
  std::string name = knob_type_name(type);
  return (type == KnobType::Int ? "an " : "a ") + name + " knob";
}

// The unit of a knob's values, as its bounds and literal values are written.
Unit knob_unit(KnobType type) {
  return type == KnobType::Duration  ? Unit::Seconds
         : type == KnobType::Bytes   ? Unit::Bytes
         : type == KnobType::Percent ? Unit::Percent
                                     : Unit::None;
}

// What each kind of block accepts, and how often.
struct ClauseRule {
  bool allowed = false;
  bool repeatable = false;
};

ClauseRule clause_rule(ItemKind block, ClauseKind c) {
  switch (block) {
    case ItemKind::Policy:
      switch (c) {
        case ClauseKind::Action:
        case ClauseKind::Expect:
        case ClauseKind::Rollback:
          return {true, true};
        case ClauseKind::Pause:
          return {false, false};
        default:
          return {true, false};
      }
    case ItemKind::Emergency:
      switch (c) {
        case ClauseKind::Action:
          return {true, true};
        case ClauseKind::Expect:
        case ClauseKind::Rollback:
        case ClauseKind::After:
        case ClauseKind::Quarantine:
          return {false, false};
        default:
          return {true, false};
      }
    case ItemKind::Defaults:
      switch (c) {
        case ClauseKind::Rollback:
          return {true, true};
        case ClauseKind::Mode:
        case ClauseKind::Cooldown:
        case ClauseKind::Limit:
        case ClauseKind::Quarantine:
          return {true, false};
        default:
          return {false, false};
      }
    default:
      return {false, false};
  }
}

const char* block_name(ItemKind kind) {
  switch (kind) {
    case ItemKind::Policy:
      return "a policy";
    case ItemKind::Emergency:
      return "an emergency";
    case ItemKind::Defaults:
      return "defaults";
    default:
      return "this block";
  }
}

std::string not_allowed_hint(ItemKind block, ClauseKind c) {
  if (block == ItemKind::Policy && c == ClauseKind::Pause) {
    return "only an emergency pauses automatic actions";
  }
  if (block == ItemKind::Emergency &&
      (c == ClauseKind::Expect || c == ClauseKind::Rollback || c == ClauseKind::Quarantine)) {
    return "an emergency's actions are not validated or rolled back";
  }
  if (block == ItemKind::Defaults) {
    return "defaults hold mode, rollback, cooldown, limit, quarantine and on inconclusive";
  }
  return "";
}

class Checker {
 public:
  Checker(CheckContext& ctx) : ctx_(ctx) {}
  void run();

 private:
  void declare(uint32_t m);
  void check_knob(uint32_t m, const Item& it);
  void check_block(uint32_t m, const Item& it);
  void check_clause(uint32_t m, const Item& it, const Clause& c);
  void check_condition(uint32_t m, ExprId id, bool rollback);
  void check_count(uint32_t m, const Clause& c, const char* what, double min, double max);
  void check_count(uint32_t m, double n, Unit unit, std::string_view text, Span span,
                   const std::string& what, double min, double max);
  void check_limits(uint32_t m, const Clause& c);
  void check_set(uint32_t m, const Clause& c);
  void check_knob_literal(uint32_t m, const KnobInfo& knob, ExprId id, const char* role);
  void check_during(uint32_t m, const Clause& c);
  void check_after(uint32_t m, const Item& it, const Clause& c);
  void duplicate(uint32_t m, Name name, const char* what, const SourceFile* first_file, Span first);

  CheckContext& ctx_;
};

void Checker::duplicate(uint32_t m, Name name, const char* what, const SourceFile* first_file,
                        Span first) {
  ctx_.diags
      .add(Code::Duplicate, ctx_.file(m), name.span,
           std::string(what) + " " + quoted(name.text) + " is defined twice",
           "give one of them another name")
      .notes.push_back({first_file, first, "first defined here"});
}

// Registers lets (per file), knobs and policies (across files), reporting duplicates.
void Checker::declare(uint32_t m) {
  const Module& mod = ctx_.modules[m];
  const Item* defaults = nullptr;
  for (uint32_t i = 0; i < mod.items.size(); ++i) {
    const Item& it = mod.items[i];
    switch (it.kind) {
      case ItemKind::Let: {
        auto [pos, fresh] = ctx_.lets[m].emplace(it.name.text, i);
        if (!fresh) duplicate(m, it.name, "let", ctx_.file(m), mod.items[pos->second].name.span);
        break;
      }
      case ItemKind::Knob: {
        double lo = 0, hi = 0;
        literal_number(mod, it.min, &lo);
        literal_number(mod, it.max, &hi);
        KnobInfo info{it.name.text, it.knob_type, lo, hi, m, i, knob_damping(mod, it)};
        auto found = ctx_.knobs.find(it.name.text);
        if (found == ctx_.knobs.end()) {
          ctx_.knobs.emplace(it.name.text, static_cast<uint32_t>(ctx_.out.knobs.size()));
          ctx_.out.knobs.push_back(info);
          break;
        }
        const KnobInfo& first = ctx_.out.knobs[found->second];
        const Item& first_item = ctx_.modules[first.module].items[first.item];
        if (first.module == m) {
          duplicate(m, it.name, "knob", ctx_.file(m), first_item.name.span);
        } else if (first.type != info.type || first.min != info.min || first.max != info.max ||
                   !(first.damping == info.damping)) {
          // The same knob may be declared in several files, but always the same way.
          ctx_.diags
              .add(Code::KnobConflict, ctx_.file(m), it.span,
                   "knob " + quoted(it.name.text) + " is declared differently in another file",
                   "declare it with the same type, bounds and damping everywhere, or in one "
                   "shared file")
              .notes.push_back({ctx_.file(first.module), first_item.span, "declared here"});
        }
        break;
      }
      case ItemKind::Policy:
      case ItemKind::Emergency: {
        auto [pos, fresh] = ctx_.policies.emplace(it.name.text, std::make_pair(m, i));
        if (!fresh) {
          auto [fm, fi] = pos->second;
          duplicate(m, it.name, it.kind == ItemKind::Policy ? "policy" : "emergency", ctx_.file(fm),
                    ctx_.modules[fm].items[fi].name.span);
        }
        break;
      }
      case ItemKind::Defaults:
        if (defaults) {
          ctx_.diags
              .add(Code::RepeatedClause, ctx_.file(m), it.keyword_span,
                   "a file has at most one defaults block", "merge the two blocks")
              .notes.push_back({ctx_.file(m), defaults->keyword_span, "the first defaults block"});
        }
        defaults = &it;
        break;
    }
  }
  for (const std::string& b : mod.broken_names) ctx_.broken.push_back(b);
}

void Checker::check_knob(uint32_t m, const Item& it) {
  const Module& mod = ctx_.modules[m];
  Unit want = knob_unit(it.knob_type);
  double bounds[2] = {0, 0};
  ExprId ids[2] = {it.min, it.max};
  for (int k = 0; k < 2; ++k) {
    const Expr* lit = literal_number(mod, ids[k], &bounds[k]);
    if (!lit) continue;
    bool bare_zero = lit->unit == Unit::None && bounds[k] == 0;
    if (lit->unit != want && !bare_zero) {
      ctx_.diags.add(
          Code::KnobUnit, ctx_.file(m), lit->span,
          knob_kind(it.knob_type) + " needs " +
              (want == Unit::None ? "plain numbers" : std::string(unit_name(want)) + "s") +
              " as bounds, found " + quoted(lit->text),
          want == Unit::Seconds   ? "write durations such as 0s..1h"
          : want == Unit::Bytes   ? "write sizes such as 64MiB..4GiB"
          : want == Unit::Percent ? "write percentages such as 0%..100%"
                                  : "a plain number has no unit: 4..256");
    } else if (it.knob_type == KnobType::Int && bounds[k] != std::floor(bounds[k])) {
      ctx_.diags.add(Code::KnobUnit, ctx_.file(m), lit->span,
                     "an int knob needs whole numbers as bounds, found " + quoted(lit->text),
                     "declare it as float for fractional values");
    }
  }
  if (bounds[0] > bounds[1]) {
    ctx_.diags.add(
        Code::EmptyRange, ctx_.file(m), {mod.expr(it.min).span.begin, mod.expr(it.max).span.end},
        "knob " + quoted(it.name.text) + " has an empty range: its minimum is above its maximum",
        "write the smaller bound first");
  }
  check_knob_damping(mod, it, ctx_.diags);
}

void Checker::check_condition(uint32_t m, ExprId id, bool rollback) {
  ExprInfo info = check_expr(ctx_, m, id, {rollback, nullptr});
  const Expr& e = ctx_.modules[m].expr(id);
  if (info.type == ValueType::Matrix || info.type == ValueType::String) {
    ctx_.diags.add(Code::OperandType, ctx_.file(m), e.span,
                   std::string("a condition needs an instant vector or a scalar, found a ") +
                       value_type_name(info.type),
                   info.type == ValueType::Matrix
                       ? "apply a function over the range, such as avg_over_time()"
                       : "");
    return;
  }
  if (info.type != ValueType::Unknown && !is_condition(ctx_, m, id)) {
    ctx_.diags.add(
        Code::NotACondition, ctx_.file(m), e.span,
        "this condition does not compare: it holds whenever the expression has any value",
        "compare it with a threshold, as in `p95_latency > 500ms`");
  }
}

void Checker::check_count(uint32_t m, const Clause& c, const char* what, double min, double max) {
  check_count(m, c.number, c.number_unit, c.number_text, c.number_span, what, min, max);
}

void Checker::check_count(uint32_t m, double n, Unit unit, std::string_view text, Span span,
                          const std::string& what, double min, double max) {
  if (unit != Unit::None || n != std::floor(n) || n < min || n > max) {
    ctx_.diags.add(Code::NumberOutOfRange, ctx_.file(m), span,
                   what + " must be a whole number from " + format_number(min) + " to " +
                       format_number(max) + ", found " + quoted(text),
                   "");
  }
}

// The counts of a quarantine clause; each kind of limit at most once.
void Checker::check_limits(uint32_t m, const Clause& c) {
  const ValidationLimit* seen[3] = {};
  for (const ValidationLimit& l : c.limits) {
    check_count(m, l.count, l.count_unit, l.count_text, l.count_span,
                l.kind == LimitKind::Inconclusive
                    ? std::string("the number of inconclusive validations")
                    : std::string("the number of ") + limit_kind_name(l.kind),
                1, 1000);
    const ValidationLimit*& first = seen[static_cast<size_t>(l.kind)];
    if (first) {
      ctx_.diags
          .add(Code::RepeatedLimit, ctx_.file(m), l.words_span,
               std::string("the limit on ") + limit_kind_name(l.kind) + " is given twice",
               "give each of failures, errors and inconclusive once")
          .notes.push_back({ctx_.file(m), first->words_span, "first given here"});
    } else {
      first = &l;
    }
  }
}

void Checker::check_knob_literal(uint32_t m, const KnobInfo& knob, ExprId id, const char* role) {
  const Module& mod = ctx_.modules[m];
  double value = 0;
  const Expr* lit = literal_number(mod, id, &value);
  if (!lit) return;
  Unit want = knob_unit(knob.type);
  const Expr& whole = mod.expr(id);
  if (lit->unit != want && !(lit->unit == Unit::None && value == 0)) {
    ctx_.diags.add(Code::KnobUnit, ctx_.file(m), whole.span,
                   std::string(role) + " " + quoted(mod.file->slice(whole.span)) + " is " +
                       (lit->unit == Unit::None ? "a plain number"
                                                : std::string("a ") + unit_name(lit->unit)) +
                       ", but " + quoted(knob.name) + " is " + knob_kind(knob.type),
                   want == Unit::None ? "write a plain number"
                                      : "write it with a unit, such as " +
                                            std::string(mod.file->slice(lit->span)) +
                                            (want == Unit::Seconds ? "s"
                                             : want == Unit::Bytes ? "MiB"
                                                                   : "%"));
    return;
  }
  if (knob.type == KnobType::Int && value != std::floor(value)) {
    ctx_.diags.add(Code::KnobUnit, ctx_.file(m), whole.span,
                   quoted(knob.name) + " is an int knob; " + quoted(mod.file->slice(whole.span)) +
                       " is not a whole number",
                   "");
    return;
  }
  if (value < knob.min || value > knob.max) {
    const Module& decl = ctx_.modules[knob.module];
    const Item& item = decl.items[knob.item];
    ctx_.diags
        .add(Code::OutOfBounds, ctx_.file(m), whole.span,
             std::string(role) + " " + quoted(mod.file->slice(whole.span)) +
                 " is outside the bounds of " + quoted(knob.name) + ", " +
                 std::string(decl.file->slice(
                     {decl.expr(item.min).span.begin, decl.expr(item.max).span.end})),
             "keep it within the bounds, or widen them where the knob is declared")
        .notes.push_back({ctx_.file(knob.module), item.span, "the knob is declared here"});
  }
}

void Checker::check_set(uint32_t m, const Clause& c) {
  auto found = ctx_.knobs.find(c.name.text);
  ExprInfo value = check_expr(ctx_, m, c.expr, {});
  if (found == ctx_.knobs.end()) {
    std::vector<std::string_view> names;
    for (const auto& [n, _] : ctx_.knobs) names.push_back(n);
    std::string hint = did_you_mean(c.name.text, names);
    ctx_.diags.add(
        Code::UnknownKnob, ctx_.file(m), c.name.span, "unknown knob " + quoted(c.name.text),
        hint.empty() ? "declare it: `knob " + std::string(c.name.text) + " : int in 1..100`"
                     : hint);
    return;
  }
  const KnobInfo& knob = ctx_.out.knobs[found->second];
  const Module& mod = ctx_.modules[m];
  if (value.type == ValueType::Matrix || value.type == ValueType::String) {
    ctx_.diags.add(Code::OperandType, ctx_.file(m), mod.expr(c.expr).span,
                   std::string("a knob is set to a number, not a ") + value_type_name(value.type),
                   "");
    return;
  }
  double ignored;
  if (literal_number(mod, c.expr, &ignored)) {
    check_knob_literal(m, knob, c.expr, "value");
    return;
  }
  Dim want = knob.type == KnobType::Duration  ? Dim::Seconds
             : knob.type == KnobType::Bytes   ? Dim::Bytes
             : knob.type == KnobType::Percent ? Dim::Ratio
                                              : Dim::Plain;
  bool physical = value.dim == Dim::Seconds || value.dim == Dim::Bytes || value.dim == Dim::Ratio ||
                  value.dim == Dim::PerSecond;
  if (physical && value.dim != want) {
    ctx_.diags.add(Code::KnobUnit, ctx_.file(m), mod.expr(c.expr).span,
                   std::string("this value is a ") + dim_name(value.dim) + ", but " +
                       quoted(knob.name) + " is " + knob_kind(knob.type),
                   "");
  }
  // The bounds of a clamp around the value must lie within the knob's own.
  const Expr& top = mod.expr(c.expr);
  if (top.kind == ExprKind::Call &&
      (top.text == "clamp" || top.text == "clamp_min" || top.text == "clamp_max")) {
    for (size_t i = 1; i < top.args.size(); ++i)
      check_knob_literal(m, knob, top.args[i], "clamp bound");
  }
}

void Checker::check_during(uint32_t m, const Clause& c) {
  TimeWindowResult r = parse_time_window(c.string_value);
  // Offsets into the value map onto the literal when it has no escapes, which windows never need.
  uint32_t base = c.string_span.begin + 1;
  if (!r.ok) {
    uint32_t at = base + static_cast<uint32_t>(r.error_offset);
    ctx_.diags.add(Code::BadTimeWindow, ctx_.file(m),
                   {at, at + static_cast<uint32_t>(r.error_length)}, r.error, r.hint);
    return;
  }
  const std::string& zone = r.window.zone;
  bool known = zone == "UTC" || (ctx_.options.zones && ctx_.options.zones->contains(zone));
  if (!known) {
    std::vector<std::string> names =
        ctx_.options.zones ? ctx_.options.zones->names() : std::vector<std::string>{"UTC"};
    std::vector<std::string_view> views(names.begin(), names.end());
    std::string hint = did_you_mean(zone, views);
    uint32_t at = base + static_cast<uint32_t>(r.window.zone_offset);
    ctx_.diags.add(
        Code::UnknownTimeZone, ctx_.file(m), {at, at + static_cast<uint32_t>(zone.size())},
        "unknown time zone " + quoted(zone),
        hint.empty() ? "use an IANA name such as Europe/Berlin or America/New_York, or UTC" : hint);
  }
}

void Checker::check_after(uint32_t m, const Item& it, const Clause& c) {
  for (const Name& ref : c.names) {
    if (ref.text == it.name.text) {
      ctx_.diags.add(Code::AfterSelf, ctx_.file(m), ref.span,
                     "policy " + quoted(it.name.text) + " is ordered after itself",
                     "remove it from the list");
      continue;
    }
    auto found = ctx_.policies.find(ref.text);
    bool is_policy =
        found != ctx_.policies.end() &&
        ctx_.modules[found->second.first].items[found->second.second].kind == ItemKind::Policy;
    if (is_policy) continue;
    bool broken = false;
    for (std::string_view b : ctx_.broken) broken |= b == ref.text;
    if (broken) continue;
    std::vector<std::string_view> names;
    for (const auto& [n, loc] : ctx_.policies) {
      if (ctx_.modules[loc.first].items[loc.second].kind == ItemKind::Policy) names.push_back(n);
    }
    std::string hint = did_you_mean(ref.text, names);
    ctx_.diags.add(Code::UnknownPolicy, ctx_.file(m), ref.span,
                   found != ctx_.policies.end()
                       ? quoted(ref.text) + " is an emergency; `after` orders policies"
                       : "unknown policy " + quoted(ref.text),
                   found != ctx_.policies.end() ? "emergencies always go first" : hint);
  }
}

void Checker::check_clause(uint32_t m, const Item& it, const Clause& c) {
  switch (c.kind) {
    case ClauseKind::Priority:
      check_count(m, c, "priority", 0, 1000);
      break;
    case ClauseKind::Trigger:
      check_condition(m, c.expr, false);
      break;
    case ClauseKind::When:
      check_condition(m, c.expr, false);
      break;
    case ClauseKind::Rollback:
      check_condition(m, c.expr, true);
      break;
    case ClauseKind::During:
      check_during(m, c);
      break;
    case ClauseKind::Limit:
      check_count(m, c, "the limit", 1, 1e6);
      break;
    case ClauseKind::Quarantine:
      check_limits(m, c);
      break;
    case ClauseKind::After:
      check_after(m, it, c);
      break;
    case ClauseKind::Expect: {
      ExprInfo target = check_expr(ctx_, m, c.expr, {});
      if (target.type == ValueType::Matrix || target.type == ValueType::String) {
        ctx_.diags.add(
            Code::OperandType, ctx_.file(m), ctx_.modules[m].expr(c.expr).span,
            std::string("an expected effect is measured on an instant vector, found a ") +
                value_type_name(target.type),
            "");
      }
      if (c.number_unit != Unit::Percent) {
        ctx_.diags.add(Code::ExpectNotPercent, ctx_.file(m), c.number_span,
                       "the expected change must be a percentage, found " + quoted(c.number_text),
                       "write it as a relative change: `decreases by 20%`");
      } else if (c.number <= 0 || (c.direction == Direction::Decreases && c.number > 1)) {
        ctx_.diags.add(
            Code::NumberOutOfRange, ctx_.file(m), c.number_span,
            c.direction == Direction::Decreases
                ? "a decrease must be more than 0% and at most 100%, found " + quoted(c.number_text)
                : "an increase must be more than 0%, found " + quoted(c.number_text),
            "");
      }
      break;
    }
    case ClauseKind::Action:
      switch (c.action) {
        case ActionKind::Set:
          check_set(m, c);
          break;
        case ActionKind::Run:
          for (const Argument& a : c.args) check_expr(ctx_, m, a.value, {});
          break;
        case ActionKind::RollbackAll:
          if (it.kind != ItemKind::Emergency) {
            ctx_.diags.add(
                Code::ClauseNotAllowed, ctx_.file(m), c.span,
                "`rollback all` is only allowed in an emergency",
                "a policy's own action is rolled back by its `rollback when` conditions");
          }
          break;
        case ActionKind::Notify:
          break;
      }
      break;
    default:
      break;
  }
}

void Checker::check_block(uint32_t m, const Item& it) {
  // One slot per clause kind, and one for `on inconclusive` (a form of ClauseKind::Quarantine).
  const Clause* seen[16] = {};
  static_assert(static_cast<size_t>(ClauseKind::Pause) < 15);
  for (const Clause& c : it.clauses) {
    ClauseRule rule = clause_rule(it.kind, c.kind);
    size_t k = c.kind == ClauseKind::Quarantine && c.verdict_rule == VerdictRule::OnInconclusive
                   ? 15
                   : static_cast<size_t>(c.kind);
    if (!rule.allowed) {
      ctx_.diags.add(Code::ClauseNotAllowed, ctx_.file(m), c.keyword_span,
                     quoted(clause_keyword(c)) + " is not allowed in " + block_name(it.kind),
                     not_allowed_hint(it.kind, c.kind));
    } else if (seen[k] && !rule.repeatable) {
      ctx_.diags
          .add(Code::RepeatedClause, ctx_.file(m), c.keyword_span,
               quoted(clause_keyword(c)) + " is given twice",
               c.kind == ClauseKind::When || c.kind == ClauseKind::Trigger
                   ? "combine the conditions with `and` or `or`"
                   : "keep one of them")
          .notes.push_back({ctx_.file(m), seen[k]->keyword_span, "first given here"});
    }
    if (!seen[k]) seen[k] = &c;
    if (rule.allowed) check_clause(m, it, c);  // a clause out of place is reported once
  }
  // A block with a clause that did not parse may well have its trigger or action in that clause.
  if (it.kind == ItemKind::Defaults || it.broken) return;

  const char* what = it.kind == ItemKind::Policy ? "policy" : "emergency";
  if (!seen[static_cast<size_t>(ClauseKind::Trigger)]) {
    ctx_.diags.add(Code::MissingClause, ctx_.file(m), it.name.span,
                   std::string(what) + " " + quoted(it.name.text) + " has no trigger",
                   "say when it acts: `trigger p95_latency > 500ms for 5m`");
  } else if (!seen[static_cast<size_t>(ClauseKind::Trigger)]->duration.present ||
             (seen[static_cast<size_t>(ClauseKind::Trigger)]->duration.valid &&
              seen[static_cast<size_t>(ClauseKind::Trigger)]->duration.seconds == 0)) {
    const Clause& t = *seen[static_cast<size_t>(ClauseKind::Trigger)];
    ctx_.diags.add(Code::NoHold, ctx_.file(m), t.keyword_span,
                   "trigger has no `for` duration: a single evaluation is enough to act",
                   "hold it for a while first, as in `for 5m`, so a passing spike does not act");
  }
  const Clause* action = seen[static_cast<size_t>(ClauseKind::Action)];
  if (!action) {
    ctx_.diags.add(Code::MissingClause, ctx_.file(m), it.name.span,
                   std::string(what) + " " + quoted(it.name.text) + " has no action",
                   it.kind == ItemKind::Policy
                       ? "say what it does: `action set cache_ttl = 5m`"
                       : "say what it does: `action rollback all since 30m`");
    return;
  }
  if (it.kind == ItemKind::Policy && !seen[static_cast<size_t>(ClauseKind::Expect)]) {
    for (const Clause& c : it.clauses) {
      if (c.kind == ClauseKind::Action &&
          (c.action == ActionKind::Set || c.action == ActionKind::Run)) {
        ctx_.diags.add(Code::NoExpect, ctx_.file(m), it.name.span,
                       "policy " + quoted(it.name.text) +
                           " acts but expects no effect, so its actions are never validated",
                       "say what should improve: `expect p95_latency decreases by 20% within 10m`");
        break;
      }
    }
  }
}

void Checker::run() {
  size_t n = ctx_.modules.size();
  ctx_.lets.resize(n);
  ctx_.let_state.resize(n);
  ctx_.out.exprs.resize(n);
  for (uint32_t m = 0; m < n; ++m) {
    ctx_.let_state[m].assign(ctx_.modules[m].items.size(), LetState::Unvisited);
    ctx_.out.exprs[m].assign(ctx_.modules[m].exprs.size(), ExprInfo{});
    declare(m);
  }
  for (uint32_t m = 0; m < n; ++m) {
    const Module& mod = ctx_.modules[m];
    for (uint32_t i = 0; i < mod.items.size(); ++i) {
      const Item& it = mod.items[i];
      switch (it.kind) {
        case ItemKind::Let: {
          auto knob = ctx_.knobs.find(it.name.text);
          if (knob != ctx_.knobs.end()) {
            const KnobInfo& k = ctx_.out.knobs[knob->second];
            duplicate(m, it.name, "name", ctx_.file(k.module),
                      ctx_.modules[k.module].items[k.item].name.span);
          }
          check_let(ctx_, m, i, it.name.span);
          break;
        }
        case ItemKind::Knob:
          check_knob(m, it);
          break;
        default:
          check_block(m, it);
          break;
      }
    }
  }
}

}  // namespace

CheckedProgram check_program(const std::vector<Module>& modules, Diagnostics& diagnostics,
                             const CheckOptions& options) {
  CheckedProgram out;
  CheckContext ctx{modules, diagnostics, options, out, {}, {}, {}, {}, {}, {}};
  Checker(ctx).run();
  return out;
}

}  // namespace setpoint
