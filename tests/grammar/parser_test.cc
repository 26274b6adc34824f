#include <catch2/catch.hpp>

#include "grammar/formatter.h"
#include "support/fixtures.h"

using namespace setpoint;
using setpoint::test::parse_text;

namespace {

// Parses `let x = EXPR` and prints the tree fully parenthesised, to pin precedence.
std::string shape(const Module& m, ExprId id) {
  const Expr& e = m.expr(id);
  switch (e.kind) {
    case ExprKind::Binary:
      return "(" + shape(m, e.lhs) + " " + binary_op_text(e.op) + (e.bool_modifier ? " bool" : "") +
             " " + shape(m, e.rhs) + ")";
    case ExprKind::Unary:
      return std::string("(") + (e.op == BinaryOp::Sub ? "-" : "+") + shape(m, e.lhs) + ")";
    case ExprKind::Paren:
      return shape(m, e.lhs);
    default:
      return format_expr(m, id);
  }
}

std::string parse_shape(const std::string& expr) {
  Diagnostics d;
  Module m = parse_text("let x = " + expr + "\n", d);
  REQUIRE(d.list().empty());
  REQUIRE(m.items.size() == 1);
  return shape(m, m.items[0].expr);
}

}  // namespace

TEST_CASE("binary operators follow PromQL's precedence and associativity") {
  CHECK(parse_shape("a + b * c") == "(a + (b * c))");
  CHECK(parse_shape("a - b - c") == "((a - b) - c)");
  CHECK(parse_shape("a / b % c") == "((a / b) % c)");
  CHECK(parse_shape("2 ^ 3 ^ 2") == "(2 ^ (3 ^ 2))");
  CHECK(parse_shape("-2 ^ 2") == "(-(2 ^ 2))");
  CHECK(parse_shape("2 ^ -1") == "(2 ^ (-1))");
  CHECK(parse_shape("a > 1 and b < 2 or c == 3") == "(((a > 1) and (b < 2)) or (c == 3))");
  CHECK(parse_shape("a unless b and c") == "((a unless b) and c)");
  CHECK(parse_shape("a + b > bool c * 2") == "((a + b) > bool (c * 2))");
  CHECK(parse_shape("a atan2 b + c") == "((a atan2 b) + c)");
}

TEST_CASE("selectors, ranges, subqueries, offsets and matchers") {
  Diagnostics d;
  Module m = parse_text(
      "let x = rate(http_requests_total{job=\"api\", code!~\"5..\"}[5m] offset 1h)\n"
      "let y = max_over_time(rate(x[1m])[30m:1m])\n",
      d);
  REQUIRE(d.list().empty());
  const Expr& call = m.expr(m.items[0].expr);
  REQUIRE(call.kind == ExprKind::Call);
  CHECK(call.text == "rate");
  const Expr& offset = m.expr(call.args[0]);
  REQUIRE(offset.kind == ExprKind::Offset);
  CHECK(offset.number == 3600);
  const Expr& range = m.expr(offset.lhs);
  REQUIRE(range.kind == ExprKind::Range);
  CHECK(range.number == 300);
  const Expr& sel = m.expr(range.lhs);
  REQUIRE(sel.kind == ExprKind::Selector);
  CHECK(sel.text == "http_requests_total");
  REQUIRE(sel.matchers.size() == 2);
  CHECK(sel.matchers[0].label == "job");
  CHECK(sel.matchers[0].value == "api");
  CHECK(sel.matchers[1].op == MatchOp::NotRegex);
  CHECK(sel.matchers[1].value == "5..");
  const Expr& sub = m.expr(m.expr(m.items[1].expr).args[0]);
  REQUIRE(sub.kind == ExprKind::Subquery);
  CHECK(sub.number == 1800);
  CHECK(sub.step == 60);
}

