// The parse tree of one item or clause -> AST nodes: expressions in precedence order, literals
// decoded (and their errors reported), clauses and knob options with their source spans.
#include "grammar/ast_builder.h"

#include <cctype>
#include <cmath>
#include <stdexcept>

#include "grammar/literal.h"
#include "grammar/rules.h"
#include "grammar/spelling.h"

namespace setpoint {
namespace {

class Builder {
 public:
  Builder(Module& module, Diagnostics& diags) : m_(module), diags_(diags) {}

  void item(const ParseNode& n);
  Clause clause(const ParseNode& n);

 private:
  Span span(const ParseNode& n) const {
    return {static_cast<uint32_t>(n.m_begin.byte), static_cast<uint32_t>(n.m_end.byte)};
  }
  std::string_view text(const ParseNode& n) const {
    return std::string_view(m_.file->text()).substr(n.m_begin.byte, n.m_end.byte - n.m_begin.byte);
  }
  ExprId push(Expr e) {
    m_.exprs.push_back(std::move(e));
    return static_cast<ExprId>(m_.exprs.size() - 1);
  }
  Span join(ExprId a, ExprId b) const { return {m_.exprs[a].span.begin, m_.exprs[b].span.end}; }

  ExprId expr(const ParseNode& n);
  ExprId operand(const ParseNode& n, size_t first, size_t* end = nullptr);
  ExprId climb(ExprId lhs, const std::vector<const ParseNode*>& tails, size_t& k,
               int min_precedence);
  ExprId primary(const ParseNode& n);
  ExprId number(const ParseNode& n);
  NumberLiteral decode(Span span, std::string_view token);
  ExprId string(const ParseNode& n);
  ExprId named(const ParseNode& n);
  void add_matchers(const ParseNode& list, Expr& e);
  ExprId suffix(ExprId operand, const ParseNode& n);
  ExprId binary(ExprId lhs, const ParseNode& tail, ExprId rhs, size_t operator_index);
  void labels(const ParseNode& list, std::vector<std::string_view>& out);

  Duration duration(const ParseNode& number_node);
  void count(const ParseNode& number_node, Clause& c);
  void string_field(const ParseNode& n, Clause& c);
  void action(const ParseNode& n, Clause& c);
  KnobOption knob_option(const ParseNode& n);

