// What the parser says when it has committed to a construct (a `must<>`) and the input does not
// continue as it must. Every such point has a message: raise() refuses to compile without one.
#pragma once

#include <string>

#include "grammar/diagnostic.h"
#include "grammar/rules.h"

namespace setpoint {

struct SyntaxError {
  Code code;
  const char* message;
  const char* hint;
  size_t offset;  // byte offset into the file
};

template <typename Rule>
struct syntax_error {
  static constexpr const char* message = nullptr;
};

#define SETPOINT_SYNTAX_ERROR(rule, code_, message_, hint_) \
  template <>                                               \
  struct syntax_error<rules::rule> {                        \
    static constexpr Code code = Code::code_;               \
    static constexpr const char* message = message_;        \
    static constexpr const char* hint = hint_;              \
  }

SETPOINT_SYNTAX_ERROR(dq_body, UnterminatedString, "unterminated string",
                      "close it with \" on the same line");
SETPOINT_SYNTAX_ERROR(sq_body, UnterminatedString, "unterminated string",
                      "close it with ' on the same line");
SETPOINT_SYNTAX_ERROR(raw_body, UnterminatedString, "unterminated string",
                      "close it with ` on the same line");
SETPOINT_SYNTAX_ERROR(close_labels, Syntax, "expected ',' or ')' in the label list",
                      "label lists look like (job, instance)");
SETPOINT_SYNTAX_ERROR(match_op, Syntax, "expected a label matcher operator",
                      "use = != =~ or !~, as in {job=\"api\"}");
SETPOINT_SYNTAX_ERROR(matcher_value, Syntax, "expected a quoted label value",
                      "label values are strings: {job=\"api\"}");
SETPOINT_SYNTAX_ERROR(close_matchers, Syntax, "expected ',' or '}' after a label matcher", "");
SETPOINT_SYNTAX_ERROR(expression, ExpectedExpression, "expected an expression", "");
SETPOINT_SYNTAX_ERROR(operand, ExpectedExpression, "expected an expression after the operator", "");
SETPOINT_SYNTAX_ERROR(close_paren, Syntax, "expected ')'", "check that every '(' has its ')'");
SETPOINT_SYNTAX_ERROR(label_list, Syntax, "expected a label list",
                      "write the labels in parentheses, as in by (job, instance)");
SETPOINT_SYNTAX_ERROR(duration, ExpectedDuration, "expected a duration",
                      "durations look like 30s, 5m, 1h30m");
SETPOINT_SYNTAX_ERROR(close_bracket, Syntax, "expected ']' after the range",
                      "ranges look like [5m], subqueries like [30m:1m]");
SETPOINT_SYNTAX_ERROR(string_literal, Syntax, "expected a quoted string", "");
SETPOINT_SYNTAX_ERROR(count, Syntax, "expected a number", "");
SETPOINT_SYNTAX_ERROR(mode_value, Syntax, "expected a mode", "mode is auto, propose or dry-run");
SETPOINT_SYNTAX_ERROR(target_name, Syntax, "expected a name", "");
SETPOINT_SYNTAX_ERROR(equals, Syntax, "expected '='", "");
SETPOINT_SYNTAX_ERROR(open_paren, Syntax, "expected '(' after the actuator name",
                      "run an actuator as `action run restart_workers(grace = 30s)`");
SETPOINT_SYNTAX_ERROR(action_body, Syntax, "expected an action",
                      "an action is `set KNOB = EXPR`, `run NAME(ARGS)`, `notify [CHANNEL] "
                      "\"TEXT\"` or `rollback all since DURATION`");
SETPOINT_SYNTAX_ERROR(direction, Syntax, "expected 'decreases' or 'increases'",
                      "write `expect METRIC decreases by 20% within 10m`");
SETPOINT_SYNTAX_ERROR(kw_by, Syntax, "expected 'by' and the size of the change",
                      "write `expect METRIC decreases by 20% within 10m`");
SETPOINT_SYNTAX_ERROR(kw_within, Syntax, "expected 'within' and a duration",
                      "write `expect METRIC decreases by 20% within 10m`");
SETPOINT_SYNTAX_ERROR(kw_when, Syntax, "expected 'when' and a condition after 'rollback'",
                      "a rollback condition is `rollback when EXPR`; an emergency undoes actions "
                      "with `action rollback all since 30m`");
SETPOINT_SYNTAX_ERROR(kw_per, Syntax, "expected 'per' and a duration", "write `limit 3 per 24h`");
SETPOINT_SYNTAX_ERROR(kw_after, Syntax, "expected 'after'",
                      "write `quarantine after 3 failures, 2 errors, 4 inconclusive`");
SETPOINT_SYNTAX_ERROR(validation_limit, Syntax, "expected a count of validations",
                      "write `quarantine after 3 failures, 2 errors, 4 inconclusive`");
SETPOINT_SYNTAX_ERROR(limit_count, Syntax, "expected another count after ','",
                      "write `quarantine after 3 failures, 2 errors, 4 inconclusive`");
SETPOINT_SYNTAX_ERROR(limit_kind, Syntax, "expected failures, errors or inconclusive",
                      "write `quarantine after 3 failures, 2 errors, 4 inconclusive`");
SETPOINT_SYNTAX_ERROR(kw_rollback, Syntax, "expected 'rollback' after 'quarantine and'",
                      "write `quarantine and rollback after 3 inconclusive`");
SETPOINT_SYNTAX_ERROR(kw_inconclusive, Syntax, "expected 'inconclusive' after 'on'",
                      "write `on inconclusive keep` or `on inconclusive rollback`");
SETPOINT_SYNTAX_ERROR(inconclusive_action, Syntax, "expected 'keep' or 'rollback'",
                      "write `on inconclusive keep` or `on inconclusive rollback`");
SETPOINT_SYNTAX_ERROR(kw_pause, Syntax, "expected 'pause'", "write `then pause 1h`");
SETPOINT_SYNTAX_ERROR(kw_all, Syntax, "expected 'all'", "write `action rollback all since 30m`");
SETPOINT_SYNTAX_ERROR(kw_since, Syntax, "expected 'since'",
                      "write `action rollback all since 30m`");
SETPOINT_SYNTAX_ERROR(policy_refs, Syntax, "expected the name of a policy",
                      "write `after other_policy, another_policy`");
SETPOINT_SYNTAX_ERROR(unknown_clause, UnknownClause, "unknown clause", "");
SETPOINT_SYNTAX_ERROR(open_block, Syntax, "expected '{'",
                      "a block looks like `policy name { ... }`");
SETPOINT_SYNTAX_ERROR(item_name, Syntax, "expected a name",
                      "names start with a letter or '_' and go on with letters, digits and '_'");
SETPOINT_SYNTAX_ERROR(value_name, Syntax, "expected a name that is not a reserved word",
                      "lets and knobs are used in expressions, where words such as for, by, offset "
                      "and limit are reserved");
SETPOINT_SYNTAX_ERROR(colon, Syntax, "expected ':' and a type after the knob name",
                      "write `knob cache_ttl : duration in 0s..1h`");
SETPOINT_SYNTAX_ERROR(knob_type, Syntax, "expected a knob type",
                      "the types are int, float, duration, bytes and percent");
SETPOINT_SYNTAX_ERROR(knob_bounds, Syntax, "expected the knob's bounds",
                      "every knob has bounds: `knob db_pool : int in 4..256`");
SETPOINT_SYNTAX_ERROR(knob_bound, Syntax, "expected a number",
                      "bounds look like 0..100, 0s..1h or 64MiB..4GiB");
SETPOINT_SYNTAX_ERROR(range_dots, Syntax, "expected '..' between the bounds", "write `in 4..256`");
SETPOINT_SYNTAX_ERROR(stabilize_window, Syntax, "expected 'up' or 'down' and a duration",
                      "write `stabilize up 0s down 5m`");
SETPOINT_SYNTAX_ERROR(kw_step, Syntax, "expected 'step' after 'max'", "write `max step 8 per 1m`");
SETPOINT_SYNTAX_ERROR(step_amount, Syntax, "expected the size of the step",
                      "write `max step 8 per 1m`, or a percentage: `max step 50% per 1m`");
SETPOINT_SYNTAX_ERROR(step_per, Syntax, "expected 'per' and a duration",
                      "write `max step 8 per 1m`");
SETPOINT_SYNTAX_ERROR(knob_option, Syntax, "expected a damping option after ','",
                      "the options are `stabilize up D down D`, `tolerance P%` and `max step N per "
                      "D`");
SETPOINT_SYNTAX_ERROR(unknown_knob_option, UnknownKnobOption, "unknown knob option", "");
SETPOINT_SYNTAX_ERROR(unknown_item, UnknownItem,
                      "expected let, knob, policy, emergency or defaults", "");

#undef SETPOINT_SYNTAX_ERROR

template <typename Rule>
struct syntax_control : tao::pegtl::normal<Rule> {
  template <typename ParseInput, typename... States>
  [[noreturn]] static void raise(const ParseInput& in, States&&...) {
    static_assert(syntax_error<Rule>::message != nullptr,
                  "every must<> point needs a message in syntax_errors.h");
    throw SyntaxError{syntax_error<Rule>::code, syntax_error<Rule>::message,
                      syntax_error<Rule>::hint, in.byte()};
  }
};

}  // namespace setpoint