TEST_CASE("aggregations take by/without before or after, and a parameter") {
  Diagnostics d;
  Module m = parse_text(
      "let a = sum by (job, instance) (x)\nlet b = avg(x) without (pod)\nlet c = topk(3, x)\n"
      "let d = a / on (job) group_left (team) b\n",
      d);
  REQUIRE(d.list().empty());
  const Expr& a = m.expr(m.items[0].expr);
  CHECK(a.kind == ExprKind::Aggregate);
  CHECK(a.grouping == Grouping::By);
  CHECK(a.grouping_labels == std::vector<std::string_view>{"job", "instance"});
  const Expr& b = m.expr(m.items[1].expr);
  CHECK(b.grouping == Grouping::Without);
  CHECK(b.trailing_grouping);
  const Expr& c = m.expr(m.items[2].expr);
  REQUIRE(c.args.size() == 2);
  CHECK(m.expr(c.args[0]).number == 3);
  const Expr& dd = m.expr(m.items[3].expr);
  CHECK(dd.grouping == Grouping::On);
  CHECK(dd.group_side == GroupSide::Left);
  CHECK(dd.include_labels == std::vector<std::string_view>{"team"});
}

TEST_CASE("a policy keeps every clause with its source range") {
  std::string text =
      "policy p {\n"
      "  trigger latency_seconds > 500ms for 5m\n"
      "  action set cache_ttl = 30s\n"
      "  expect latency_seconds decreases by 20% within 10m\n"
      "  cooldown 30m\n"
      "  limit 3 per 24h\n"
      "  quarantine after 3 consecutive failures\n"
      "}\n";
  Diagnostics d;
  Module m = parse_text(text, d);
  REQUIRE(d.list().empty());
  REQUIRE(m.items.size() == 1);
  const Item& p = m.items[0];
  CHECK(p.kind == ItemKind::Policy);
  CHECK(p.name.text == "p");
  REQUIRE(p.clauses.size() == 6);
  const Clause& trigger = p.clauses[0];
  CHECK(trigger.kind == ClauseKind::Trigger);
  CHECK(trigger.duration.seconds == 300);
  CHECK(m.file->position(trigger.span.begin).line == 2);
  CHECK(m.file->position(trigger.span.begin).column == 3);
  CHECK(m.file->slice(trigger.span) == "trigger latency_seconds > 500ms for 5m");
  CHECK(p.clauses[1].action == ActionKind::Set);
  CHECK(p.clauses[1].name.text == "cache_ttl");
  CHECK(p.clauses[2].number == Approx(0.2));
  CHECK(p.clauses[2].direction == Direction::Decreases);
  CHECK(p.clauses[2].duration.seconds == 600);
  CHECK(p.clauses[4].number == 3);
  CHECK(p.clauses[4].duration.seconds == 86400);
  CHECK(p.clauses[5].number == 3);
}

TEST_CASE("clause keywords end an expression, even across lines") {
  Diagnostics d;
  Module m = parse_text(
      "policy p {\n  trigger x > 1\n    or y > 2\n    for 5m\n  action notify \"hi\"\n}\n", d);
  REQUIRE(d.list().empty());
  const Clause& t = m.items[0].clauses[0];
  CHECK(m.expr(t.expr).op == BinaryOp::Or);
  CHECK(t.duration.seconds == 300);
}

TEST_CASE("one run reports an error in every broken item and keeps what parsed") {
  Diagnostics d;
  Module m = parse_text(
      "let a = rate(x[5m]\n"  // missing ')'
      "let b = 1\n"
      "policy p {\n  trigger b > 0 for 1m\n  cooldwn 5m\n}\n"
      "knob k : int in 1..\n"
      "let c = 2\n",
      d);
  std::vector<std::string> found;
  for (const auto& diag : d.list()) {
    Position pos = diag.file->position(diag.span.begin);
    found.push_back(std::to_string(pos.line) + ":" + std::to_string(pos.column) + " " +
                    std::string(code_info(diag.code).id) + " " + diag.message);
  }
  CHECK(found == std::vector<std::string>{
                     "1:19 E0100 expected ')', found 'let'",
                     "5:3 E0103 unknown clause 'cooldwn'",
                     "7:20 E0100 expected a number, found 'let'",
                 });
  // The policy keeps the clauses that parsed; the let and the knob are dropped.
  REQUIRE(m.items.size() == 3);
  CHECK(m.items[0].name.text == "b");
  CHECK(m.items[1].name.text == "p");
  CHECK(m.items[1].broken);
  CHECK(m.items[1].clauses.size() == 1);
  CHECK(m.items[2].name.text == "c");
  CHECK(m.broken_names == std::vector<std::string>{"a", "k"});
}