  Module& m_;
  Diagnostics& diags_;
};

BinaryOp binary_op(std::string_view t) {
  static const std::pair<std::string_view, BinaryOp> table[] = {
      {"or", BinaryOp::Or}, {"and", BinaryOp::And}, {"unless", BinaryOp::Unless},
      {"==", BinaryOp::Eq}, {"!=", BinaryOp::Ne},   {"<", BinaryOp::Lt},
      {"<=", BinaryOp::Le}, {">", BinaryOp::Gt},    {">=", BinaryOp::Ge},
      {"+", BinaryOp::Add}, {"-", BinaryOp::Sub},   {"*", BinaryOp::Mul},
      {"/", BinaryOp::Div}, {"%", BinaryOp::Mod},   {"atan2", BinaryOp::Atan2},
      {"^", BinaryOp::Pow},
  };
  for (const auto& [text, op] : table) {
    if (text == t) return op;
  }
  return BinaryOp::Add;
}

// Decodes a number token, reporting what is wrong with it at the exact characters.
NumberLiteral Builder::decode(Span span, std::string_view token) {
  NumberLiteral lit = decode_number(token);
  if (!lit.ok) {
    uint32_t at = span.begin + static_cast<uint32_t>(lit.error_offset);
    diags_.add(Code::BadNumber, m_.file.get(), {at, at + static_cast<uint32_t>(lit.error_length)},
               lit.error, lit.hint);
  }
  return lit;
}

ExprId Builder::number(const ParseNode& n) {
  Expr e;
  e.kind = ExprKind::Number;
  e.span = span(n);
  e.text = text(n);
  NumberLiteral lit = decode(e.span, e.text);
  e.number = lit.value;
  e.unit = lit.unit;
  return push(std::move(e));
}

ExprId Builder::string(const ParseNode& n) {
  Expr e;
  e.kind = ExprKind::String;
  e.span = span(n);
  e.text = text(n);
  StringLiteral lit = decode_string(e.text);
  if (!lit.ok) {
    uint32_t at = e.span.begin + static_cast<uint32_t>(lit.error_offset);
    diags_.add(Code::BadEscape, m_.file.get(), {at, at + static_cast<uint32_t>(lit.error_length)},
               lit.error,
               "escapes are \\\\ \\\" \\' \\n \\t \\xHH \\uHHHH; raw `strings` take none");
  }
  e.string_value = std::move(lit.value);
  return push(std::move(e));
}

void Builder::labels(const ParseNode& list, std::vector<std::string_view>& out) {
  for (const auto& child : list.children) out.push_back(text(*child));
}

bool is_aggregation(std::string_view name) {
  static const std::string_view ops[] = {"sum",   "avg",          "min",     "max",
                                         "count", "count_values", "stddev",  "stdvar",
                                         "group", "topk",         "bottomk", "quantile"};
  for (auto op : ops) {
    if (op == name) return true;
  }
  return false;
}

void Builder::add_matchers(const ParseNode& list, Expr& e) {
  for (const auto& lm : list.children) {
    Matcher matcher;
    matcher.span = span(*lm);
    matcher.label = text(*lm->children[0]);
    std::string_view op = text(*lm->children[1]);
    matcher.op = op == "="    ? MatchOp::Equal
                 : op == "!=" ? MatchOp::NotEqual
                 : op == "=~" ? MatchOp::Regex
                              : MatchOp::NotRegex;
    ExprId value = string(*lm->children[2]);
    matcher.value = m_.exprs[value].string_value;
    matcher.value_text = m_.exprs[value].text;
    m_.exprs.pop_back();  // the value lives in the matcher, not as an expression
    e.matchers.push_back(std::move(matcher));
  }
}

// A name, alone (a let, knob or metric), with matchers (a selector), or with arguments (a call,
// or an aggregation when the name is an aggregation operator).
ExprId Builder::named(const ParseNode& n) {
  Expr e;
  e.span = span(n);
  std::string_view t = text(n);
  size_t length = 0;
  while (length < t.size() && (std::isalnum(static_cast<unsigned char>(t[length])) ||
                               t[length] == '_' || t[length] == ':'))
    ++length;
  e.text = t.substr(0, length);
  e.kind = ExprKind::Name;
  std::vector<ExprId> args;
  Span grouping_span;
  for (const auto& child : n.children) {
    if (child->is_type<rules::matchers>()) {
      e.kind = ExprKind::Selector;
      add_matchers(*child, e);
    } else if (child->is_type<rules::grouping>()) {
      if (e.grouping != Grouping::None) {
        diags_.add(Code::BadModifier, m_.file.get(), span(*child),
                   "an aggregation takes one 'by' or 'without' clause",
                   "write it once, before or after the arguments");
        continue;
      }
      grouping_span = span(*child);
      e.grouping = text(*child->children[0]) == "by" ? Grouping::By : Grouping::Without;
      e.trailing_grouping = e.kind != ExprKind::Name;
      labels(*child->children[1], e.grouping_labels);
    } else if (child->is_type<rules::call_arguments>()) {
      e.kind = is_aggregation(e.text) ? ExprKind::Aggregate : ExprKind::Call;
      for (const auto& arg : child->children) args.push_back(expr(*arg));
    }
  }
  e.args = std::move(args);
  if (e.grouping != Grouping::None && e.kind != ExprKind::Aggregate) {
    diags_.add(Code::BadModifier, m_.file.get(), grouping_span,
               "'" + std::string(e.grouping == Grouping::By ? "by" : "without") +
                   "' only applies to aggregation operators such as sum or avg",
               "");
  }
  return push(std::move(e));
}

ExprId Builder::suffix(ExprId operand, const ParseNode& n) {
  Expr e;
  e.lhs = operand;
  e.span = {m_.exprs[operand].span.begin, static_cast<uint32_t>(n.m_end.byte)};
  if (n.is_type<rules::range_suffix>()) {
    Duration range = duration(*n.children[0]);
    e.kind = ExprKind::Range;
    e.number = range.seconds;
    e.duration_text = range.text;
    if (n.children.size() > 1) {
      e.kind = ExprKind::Subquery;
      if (n.children.size() > 2) {
        Duration step = duration(*n.children[2]);
        e.step = step.seconds;
        e.step_text = step.text;
      }
    }
  } else {  // offset_suffix
    e.kind = ExprKind::Offset;
    bool negative = n.children.size() > 1;
    Duration d = duration(*n.children.back());
    e.number = negative ? -d.seconds : d.seconds;
    e.duration_text = d.text;
  }
  return push(std::move(e));
}

// PromQL's binding strength of the flat binary operators; all are left-associative.
int precedence(std::string_view op) {
  if (op == "or") return 1;
  if (op == "and" || op == "unless") return 2;
  if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=") return 3;
  if (op == "+" || op == "-") return 4;
  return 5;  // * / % atan2
}

// `lhs op [bool] [on(...) group_left(...)] rhs`, where the tail node holds the operator and its
// modifiers from `operator_index` on.
ExprId Builder::binary(ExprId lhs, const ParseNode& n, ExprId rhs, size_t operator_index) {
  Expr e;
  e.kind = ExprKind::Binary;
  size_t i = operator_index;
  e.op = binary_op(text(*n.children[i++]));
  if (i < n.children.size() && n.children[i]->is_type<rules::bool_modifier>()) {
    e.bool_modifier = true;
    ++i;
  }
  if (i < n.children.size() && n.children[i]->is_type<rules::vector_matching>()) {
    const ParseNode& vm = *n.children[i++];
    e.grouping = text(*vm.children[0]) == "on" ? Grouping::On : Grouping::Ignoring;
    labels(*vm.children[1], e.grouping_labels);
    if (vm.children.size() > 2) {
      e.group_side = text(*vm.children[2]) == "group_left" ? GroupSide::Left : GroupSide::Right;
      if (vm.children.size() > 3) labels(*vm.children[3], e.include_labels);
    }
  }
  e.lhs = lhs;
  e.rhs = rhs;
  e.span = join(e.lhs, e.rhs);
  return push(std::move(e));
}

// The operand starting at child `first`: a primary with its suffixes and `^`, or a unary
// minus. Stops at the first binary operator tail; `end` receives its index.
ExprId Builder::operand(const ParseNode& n, size_t first, size_t* end) {
  ExprId current = kNoExpr;
  size_t i = first;
  for (; i < n.children.size(); ++i) {
    const ParseNode& c = *n.children[i];
    if (c.is_type<rules::binary_tail>()) break;
    if (c.is_type<rules::range_suffix>() || c.is_type<rules::offset_suffix>()) {
      current = suffix(current, c);
    } else if (c.is_type<rules::pow_tail>()) {
      // Right-associative: the right-hand side, with any further `^`, sits inside the tail.
      current = binary(current, c, operand(c, 1), 0);
    } else {
      current = primary(c);
    }
  }
  if (end) *end = i;
  return current;
}

// Precedence climbing over `operand (op operand)*`.
ExprId Builder::climb(ExprId lhs, const std::vector<const ParseNode*>& tails, size_t& k,
                      int min_precedence) {
  while (k < tails.size()) {
    const ParseNode& t = *tails[k];
    int p = precedence(text(*t.children[0]));
    if (p < min_precedence) break;
    ++k;
    size_t after_modifiers = 1;
    while (after_modifiers < t.children.size() &&
           (t.children[after_modifiers]->is_type<rules::bool_modifier>() ||
            t.children[after_modifiers]->is_type<rules::vector_matching>())) {
      ++after_modifiers;
    }
    ExprId rhs = operand(t, after_modifiers);
    while (k < tails.size() && precedence(text(*tails[k]->children[0])) > p) {
      rhs = climb(rhs, tails, k, p + 1);
    }
    lhs = binary(lhs, t, rhs, 0);
  }
  return lhs;
}

ExprId Builder::primary(const ParseNode& n) {
  if (n.is_type<rules::number>()) return number(n);
  if (n.is_type<rules::string_literal>()) return string(n);
  if (n.is_type<rules::named_primary>()) return named(n);
  if (n.is_type<rules::vector_selector>()) {
    Expr e;
    e.kind = ExprKind::Selector;
    e.span = span(n);
    add_matchers(n, e);
    return push(std::move(e));
  }
  if (n.is_type<rules::baseline>()) {
    Expr e;
    e.kind = ExprKind::Baseline;
    e.span = span(n);
    e.text = text(n);
    return push(std::move(e));
  }
  if (n.is_type<rules::paren_expr>()) {
    Expr e;
    e.kind = ExprKind::Paren;
    e.span = span(n);
    e.lhs = expr(*n.children[0]);
    return push(std::move(e));
  }
  if (!n.is_type<rules::unary_neg>())
    throw std::logic_error("unexpected parse node " + std::string(n.type));
  // unary_neg: the operator, then its operand's sequence.
  Expr e;
  e.kind = ExprKind::Unary;
  e.span = span(n);
  e.op = text(*n.children[0]) == "-" ? BinaryOp::Sub : BinaryOp::Add;
  e.lhs = operand(n, 1);
  return push(std::move(e));
}

ExprId Builder::expr(const ParseNode& n) {
  size_t end = 0;
  ExprId first = operand(n, 0, &end);
  std::vector<const ParseNode*> tails;
  for (size_t i = end; i < n.children.size(); ++i) tails.push_back(n.children[i].get());
  size_t k = 0;
  return climb(first, tails, k, 1);
}

Duration Builder::duration(const ParseNode& n) {
  Duration d;
  d.present = true;
  d.span = span(n);
  d.text = text(n);
  NumberLiteral lit = decode(d.span, d.text);  // reports a malformed token itself
  if (lit.ok && lit.unit != Unit::Seconds) {
    bool plain = lit.unit == Unit::None && std::isfinite(lit.value);
    std::string hint =
        plain ? "add a unit: " + std::string(d.text) + "s or " + std::string(d.text) + "m"
              : "durations look like 30s, 5m, 1h30m";
    diags_.add(Code::ExpectedDuration, m_.file.get(), d.span,
               "expected a duration, found the " + std::string(unit_name(lit.unit)) + " '" +
                   std::string(d.text) + "'",
               hint);
  } else if (lit.ok && (lit.value < 0 || std::isnan(lit.value))) {
    diags_.add(Code::ExpectedDuration, m_.file.get(), d.span, "a duration cannot be negative", "");
  }
  d.seconds = lit.ok ? lit.value : 0;
  d.valid = lit.ok && lit.unit == Unit::Seconds && lit.value >= 0;
  return d;
}

void Builder::count(const ParseNode& n, Clause& c) {
  c.number_span = span(n);
  c.number_text = text(n);
  NumberLiteral lit = decode(c.number_span, c.number_text);
  c.number = lit.value;
  c.number_unit = lit.unit;
}

void Builder::string_field(const ParseNode& n, Clause& c) {
  ExprId id = string(n);
  c.string_text = m_.exprs[id].text;
  c.string_value = m_.exprs[id].string_value;
  c.string_span = m_.exprs[id].span;
  m_.exprs.pop_back();
}

void Builder::action(const ParseNode& n, Clause& c) {
  const ParseNode& body = *n.children[0];
  if (body.is_type<rules::set_action>()) {
    c.action = ActionKind::Set;
    c.name = {text(*body.children[0]), span(*body.children[0])};
    c.expr = expr(*body.children[1]);
  } else if (body.is_type<rules::run_action>()) {
    c.action = ActionKind::Run;
    c.name = {text(*body.children[0]), span(*body.children[0])};
    for (size_t i = 1; i < body.children.size(); ++i) {
      const ParseNode& arg = *body.children[i];
      Argument a;
      if (arg.is_type<rules::named_argument>()) {
        a.name = {text(*arg.children[0]), span(*arg.children[0])};
        a.value = expr(*arg.children[1]);
      } else {
        a.value = expr(arg);
      }
      c.args.push_back(a);
    }
  } else if (body.is_type<rules::notify_action>()) {
    c.action = ActionKind::Notify;
    if (body.children.size() > 1) c.name = {text(*body.children[0]), span(*body.children[0])};
    string_field(*body.children.back(), c);
  } else {
    c.action = ActionKind::RollbackAll;
    c.duration = duration(*body.children[0]);
  }
}

KnobOption Builder::knob_option(const ParseNode& n) {
  KnobOption o;
  o.span = span(n);
  std::string_view t = text(n);
  o.keyword_span = {o.span.begin,
                    o.span.begin + static_cast<uint32_t>(t.find_first_of(" \t\r\n#"))};
  if (n.is_type<rules::stabilize_option>()) {
    o.kind = KnobOptionKind::Stabilize;
    for (const auto& window : n.children) {
      bool up = text(*window).substr(0, 2) == "up";
      // A direction given twice keeps the first; the checker reports the second (E0610).
      if (up ? o.up.present : o.down.present) {
        diags_.add(Code::BadDamping, m_.file.get(), span(*window),
                   std::string("'stabilize ") + (up ? "up" : "down") + "' is given twice",
                   "give each direction once: `stabilize up 0s down 5m`");
        continue;
      }
      (up ? o.up : o.down) = duration(*window->children[0]);
      (up ? o.up_span : o.down_span) = span(*window);
    }
  } else if (n.is_type<rules::tolerance_option>()) {
    o.kind = KnobOptionKind::Tolerance;
    o.amount = number(*n.children[0]);
  } else {  // max_step_option
    o.kind = KnobOptionKind::MaxStep;
    o.amount = number(*n.children[0]);
    o.per = duration(*n.children[1]);
  }
  return o;
}

Clause Builder::clause(const ParseNode& n) {
  Clause c;
  c.span = span(n);
  std::string_view t = text(n);
  size_t keyword_length = 0;
  while (
      keyword_length < t.size() &&
      (std::isalnum(static_cast<unsigned char>(t[keyword_length])) || t[keyword_length] == '_')) {
    ++keyword_length;
  }
  c.keyword_span = {c.span.begin, c.span.begin + static_cast<uint32_t>(keyword_length)};
  const auto& kids = n.children;
  if (n.is_type<rules::description_clause>()) {
    c.kind = ClauseKind::Description;
    string_field(*kids[0], c);
  } else if (n.is_type<rules::priority_clause>()) {
    c.kind = ClauseKind::Priority;
    count(*kids[0], c);
  } else if (n.is_type<rules::mode_clause>()) {
    c.kind = ClauseKind::Mode;
    std::string_view v = text(*kids[0]);
    c.mode = v == "auto" ? Mode::Auto : v == "propose" ? Mode::Propose : Mode::DryRun;
  } else if (n.is_type<rules::trigger_clause>()) {
    c.kind = ClauseKind::Trigger;
    c.expr = expr(*kids[0]);
    if (kids.size() > 1) c.duration = duration(*kids[1]);
  } else if (n.is_type<rules::when_clause>()) {
    c.kind = ClauseKind::When;
    c.expr = expr(*kids[0]);
  } else if (n.is_type<rules::during_clause>()) {
    c.kind = ClauseKind::During;
    string_field(*kids[0], c);
  } else if (n.is_type<rules::action_clause>()) {
    c.kind = ClauseKind::Action;
    action(n, c);
  } else if (n.is_type<rules::expect_clause>()) {
    c.kind = ClauseKind::Expect;
    c.expr = expr(*kids[0]);
    c.direction = text(*kids[1]) == "decreases" ? Direction::Decreases : Direction::Increases;
    count(*kids[2], c);
    c.duration = duration(*kids[3]);
  } else if (n.is_type<rules::rollback_clause>()) {
    c.kind = ClauseKind::Rollback;
    c.expr = expr(*kids[0]);
  } else if (n.is_type<rules::cooldown_clause>()) {
    c.kind = ClauseKind::Cooldown;
    c.duration = duration(*kids[0]);
  } else if (n.is_type<rules::limit_clause>()) {
    c.kind = ClauseKind::Limit;
    count(*kids[0], c);
    c.duration = duration(*kids[1]);
  } else if (n.is_type<rules::after_clause>()) {
    c.kind = ClauseKind::After;
    for (const auto& ref : kids) c.names.push_back({text(*ref), span(*ref)});
  } else if (n.is_type<rules::quarantine_clause>()) {
    c.kind = ClauseKind::Quarantine;
    for (const auto& kid : kids) {
      if (kid->is_type<rules::quarantine_rollback>()) {
        c.rollback = true;
        continue;
      }
      ValidationLimit limit;
      Clause counted;
      count(*kid->children[0], counted);
      limit.count = counted.number;
      limit.count_text = counted.number_text;
      limit.count_unit = counted.number_unit;
      limit.count_span = counted.number_span;
      const ParseNode& words = *kid->children[1];
      limit.words = text(words);
      limit.words_span = span(words);
      std::string_view k = text(*words.children[0]);
      limit.kind = k.substr(0, 4) == "fail"    ? LimitKind::Failures
                   : k.substr(0, 5) == "error" ? LimitKind::Errors
                                               : LimitKind::Inconclusive;
      c.limits.push_back(limit);
    }
    const ValidationLimit& first = c.limits.front();
    c.number = first.count;
    c.number_text = first.count_text;
    c.number_unit = first.count_unit;
    c.number_span = first.count_span;
  } else if (n.is_type<rules::on_clause>()) {
    c.kind = ClauseKind::Quarantine;
    c.verdict_rule = VerdictRule::OnInconclusive;
    c.rollback = text(*kids[0]) == "rollback";
  } else {  // then_clause
    c.kind = ClauseKind::Pause;
    c.duration = duration(*kids[0]);
  }
  return c;
}

void Builder::item(const ParseNode& n) {
  Item it;
  it.span = span(n);
  std::string_view t = text(n);
  size_t keyword_length = t.find_first_of(" \t\r\n{#");
  if (keyword_length == std::string_view::npos) keyword_length = t.size();
  it.keyword_span = {it.span.begin, it.span.begin + static_cast<uint32_t>(keyword_length)};
  if (!n.children.empty() && n.children[0]->is_type<rules::item_name>()) {
    it.name = {text(*n.children[0]), span(*n.children[0])};
  }
  if (n.is_type<rules::let_item>()) {
    it.kind = ItemKind::Let;
    it.expr = expr(*n.children[1]);
  } else if (n.is_type<rules::knob_item>()) {
    it.kind = ItemKind::Knob;
    const ParseNode& type = *n.children[1];
    it.type_name = {text(type), span(type)};
    static const std::pair<std::string_view, KnobType> types[] = {
        {"int", KnobType::Int},           {"float", KnobType::Float},
        {"duration", KnobType::Duration}, {"bytes", KnobType::Bytes},
        {"percent", KnobType::Percent},
    };
    bool known = false;
    for (const auto& [name, kt] : types) {
      if (name == it.type_name.text) {
        it.knob_type = kt;
        known = true;
      }
    }
    if (!known) {
      std::string hint =
          did_you_mean(it.type_name.text, {"int", "float", "duration", "bytes", "percent"});
      diags_.add(Code::UnknownKnobType, m_.file.get(), it.type_name.span,
                 "unknown knob type '" + std::string(it.type_name.text) + "'",
                 hint.empty() ? "the types are int, float, duration, bytes and percent" : hint);
    }
    auto bound = [&](const ParseNode& b) {
      ExprId value = number(*b.children.back());
      if (b.children.size() == 1) return value;
      Expr neg;
      neg.kind = ExprKind::Unary;
      neg.op = BinaryOp::Sub;
      neg.lhs = value;
      neg.span = span(b);
      return push(std::move(neg));
    };
    it.min = bound(*n.children[2]);
    it.max = bound(*n.children[3]);
    for (size_t k = 4; k < n.children.size(); ++k)
      it.options.push_back(knob_option(*n.children[k]));
  } else {  // block_header
    std::string_view keyword = text(n).substr(0, it.keyword_span.end - it.keyword_span.begin);
    it.kind = keyword == "policy"      ? ItemKind::Policy
              : keyword == "emergency" ? ItemKind::Emergency
                                       : ItemKind::Defaults;
  }
  m_.items.push_back(std::move(it));
}

}  // namespace

void build_item(const ParseNode& item, Module& module, Diagnostics& diagnostics) {
  Builder(module, diagnostics).item(item);
}

void build_clause(const ParseNode& clause, Module& module, Diagnostics& diagnostics) {
  Clause c = Builder(module, diagnostics).clause(clause);
  module.items.back().clauses.push_back(std::move(c));
}

}  // namespace setpoint
