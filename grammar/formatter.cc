// The canonical layout. Elements (items, clauses, the operand lines of a broken `or`/`and`
// chain) are emitted in source order; every comment is emitted exactly once: above the element
// it precedes, or after the element whose last line it ends. A comment inside an element that
// is printed on one line moves above it, which keeps formatting idempotent.
#include "grammar/formatter.h"

#include <algorithm>
#include <sstream>

namespace setpoint {
namespace {

constexpr size_t kLineLimit = 100;

class Formatter {
 public:
  explicit Formatter(const Module& m) : m_(m), src_(m.file->text()) {}

  std::string run();
  std::string expression(ExprId id) const { return expr(id); }

 private:
  std::string expr(ExprId id) const {
    std::string out;
    print(out, id);
    return out;
  }
  void print(std::string& out, ExprId id) const;
  static void labels(std::string& out, const std::vector<std::string_view>& names);
  std::string binary_operator(const Expr& e) const;

  void item(const Item& it, uint32_t next_start);
  std::string option(const KnobOption& o) const;
  void clause(const Clause& c, uint32_t next_start);
  // `tail` goes after the expression on one line, or on a line of its own when the
  // expression is broken over several.
  void expression_lines(const std::string& prefix, ExprId id, const std::string& suffix,
                        uint32_t end, int indent, uint32_t next_start,
                        const std::string& tail = {});

  uint32_t line_of(uint32_t offset) const { return m_.file->position(offset).line; }
  bool blank_before(uint32_t offset) const;
  bool pending_comment_before(uint32_t offset) const {
    return next_comment_ < m_.comments.size() && m_.comments[next_comment_].span.begin < offset;
  }
  void blank_line();
  void comments_before(uint32_t offset, int indent);
  void emit(int indent, const std::string& text, uint32_t src_end, uint32_t next_start);

  void align_trailing_comments();

  const Module& m_;
  const std::string& src_;
  std::string out_;
  // For each output line ending in a trailing comment: where the line starts, and where the
  // comment starts. Consecutive ones are aligned at the end.
  struct Trailing {
    size_t line_start;
    size_t code_end;
  };
  std::vector<Trailing> trailing_;
  size_t next_comment_ = 0;
  bool suppress_blank_ = true;  // at the start of the file or of a block
};

void Formatter::labels(std::string& out, const std::vector<std::string_view>& names) {
  out += '(';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ", ";
    out += names[i];
  }
  out += ')';
}

std::string Formatter::binary_operator(const Expr& e) const {
  std::string op = binary_op_text(e.op);
  if (e.bool_modifier) op += " bool";
  if (e.grouping == Grouping::On || e.grouping == Grouping::Ignoring) {
    op += e.grouping == Grouping::On ? " on " : " ignoring ";
    labels(op, e.grouping_labels);
  }
  if (e.group_side != GroupSide::None) {
    op += e.group_side == GroupSide::Left ? " group_left" : " group_right";
    if (!e.include_labels.empty()) {
      op += ' ';
      labels(op, e.include_labels);
    }
  }
  return op;
}

void Formatter::print(std::string& out, ExprId id) const {
  const Expr& e = m_.expr(id);
  switch (e.kind) {
    case ExprKind::Number:
    case ExprKind::String:
    case ExprKind::Name:
    case ExprKind::Baseline:
      out += e.text;
      break;
    case ExprKind::Selector:
      out += e.text;
      out += '{';
      for (size_t i = 0; i < e.matchers.size(); ++i) {
        const Matcher& mt = e.matchers[i];
        if (i) out += ", ";
        out += mt.label;
        out += mt.op == MatchOp::Equal      ? "="
               : mt.op == MatchOp::NotEqual ? "!="
               : mt.op == MatchOp::Regex    ? "=~"
                                            : "!~";
        out += mt.value_text;
      }
      out += '}';
      break;
    case ExprKind::Range:
      print(out, e.lhs);
      out += '[';
      out += e.duration_text;
      out += ']';
      break;
    case ExprKind::Subquery:
      print(out, e.lhs);
      out += '[';
      out += e.duration_text;
      out += ':';
      out += e.step_text;
      out += ']';
      break;
    case ExprKind::Offset:
      print(out, e.lhs);
      out += e.number < 0 ? " offset -" : " offset ";
      out += e.duration_text;
      break;
    case ExprKind::Call:
    case ExprKind::Aggregate:
      out += e.text;
      if (e.grouping == Grouping::By || e.grouping == Grouping::Without) {
        out += e.grouping == Grouping::By ? " by " : " without ";
        labels(out, e.grouping_labels);
        out += ' ';
      }
      out += '(';
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (i) out += ", ";
        print(out, e.args[i]);
      }
      out += ')';
      break;
    case ExprKind::Unary:
      out += e.op == BinaryOp::Sub ? '-' : '+';
      print(out, e.lhs);
      break;
    case ExprKind::Paren:
      out += '(';
      print(out, e.lhs);
      out += ')';
      break;
    case ExprKind::Binary:
      print(out, e.lhs);
      out += ' ';
      out += binary_operator(e);
      out += ' ';
      print(out, e.rhs);
      break;
  }
}