TEST_CASE("an unclosed block is reported at its brace, with where it was still open") {
  Diagnostics d;
  parse_text("policy p {\n  trigger x > 1 for 1m\n\npolicy q {\n}\n", d);
  REQUIRE(d.list().size() == 1);
  const Diagnostic& diag = d.list()[0];
  CHECK(diag.code == Code::UnclosedBlock);
  CHECK(diag.message == "'policy p' is missing its closing '}'");
  CHECK(diag.file->position(diag.span.begin).column == 10);
  REQUIRE(diag.notes.size() == 1);
  CHECK(diag.file->position(diag.notes[0].span.begin).line == 4);
}

TEST_CASE("comments are found outside strings only") {
  Diagnostics d;
  Module m = parse_text("# head\nlet a = x{re=\"a#b\"} # tail\n  # own line\n", d);
  REQUIRE(d.list().empty());
  REQUIRE(m.comments.size() == 3);
  CHECK(m.file->slice(m.comments[0].span) == "# head");
  CHECK(m.comments[0].own_line);
  CHECK(m.file->slice(m.comments[1].span) == "# tail");
  CHECK_FALSE(m.comments[1].own_line);
  CHECK(m.comments[2].own_line);
}

TEST_CASE("columns count code points, so carets line up under non-ASCII text") {
  Diagnostics d;
  parse_text("policy p {\n  description \"größer\" cooldwn\n}\n", d);
  REQUIRE(d.list().size() == 1);
  Position pos = d.list()[0].file->position(d.list()[0].span.begin);
  CHECK(pos.line == 2);
  CHECK(pos.column == 24);
}

TEST_CASE("an unterminated string is marked from its opening quote") {
  Diagnostics d;
  Module m =
      parse_text("policy p {\n  description \"a \\\"b\\\" c\n  trigger x > 1 for 1m\n}\n", d);
  REQUIRE(d.list().size() == 1);
  CHECK(d.list()[0].code == Code::UnterminatedString);
  CHECK(d.list()[0].file->position(d.list()[0].span.begin).column == 15);
}

TEST_CASE("after a broken clause, a misspelled clause on the next line is still reported") {
  Diagnostics d;
  parse_text("policy p {\n  trigger x > for 1m\n  cooldwn 5m\n  lmit 3 per 1h\n}\n", d);
  std::vector<Code> codes;
  for (const auto& diag : d.list()) codes.push_back(diag.code);
  CHECK(codes ==
        std::vector<Code>{Code::ExpectedExpression, Code::UnknownClause, Code::UnknownClause});
}

TEST_CASE("lets and knobs cannot be named after reserved words") {
  Diagnostics d;
  parse_text("let for = 1\nknob limit : int in 1..2\n", d);
  REQUIRE(d.list().size() == 2);
  CHECK(d.list()[0].message == "expected a name that is not a reserved word, found 'for'");
  CHECK(d.list()[1].message == "expected a name that is not a reserved word, found 'limit'");
}

TEST_CASE("a UTF-8 byte-order mark at the start is skipped") {
  Diagnostics d;
  Module m = parse_text("\xEF\xBB\xBFlet a = 1\n", d);
  CHECK(d.list().empty());
  CHECK(m.items.size() == 1);
}