// True when at least one empty line separates `offset` from the text before it.
bool Formatter::blank_before(uint32_t offset) const {
  int newlines = 0;
  for (size_t i = offset; i > 0; --i) {
    char c = src_[i - 1];
    if (c == '\n') {
      if (++newlines >= 2) return true;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      return false;
    }
  }
  return false;
}

void Formatter::blank_line() {
  if (suppress_blank_ || out_.empty()) return;
  if (out_.size() >= 2 && out_[out_.size() - 1] == '\n' && out_[out_.size() - 2] == '\n') return;
  out_ += '\n';
}

void Formatter::comments_before(uint32_t offset, int indent) {
  while (pending_comment_before(offset)) {
    const Comment& c = m_.comments[next_comment_++];
    if (blank_before(c.span.begin)) blank_line();
    out_.append(static_cast<size_t>(indent), ' ');
    out_ += m_.file->slice(c.span);
    out_ += '\n';
    suppress_blank_ = false;
  }
}

void Formatter::emit(int indent, const std::string& text, uint32_t src_end, uint32_t next_start) {
  size_t line_start = out_.size();
  out_.append(static_cast<size_t>(indent), ' ');
  out_ += text;
  if (next_comment_ < m_.comments.size() && src_end > 0) {
    const Comment& c = m_.comments[next_comment_];
    if (c.span.begin >= src_end && c.span.begin < next_start &&
        line_of(c.span.begin) == line_of(src_end - 1)) {
      trailing_.push_back({line_start, out_.size()});
      out_ += "  ";
      out_ += m_.file->slice(c.span);
      ++next_comment_;
    }
  }
  out_ += '\n';
  suppress_blank_ = false;
}

// Prints `prefix EXPR suffix`. A top-level chain of `or` (or of `and`/`unless`) that was written
// over several lines, or that would pass the line limit, gets one operand per line, the
// operators aligned before the operands.
void Formatter::expression_lines(const std::string& prefix, ExprId id, const std::string& suffix,
                                 uint32_t end, int indent, uint32_t next_start,
                                 const std::string& tail) {
  std::vector<ExprId> operands;
  std::vector<std::string> ops;
  const Expr& top = m_.expr(id);
  if (top.kind == ExprKind::Binary && is_set_operator(top.op)) {
    bool or_level = top.op == BinaryOp::Or;
    ExprId cur = id;
    while (true) {
      const Expr& e = m_.expr(cur);
      bool same = e.kind == ExprKind::Binary && is_set_operator(e.op) &&
                  ((e.op == BinaryOp::Or) == or_level);
      if (!same) break;
      operands.push_back(e.rhs);
      ops.push_back(binary_operator(e));
      cur = e.lhs;
    }
    operands.push_back(cur);
    std::reverse(operands.begin(), operands.end());
    std::reverse(ops.begin(), ops.end());
  }
  std::string one_line = prefix + expr(id) + suffix + (tail.empty() ? "" : " " + tail);
  bool written_broken = m_.file->slice(top.span).find('\n') != std::string_view::npos;
  bool too_long = static_cast<size_t>(indent) + one_line.size() > kLineLimit;
  if (operands.size() < 2 || !(written_broken || too_long)) {
    comments_before(end, indent);
    emit(indent, one_line, end, next_start);
    return;
  }
  size_t column = static_cast<size_t>(indent) + prefix.size();
  for (size_t k = 0; k < operands.size(); ++k) {
    const Expr& operand = m_.expr(operands[k]);
    bool last = k + 1 == operands.size();
    uint32_t operand_end = last && tail.empty() ? end : operand.span.end;
    std::string text;
    if (k == 0) {
      comments_before(operand_end, indent);
      text = prefix;
    } else {
      const std::string& op = ops[k - 1];
      size_t pad = column > op.size() + 1 + static_cast<size_t>(indent)
                       ? column - op.size() - 1 - static_cast<size_t>(indent)
                       : 2;
      comments_before(operand_end, indent + static_cast<int>(pad));
      text = std::string(pad, ' ') + op + ' ';
    }
    text += expr(operands[k]);
    if (last) text += suffix;
    uint32_t following = !last          ? m_.expr(operands[k + 1]).span.begin
                         : tail.empty() ? next_start
                                        : end;
    emit(indent, text, operand_end, following);
  }
  if (!tail.empty()) {
    comments_before(end, indent);
    emit(indent + 2, tail, end, next_start);
  }
}

std::string duration_text(const Duration& d) { return std::string(d.text); }

// `consecutive   failures` as `consecutive failures`: the words, one space apart.
std::string words(std::string_view written) {
  std::string out;
  bool space = false;
  for (char ch : written) {
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      out += ch;
      space = false;
    }
  }
  return out;
}

void Formatter::clause(const Clause& c, uint32_t next_start) {
  const int indent = 2;
  std::string head = clause_keyword(c.kind);
  switch (c.kind) {
    case ClauseKind::Trigger:
      expression_lines("trigger ", c.expr, "", c.span.end, indent, next_start,
                       c.duration.present ? "for " + duration_text(c.duration) : "");
      return;
    case ClauseKind::When:
      expression_lines("when ", c.expr, "", c.span.end, indent, next_start);
      return;
    case ClauseKind::Rollback:
      expression_lines("rollback when ", c.expr, "", c.span.end, indent, next_start);
      return;
    case ClauseKind::Expect:
      expression_lines(
          "expect ", c.expr,
          std::string(c.direction == Direction::Decreases ? " decreases by " : " increases by ") +
              std::string(c.number_text) + " within " + duration_text(c.duration),
          c.span.end, indent, next_start);
      return;
    case ClauseKind::Action:
      if (c.action == ActionKind::Set) {
        expression_lines("action set " + std::string(c.name.text) + " = ", c.expr, "", c.span.end,
                         indent, next_start);
        return;
      }
      if (c.action == ActionKind::Run) {
        head = "action run " + std::string(c.name.text) + "(";
        for (size_t i = 0; i < c.args.size(); ++i) {
          if (i) head += ", ";
          if (!c.args[i].name.text.empty()) head += std::string(c.args[i].name.text) + " = ";
          head += expr(c.args[i].value);
        }
        head += ")";
      } else if (c.action == ActionKind::Notify) {
        head = "action notify ";
        if (!c.name.text.empty()) head += std::string(c.name.text) + " ";
        head += c.string_text;
      } else {
        head = "action rollback all since " + duration_text(c.duration);
      }
      break;
    case ClauseKind::Description:
    case ClauseKind::During:
      head += " " + std::string(c.string_text);
      break;
    case ClauseKind::Priority:
      head += " " + std::string(c.number_text);
      break;
    case ClauseKind::Mode:
      head += c.mode == Mode::Auto ? " auto" : c.mode == Mode::Propose ? " propose" : " dry-run";
      break;
    case ClauseKind::Cooldown:
      head += " " + duration_text(c.duration);
      break;
    case ClauseKind::Limit:
      head += " " + std::string(c.number_text) + " per " + duration_text(c.duration);
      break;
    case ClauseKind::After:
      for (size_t i = 0; i < c.names.size(); ++i)
        head += (i ? ", " : " ") + std::string(c.names[i].text);
      break;
    case ClauseKind::Quarantine:
      if (c.verdict_rule == VerdictRule::OnInconclusive) {
        head = c.rollback ? "on inconclusive rollback" : "on inconclusive keep";
        break;
      }
      head += c.rollback ? " and rollback after " : " after ";
      for (size_t i = 0; i < c.limits.size(); ++i) {
        if (i) head += ", ";
        head += std::string(c.limits[i].count_text) + " " + words(c.limits[i].words);
      }
      break;
    case ClauseKind::Pause:
      head = "then pause " + duration_text(c.duration);
      break;
  }
  comments_before(c.span.end, indent);
  emit(indent, head, c.span.end, next_start);
}