TEST_CASE("a quarantine clause holds a limit per kind of outcome, and the old form still reads") {
  Diagnostics d;
  Module m = parse_text(
      "policy p {\n"
      "  quarantine after 3 consecutive failures\n"
      "  quarantine and rollback after 2 failures, 1 error,\n"
      "             4 inconclusive\n"
      "  on inconclusive rollback\n"
      "}\n",
      d);
  REQUIRE(d.list().empty());
  const std::vector<Clause>& c = m.items[0].clauses;
  REQUIRE(c.size() == 3);
  CHECK(c[0].kind == ClauseKind::Quarantine);
  CHECK(c[0].verdict_rule == VerdictRule::Quarantine);
  CHECK_FALSE(c[0].rollback);
  REQUIRE(c[0].limits.size() == 1);
  CHECK(c[0].limits[0].kind == LimitKind::Failures);
  CHECK(c[0].limits[0].count == 3);
  CHECK(c[0].limits[0].words == "consecutive failures");
  CHECK(c[0].number == 3);
  CHECK(c[1].rollback);
  REQUIRE(c[1].limits.size() == 3);
  CHECK(c[1].limits[1].kind == LimitKind::Errors);
  CHECK(c[1].limits[1].words == "error");
  CHECK(c[1].limits[2].kind == LimitKind::Inconclusive);
  CHECK(c[1].limits[2].count == 4);
  CHECK(c[2].kind == ClauseKind::Quarantine);
  CHECK(c[2].verdict_rule == VerdictRule::OnInconclusive);
  CHECK(c[2].rollback);
  CHECK(std::string(clause_keyword(c[2])) == "on inconclusive");
}

TEST_CASE("a broken quarantine or on clause says what it expected") {
  auto first = [](const std::string& clause) {
    Diagnostics d;
    parse_text("policy p {\n  " + clause + "\n}\n", d);
    REQUIRE_FALSE(d.list().empty());
    return d.list()[0].message;
  };
  CHECK(first("quarantine after 3 retries") ==
        "expected failures, errors or inconclusive, found 'retries'");
  CHECK(first("quarantine after 3 failures, errors") ==
        "expected another count after ',', found "
        "'errors'");
  CHECK(first("quarantine and pause after 3 failures") ==
        "expected 'rollback' after 'quarantine and', found 'pause'");
  CHECK(first("on failure rollback") == "expected 'inconclusive' after 'on', found 'failure'");
  CHECK(first("on inconclusive retry") == "expected 'keep' or 'rollback', found 'retry'");
}

TEST_CASE("a knob takes damping options after its bounds, on one line or several") {
  Diagnostics d;
  Module m = parse_text(
      "knob pool : int in 4..256 stabilize up 0s down 5m, tolerance 10%,\n"
      "  max step 8 per 1m\n"
      "knob ttl : duration in 0s..1h stabilize down 10m\n"
      "let x = 1\n",
      d);
  REQUIRE(d.list().empty());
  REQUIRE(m.items.size() == 3);
  const std::vector<KnobOption>& o = m.items[0].options;
  REQUIRE(o.size() == 3);
  CHECK(o[0].kind == KnobOptionKind::Stabilize);
  CHECK(o[0].up.seconds == 0);
  CHECK(o[0].up.present);
  CHECK(o[0].down.seconds == 300);
  CHECK(o[1].kind == KnobOptionKind::Tolerance);
  CHECK(m.expr(o[1].amount).number == Approx(0.1));
  CHECK(o[2].kind == KnobOptionKind::MaxStep);
  CHECK(m.expr(o[2].amount).number == 8);
  CHECK(o[2].per.seconds == 60);
  REQUIRE(m.items[1].options.size() == 1);
  CHECK_FALSE(m.items[1].options[0].up.present);
  CHECK(m.items[1].options[0].down.seconds == 600);
  CHECK(m.items[2].kind == ItemKind::Let);
}

TEST_CASE("a word after a knob's bounds that starts no option is reported at the word") {
  Diagnostics d;
  parse_text("knob pool : int in 4..256 stabilise down 5m\nlet x = 1\n", d);
  REQUIRE(d.list().size() == 1);
  CHECK(d.list()[0].code == Code::UnknownKnobOption);
  CHECK(d.list()[0].message == "unknown knob option 'stabilise'");
  CHECK(d.list()[0].hint == "did you mean 'stabilize'?");
  Diagnostics d2;
  parse_text("knob pool : int in 4..256 stabilize 5m\n", d2);
  REQUIRE(d2.list().size() == 1);
  CHECK(d2.list()[0].message == "expected 'up' or 'down' and a duration, found '5m'");
}