// One damping option of a knob: `stabilize up 0s down 5m`, `tolerance 10%`, `max step 8 per 1m`.
std::string Formatter::option(const KnobOption& o) const {
  switch (o.kind) {
    case KnobOptionKind::Stabilize: {
      std::string out = "stabilize";
      bool up_first = o.up.present && (!o.down.present || o.up_span.begin < o.down_span.begin);
      for (int k = 0; k < 2; ++k) {
        bool up = (k == 0) == up_first;
        const Duration& d = up ? o.up : o.down;
        if (d.present) out += std::string(up ? " up " : " down ") + duration_text(d);
      }
      return out;
    }
    case KnobOptionKind::Tolerance:
      return "tolerance " + expr(o.amount);
    case KnobOptionKind::MaxStep:
      return "max step " + expr(o.amount) + " per " + duration_text(o.per);
  }
  return {};
}

void Formatter::item(const Item& it, uint32_t next_start) {
  switch (it.kind) {
    case ItemKind::Let:
      expression_lines("let " + std::string(it.name.text) + " = ", it.expr, "", it.span.end, 0,
                       next_start);
      return;
    case ItemKind::Knob: {
      comments_before(it.span.end, 0);
      std::string head = "knob " + std::string(it.name.text) + " : " +
                         std::string(it.type_name.text) + " in " + expr(it.min) + ".." +
                         expr(it.max);
      std::vector<std::string> options;
      for (const KnobOption& o : it.options) options.push_back(option(o));
      std::string one_line = head;
      for (size_t i = 0; i < options.size(); ++i) one_line += (i ? ", " : " ") + options[i];
      if (options.empty() || one_line.size() <= kLineLimit) {
        emit(0, one_line, it.span.end, next_start);
        return;
      }
      // Too long for one line: each option on a line of its own, indented under the knob.
      emit(0, head, 0, next_start);
      for (size_t i = 0; i < options.size(); ++i) {
        bool last = i + 1 == options.size();
        emit(2, options[i] + (last ? "" : ","), last ? it.span.end : 0, next_start);
      }
      return;
    }
    default:
      break;
  }
  std::string header = it.kind == ItemKind::Policy ? "policy " + std::string(it.name.text) + " {"
                       : it.kind == ItemKind::Emergency
                           ? "emergency " + std::string(it.name.text) + " {"
                           : std::string("defaults {");
  // The opening brace: the first '{' after the name that is not inside a comment.
  uint32_t brace = it.name.text.empty() ? it.keyword_span.end : it.name.span.end;
  while (brace < it.span.end && src_[brace] != '{') {
    if (src_[brace] == '#') {
      while (brace < it.span.end && src_[brace] != '\n') ++brace;
    } else {
      ++brace;
    }
  }
  uint32_t close = it.span.end - 1;
  comments_before(brace, 0);
  emit(0, header, brace + 1, it.clauses.empty() ? close : it.clauses.front().span.begin);
  suppress_blank_ = true;
  for (size_t i = 0; i < it.clauses.size(); ++i) {
    const Clause& c = it.clauses[i];
    uint32_t after = i + 1 < it.clauses.size() ? it.clauses[i + 1].span.begin : close;
    comments_before(c.span.begin, 2);
    if (blank_before(c.span.begin)) blank_line();
    clause(c, after);
  }
  comments_before(close, 2);
  emit(0, "}", it.span.end, next_start);
}

std::string Formatter::run() {
  const auto& items = m_.items;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    uint32_t next =
        i + 1 < items.size() ? items[i + 1].span.begin : static_cast<uint32_t>(src_.size()) + 1;
    uint32_t first = it.span.begin;
    if (pending_comment_before(first)) first = m_.comments[next_comment_].span.begin;
    bool is_block = it.kind != ItemKind::Let && it.kind != ItemKind::Knob;
    bool prev_block =
        i > 0 && items[i - 1].kind != ItemKind::Let && items[i - 1].kind != ItemKind::Knob;
    if (i > 0 && (is_block || prev_block || blank_before(first))) blank_line();
    comments_before(it.span.begin, 0);  // leading comments keep the blank lines between them
    if (blank_before(it.span.begin)) blank_line();
    item(it, next);
  }
  comments_before(static_cast<uint32_t>(src_.size()) + 1, 0);  // comments after the last item
  align_trailing_comments();
  return out_;
}

// Trailing comments on consecutive lines start in one column, two spaces after the longest
// code among them, unless that would push them past the line limit.
void Formatter::align_trailing_comments() {
  if (trailing_.empty()) return;
  std::string aligned;
  size_t copied = 0;
  size_t i = 0;
  while (i < trailing_.size()) {
    size_t j = i + 1;
    // A run continues while the next commented line directly follows the previous one.
    while (j < trailing_.size() &&
           out_.find('\n', trailing_[j - 1].line_start) + 1 == trailing_[j].line_start)
      ++j;
    size_t width = 0;
    for (size_t k = i; k < j; ++k)
      width = std::max(width, trailing_[k].code_end - trailing_[k].line_start);
    bool align = j - i > 1 && width + 2 < kLineLimit * 3 / 4;
    for (size_t k = i; k < j; ++k) {
      aligned.append(out_, copied, trailing_[k].code_end - copied);
      size_t code = trailing_[k].code_end - trailing_[k].line_start;
      aligned.append(align ? width - code : 0, ' ');
      copied = trailing_[k].code_end;
    }
    i = j;
  }
  aligned.append(out_, copied, std::string::npos);
  out_ = std::move(aligned);
}

void dump(std::ostream& os, const Module& m, ExprId id) {
  if (id == kNoExpr) {
    os << "_";
    return;
  }
  const Expr& e = m.expr(id);
  os << "(" << static_cast<int>(e.kind);
  switch (e.kind) {
    case ExprKind::Number:
      os << " " << e.number << " u" << static_cast<int>(e.unit);
      break;
    case ExprKind::String:
      os << " \"" << e.string_value << "\"";
      break;
    case ExprKind::Name:
    case ExprKind::Call:
    case ExprKind::Aggregate:
      os << " " << e.text;
      break;
    case ExprKind::Selector:
      os << " " << e.text;
      for (const auto& mt : e.matchers)
        os << " " << mt.label << static_cast<int>(mt.op) << "\"" << mt.value << "\"";
      break;
    case ExprKind::Range:
    case ExprKind::Offset:
      os << " " << e.number;
      break;
    case ExprKind::Subquery:
      os << " " << e.number << ":" << e.step;
      break;
    case ExprKind::Unary:
    case ExprKind::Binary:
      os << " op" << static_cast<int>(e.op) << (e.bool_modifier ? " bool" : "");
      break;
    default:
      break;
  }
  if (e.grouping != Grouping::None) {
    os << " g" << static_cast<int>(e.grouping);
    for (auto l : e.grouping_labels) os << " " << l;
  }
  if (e.group_side != GroupSide::None) {
    os << " s" << static_cast<int>(e.group_side);
    for (auto l : e.include_labels) os << " " << l;
  }
  for (ExprId child : {e.lhs, e.rhs}) {
    if (child != kNoExpr) {
      os << " ";
      dump(os, m, child);
    }
  }
  for (ExprId a : e.args) {
    os << " ";
    dump(os, m, a);
  }
  os << ")";
}

}  // namespace

std::string format_module(const Module& module) { return Formatter(module).run(); }

std::string format_expr(const Module& module, ExprId id) {
  return Formatter(module).expression(id);
}

std::string dump_module(const Module& m) {
  std::ostringstream os;
  for (const Item& it : m.items) {
    os << "item " << static_cast<int>(it.kind) << " " << it.name.text;
    if (it.kind == ItemKind::Let) {
      os << " ";
      dump(os, m, it.expr);
    }
    if (it.kind == ItemKind::Knob) {
      os << " " << knob_type_name(it.knob_type) << " ";
      dump(os, m, it.min);
      os << " ";
      dump(os, m, it.max);
      for (const KnobOption& o : it.options) {
        os << " " << knob_option_keyword(o.kind) << " " << (o.up.present ? o.up.seconds : -1) << " "
           << (o.down.present ? o.down.seconds : -1) << " " << (o.per.present ? o.per.seconds : -1)
           << " ";
        dump(os, m, o.amount);
      }
    }
    os << "\n";
    for (const Clause& c : it.clauses) {
      os << "  " << clause_keyword(c.kind) << " a" << static_cast<int>(c.action) << " m"
         << static_cast<int>(c.mode) << " d" << static_cast<int>(c.direction) << " " << c.name.text
         << " \"" << c.string_value << "\" " << c.number << " u" << static_cast<int>(c.number_unit)
         << " " << (c.duration.present ? c.duration.seconds : -1) << " ";
      dump(os, m, c.expr);
      for (const Name& n : c.names) os << " " << n.text;
      for (const Argument& a : c.args) {
        os << " " << a.name.text << "=";
        dump(os, m, a.value);
      }
      os << " r" << static_cast<int>(c.verdict_rule) << (c.rollback ? " rollback" : "");
      for (const ValidationLimit& l : c.limits)
        os << " " << l.count << " u" << static_cast<int>(l.count_unit) << " "
           << limit_kind_name(l.kind);
      os << "\n";
    }
  }
  os << "comments " << m.comments.size() << "\n";
  return os.str();
}

}  // namespace setpoint
