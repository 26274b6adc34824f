// The policy language as PEGTL rules. Only the grammar lives here: the tree is built from the
// rules selected in ast_builder.cc, and the messages for `must<>` failures are in
// syntax_errors.h.
//
//   file        = { item }
//   item        = let | knob | policy | emergency | defaults
//   let         = "let" name "=" expr
//   knob        = "knob" name ":" type "in" bound ".." bound [ option { "," option } ]
//   option      = "stabilize" ("up" | "down") duration [ ("up" | "down") duration ]
//               | "tolerance" number | "max" "step" number "per" duration
//   policy      = "policy" name "{" { clause } "}"      (emergency likewise)
//   defaults    = "defaults" "{" { clause } "}"
//   clause      = description | priority | mode | trigger | when | during | action | expect
//               | rollback | cooldown | limit | after | quarantine | on | then
//   quarantine  = "quarantine" [ "and" "rollback" ] "after" limit { "," limit }
//   limit       = number [ "consecutive" ] ( "failures" | "errors" | "inconclusive" | ... )
//   on          = "on" "inconclusive" ( "keep" | "rollback" )
//   expr        = PromQL: or < and unless < comparisons (bool) < + - < * / % atan2 < unary - < ^
//                 with on/ignoring/group_left/group_right, aggregations with by/without,
//                 function calls, selectors {l="v"}, [range], [range:step], offset, and
//                 number literals with units (500ms, 1h30m, 80%, 512MiB).
#pragma once

#include <tao/pegtl.hpp>

namespace setpoint::rules {

using namespace tao::pegtl;

// ---------------------------------------------------------------------------------------------
// Lexical
struct comment : seq<one<'#'>, star<not_one<'\n'>>> {};
struct blank_or_comment : sor<plus<space>, comment> {};
struct _ : star<blank_or_comment> {};

// Parse-tree nodes are made for every selected rule the parser *tries*; a lookahead on how the
// rule starts keeps it from trying, and discarding, rules that cannot match. The lookahead must
// use unselected rules only: a selected rule inside at<> still makes a node.
template <typename First, typename Rule>
struct guarded : seq<at<First>, Rule> {};

struct ident_first : ranges<'a', 'z', 'A', 'Z', '_'> {};
struct ident_other : ranges<'a', 'z', 'A', 'Z', '0', '9', '_'> {};
struct identifier : seq<ident_first, star<ident_other>> {};

#define SETPOINT_KEYWORD(name, text) \
  struct name : seq<TAO_PEGTL_STRING(text), not_at<ident_other>> {}

SETPOINT_KEYWORD(kw_let, "let");
SETPOINT_KEYWORD(kw_knob, "knob");
SETPOINT_KEYWORD(kw_policy, "policy");
SETPOINT_KEYWORD(kw_emergency, "emergency");
SETPOINT_KEYWORD(kw_defaults, "defaults");
SETPOINT_KEYWORD(kw_in, "in");
SETPOINT_KEYWORD(kw_description, "description");
SETPOINT_KEYWORD(kw_priority, "priority");
SETPOINT_KEYWORD(kw_mode, "mode");
SETPOINT_KEYWORD(kw_trigger, "trigger");
SETPOINT_KEYWORD(kw_for, "for");
SETPOINT_KEYWORD(kw_when, "when");
SETPOINT_KEYWORD(kw_during, "during");
SETPOINT_KEYWORD(kw_action, "action");
SETPOINT_KEYWORD(kw_set, "set");
SETPOINT_KEYWORD(kw_run, "run");
SETPOINT_KEYWORD(kw_notify, "notify");
SETPOINT_KEYWORD(kw_all, "all");
SETPOINT_KEYWORD(kw_since, "since");
SETPOINT_KEYWORD(kw_expect, "expect");
SETPOINT_KEYWORD(kw_increases, "increases");
SETPOINT_KEYWORD(kw_decreases, "decreases");
SETPOINT_KEYWORD(kw_within, "within");
SETPOINT_KEYWORD(kw_rollback, "rollback");
SETPOINT_KEYWORD(kw_cooldown, "cooldown");
SETPOINT_KEYWORD(kw_limit, "limit");
SETPOINT_KEYWORD(kw_per, "per");
SETPOINT_KEYWORD(kw_after, "after");
SETPOINT_KEYWORD(kw_quarantine, "quarantine");
SETPOINT_KEYWORD(kw_consecutive, "consecutive");
SETPOINT_KEYWORD(kw_failures, "failures");
SETPOINT_KEYWORD(kw_failure, "failure");
SETPOINT_KEYWORD(kw_errors, "errors");
SETPOINT_KEYWORD(kw_error, "error");
SETPOINT_KEYWORD(kw_inconclusive, "inconclusive");
SETPOINT_KEYWORD(kw_keep, "keep");
SETPOINT_KEYWORD(kw_stabilize, "stabilize");
SETPOINT_KEYWORD(kw_up, "up");
SETPOINT_KEYWORD(kw_down, "down");
SETPOINT_KEYWORD(kw_tolerance, "tolerance");
SETPOINT_KEYWORD(kw_max, "max");
SETPOINT_KEYWORD(kw_step, "step");
SETPOINT_KEYWORD(kw_then, "then");
SETPOINT_KEYWORD(kw_pause, "pause");
SETPOINT_KEYWORD(kw_auto, "auto");
SETPOINT_KEYWORD(kw_propose, "propose");
SETPOINT_KEYWORD(kw_dry_run, "dry-run");
SETPOINT_KEYWORD(kw_or, "or");
SETPOINT_KEYWORD(kw_and, "and");
SETPOINT_KEYWORD(kw_unless, "unless");
SETPOINT_KEYWORD(kw_bool, "bool");
SETPOINT_KEYWORD(kw_on, "on");
SETPOINT_KEYWORD(kw_ignoring, "ignoring");
SETPOINT_KEYWORD(kw_group_left, "group_left");
SETPOINT_KEYWORD(kw_group_right, "group_right");
SETPOINT_KEYWORD(kw_by, "by");
SETPOINT_KEYWORD(kw_without, "without");
SETPOINT_KEYWORD(kw_offset, "offset");
SETPOINT_KEYWORD(kw_baseline, "baseline");
SETPOINT_KEYWORD(kw_atan2, "atan2");

struct top_keyword : sor<kw_let, kw_knob, kw_policy, kw_emergency, kw_defaults> {};

// Words that end an expression or start the next clause can never be read as a metric name,
// so `trigger x > 1 for 5m` stops before `for`. `{__name__="for"}` still selects such a metric.
struct reserved : sor<kw_or, kw_and, kw_unless, kw_bool, kw_on, kw_ignoring, kw_group_left,
                      kw_group_right, kw_by, kw_without, kw_offset, kw_baseline, kw_for, kw_within,
                      kw_increases, kw_decreases, kw_description, kw_priority, kw_mode, kw_trigger,
                      kw_when, kw_during, kw_action, kw_expect, kw_rollback, kw_cooldown, kw_limit,
                      kw_after, kw_quarantine, kw_then, top_keyword> {};

// Metric names may contain ':' (recording rules); label and item names may not.
struct metric_char : sor<ident_other, one<':'>> {};
struct metric_name : seq<not_at<reserved>, sor<ident_first, one<':'>>, star<metric_char>> {};

// Numbers: the token is the numeral plus everything attached to it (500ms, 1h30m, 80%,
// 1.5GiB); literal.cc decodes and validates the unit so errors can point into the token.
struct exponent : seq<one<'e', 'E'>, opt<one<'+', '-'>>, plus<digit>> {};
struct numeral : sor<seq<one<'0'>, one<'x', 'X'>, plus<xdigit>>,
                     seq<plus<digit>, opt<one<'.'>, not_at<one<'.'>>, star<digit>>, opt<exponent>>,
                     seq<one<'.'>, plus<digit>, opt<exponent>>> {};
struct inf_nan : sor<TAO_PEGTL_KEYWORD("Inf"), TAO_PEGTL_KEYWORD("inf"), TAO_PEGTL_KEYWORD("NaN"),
                     TAO_PEGTL_KEYWORD("nan")> {};
struct number : sor<inf_nan, seq<numeral, star<sor<ident_other, one<'%'>>>>> {};

// Strings end at the line's end; escapes are decoded (and checked) in literal.cc.
struct dq_body : until<one<'"'>, sor<seq<one<'\\'>, not_one<'\n'>>, not_one<'\n'>>> {};
struct sq_body : until<one<'\''>, sor<seq<one<'\\'>, not_one<'\n'>>, not_one<'\n'>>> {};
struct raw_body : until<one<'`'>, not_one<'\n'>> {};
struct string_literal
    : sor<if_must<one<'"'>, dq_body>, if_must<one<'\''>, sq_body>, if_must<one<'`'>, raw_body>> {};

// Wrappers give one rule a message of its own where the parser commits with must<>.
struct duration : seq<number> {};
struct count : seq<number> {};
struct equals : seq<one<'='>, not_at<one<'='>>> {};
struct colon : one<':'> {};
struct comma : one<','> {};
struct open_paren : one<'('> {};
struct close_paren : one<')'> {};
struct close_bracket : one<']'> {};
struct close_matchers : one<'}'> {};
struct close_labels : one<')'> {};

// ---------------------------------------------------------------------------------------------
// Expressions
struct expression;
struct operand;

struct label_name : identifier {};
struct label_list
    : seq<one<'('>, _, opt<list_tail<label_name, comma, blank_or_comment>>, _, must<close_labels>> {
};

struct match_op
    : sor<TAO_PEGTL_STRING("=~"), TAO_PEGTL_STRING("!="), TAO_PEGTL_STRING("!~"), equals> {};
struct matcher_value : seq<string_literal> {};
struct label_matcher : seq<label_name, _, must<match_op>, _, must<matcher_value>> {};
struct matchers : seq<one<'{'>, _, opt<list_tail<label_matcher, comma, blank_or_comment>>, _,
                      must<close_matchers>> {};

struct paren_expr : seq<one<'('>, _, must<expression>, _, must<close_paren>> {};

// Selectors, function calls and aggregations all start with a name; one rule reads them all and
// the tree builder tells them apart by the name (`sum`, `topk`, ... are aggregations), so the
// parser never tries and discards a call before every selector.
struct grouping_keyword : sor<kw_by, kw_without> {};
struct grouping : seq<grouping_keyword, _, must<label_list>> {};
struct call_arguments
    : seq<one<'('>, _, opt<list<expression, comma, blank_or_comment>>, _, must<close_paren>> {};
struct named_primary
    : seq<metric_name,
          opt<_, sor<seq<opt<grouping, _>, call_arguments, opt<_, grouping>>, matchers>>> {};
struct vector_selector : matchers {};  // {label="value"} without a name

struct baseline : kw_baseline {};

struct number_start : sor<digit, one<'.'>, inf_nan> {};
struct primary : sor<guarded<one<'('>, paren_expr>, guarded<number_start, number>,
                     guarded<one<'"', '\'', '`'>, string_literal>, guarded<kw_baseline, baseline>,
                     guarded<one<'{'>, vector_selector>, named_primary> {};

struct subquery_colon : one<':'> {};
struct range_suffix : seq<one<'['>, _, must<duration>, _, opt<subquery_colon, _, opt<duration, _>>,
                          must<close_bracket>> {};
struct offset_sign : one<'-'> {};
struct offset_suffix : seq<kw_offset, _, opt<offset_sign, _>, must<duration>> {};
struct postfix_expr
    : seq<primary,
          star<_, sor<guarded<one<'['>, range_suffix>, guarded<kw_offset, offset_suffix>>>> {};

// Operators. `^` and unary minus are in the grammar, so `-2 ^ 2` is -(2 ^ 2) as in PromQL; an
// operand is a unary expression. The binary operators of the five looser levels are read as one
// flat list, `operand (op operand)*`, and the tree builder applies their precedence (or <
// and unless < comparisons < + - < * / % atan2). A level per precedence in the grammar would
// cost PEGTL a temporary tree node per level for every operand.
struct pow_op : one<'^'> {};
struct pow_tail : seq<_, pow_op, _, must<operand>> {};
struct power_expr : seq<postfix_expr, opt<guarded<seq<_, one<'^'>>, pow_tail>>> {};
struct unary_op : one<'-', '+'> {};
struct unary_neg : seq<unary_op, _, must<operand>> {};
struct unary_expr : sor<guarded<one<'-', '+'>, unary_neg>, power_expr> {};
struct operand : seq<unary_expr> {};

struct bool_modifier : kw_bool {};
struct matching_keyword : sor<kw_on, kw_ignoring> {};
struct group_keyword : sor<kw_group_left, kw_group_right> {};
struct vector_matching
    : seq<matching_keyword, _, must<label_list>, opt<_, group_keyword, opt<_, label_list>>> {};
struct modifiers : seq<opt<_, bool_modifier>, opt<_, vector_matching>> {};

struct binary_op : sor<TAO_PEGTL_STRING("=="), TAO_PEGTL_STRING("!="), TAO_PEGTL_STRING(">="),
                       TAO_PEGTL_STRING("<="), one<'>', '<', '+', '-', '*', '/', '%'>, kw_atan2,
                       kw_and, kw_unless, kw_or> {};
struct binary_tail : seq<_, binary_op, modifiers, _, must<operand>> {};
// The guard peeks with unselected rules only: a selected rule inside at<> still makes a node.
struct binary_start
    : sor<one<'=', '!', '<', '>', '+', '-', '*', '/', '%'>, kw_atan2, kw_and, kw_unless, kw_or> {};
struct expression : seq<operand, star<guarded<seq<_, binary_start>, binary_tail>>> {};

// ---------------------------------------------------------------------------------------------
// Clauses
struct target_name : identifier {};
struct description_clause : seq<kw_description, _, must<string_literal>> {};
struct priority_clause : seq<kw_priority, _, must<count>> {};
struct mode_value : sor<kw_auto, kw_propose, kw_dry_run> {};
struct mode_clause : seq<kw_mode, _, must<mode_value>> {};
struct trigger_clause : seq<kw_trigger, _, must<expression>, opt<_, kw_for, _, must<duration>>> {};
struct when_clause : seq<kw_when, _, must<expression>> {};
struct during_clause : seq<kw_during, _, must<string_literal>> {};

struct argument_name : identifier {};
struct named_argument : seq<argument_name, _, equals, _, must<expression>> {};
struct run_argument : sor<named_argument, expression> {};
struct set_action : seq<kw_set, _, must<target_name>, _, must<equals>, _, must<expression>> {};
struct run_action : seq<kw_run, _, must<target_name>, _, must<open_paren>, _,
                        opt<list<run_argument, comma, blank_or_comment>>, _, must<close_paren>> {};
struct notify_action : seq<kw_notify, _, opt<target_name, _>, must<string_literal>> {};
struct rollback_all_action
    : seq<kw_rollback, _, must<kw_all>, _, must<kw_since>, _, must<duration>> {};
struct action_body
    : sor<guarded<kw_set, set_action>, guarded<kw_run, run_action>,
          guarded<kw_notify, notify_action>, guarded<kw_rollback, rollback_all_action>> {};
struct action_clause : seq<kw_action, _, must<action_body>> {};

struct direction : sor<kw_decreases, kw_increases> {};
struct expect_clause : seq<kw_expect, _, must<expression>, _, must<direction>, _, must<kw_by>, _,
                           must<count>, _, must<kw_within>, _, must<duration>> {};
struct rollback_clause : seq<kw_rollback, _, must<kw_when>, _, must<expression>> {};
struct cooldown_clause : seq<kw_cooldown, _, must<duration>> {};
struct limit_clause : seq<kw_limit, _, must<count>, _, must<kw_per>, _, must<duration>> {};
struct policy_ref : identifier {};
struct policy_refs : list<policy_ref, comma, blank_or_comment> {};
struct after_clause : seq<kw_after, _, must<policy_refs>> {};
// `quarantine after 3 consecutive failures` is the first form this clause had; `consecutive` may
// precede any kind, and means what the engine counts anyway (docs/validation.md).
struct limit_kind : sor<kw_failures, kw_failure, kw_errors, kw_error, kw_inconclusive> {};
struct limit_words : seq<opt<kw_consecutive, _>, must<limit_kind>> {};
struct validation_limit : seq<count, _, limit_words> {};
struct limit_count : seq<validation_limit> {};  // a count after a comma: its own message
struct quarantine_rollback : seq<kw_and, _, must<kw_rollback>> {};
struct quarantine_clause : seq<kw_quarantine, _, opt<quarantine_rollback, _>, must<kw_after>, _,
                               must<validation_limit>, star<_, comma, _, must<limit_count>>> {};
struct inconclusive_action : sor<kw_keep, kw_rollback> {};
struct on_clause : seq<kw_on, _, must<kw_inconclusive>, _, must<inconclusive_action>> {};
struct then_clause : seq<kw_then, _, must<kw_pause>, _, must<duration>> {};

// A word that starts no clause: reported at the word, with a did-you-mean.
struct unknown_clause : seq<not_at<top_keyword>, at<identifier>, raise<unknown_clause>> {};

struct clause : sor<guarded<kw_description, description_clause>,
                    guarded<kw_priority, priority_clause>, guarded<kw_mode, mode_clause>,
                    guarded<kw_trigger, trigger_clause>, guarded<kw_when, when_clause>,
                    guarded<kw_during, during_clause>, guarded<kw_action, action_clause>,
                    guarded<kw_expect, expect_clause>, guarded<kw_rollback, rollback_clause>,
                    guarded<kw_cooldown, cooldown_clause>, guarded<kw_limit, limit_clause>,
                    guarded<kw_after, after_clause>, guarded<kw_quarantine, quarantine_clause>,
                    guarded<kw_on, on_clause>, guarded<kw_then, then_clause>, unknown_clause> {};

struct open_block : one<'{'> {};

// ---------------------------------------------------------------------------------------------
// Items
struct item_name : identifier {};
struct knob_type : identifier {};
struct knob_sign : one<'-'> {};
struct knob_bound : seq<opt<knob_sign, _>, number> {};
struct range_dots : TAO_PEGTL_STRING("..") {};
struct knob_bounds : seq<kw_in, _, must<knob_bound>, _, must<range_dots>, _, must<knob_bound>> {};

// Damping options follow the bounds, separated by commas, on one line or several.
struct stabilize_direction : sor<kw_up, kw_down> {};
struct stabilize_window : seq<stabilize_direction, _, must<duration>> {};
struct stabilize_option : seq<kw_stabilize, _, must<stabilize_window>, opt<_, stabilize_window>> {};
struct tolerance_option : seq<kw_tolerance, _, must<count>> {};
struct step_amount : seq<number> {};
struct step_per : seq<kw_per> {};
struct max_step_option
    : seq<kw_max, _, must<kw_step>, _, must<step_amount>, _, must<step_per>, _, must<duration>> {};
struct knob_option
    : sor<guarded<kw_stabilize, stabilize_option>, guarded<kw_tolerance, tolerance_option>,
          guarded<kw_max, max_step_option>> {};
struct knob_options : seq<knob_option, star<_, comma, _, must<knob_option>>> {};
// A word after the bounds on the same line that starts no option: reported at the word.
struct unknown_knob_option : seq<at<identifier>, raise<unknown_knob_option>> {};
struct knob_tail : sor<seq<_, guarded<sor<kw_stabilize, kw_tolerance, kw_max>, knob_options>>,
                       seq<star<one<' ', '\t'>>, not_at<top_keyword>, unknown_knob_option>> {};

// Lets and knobs are used inside expressions, where reserved words cannot stand as names.
struct value_name : seq<not_at<reserved>, item_name> {};
struct let_item : seq<kw_let, _, must<value_name>, _, must<equals>, _, must<expression>> {};
struct knob_item : seq<kw_knob, _, must<value_name>, _, must<colon>, _, must<knob_type>, _,
                       must<knob_bounds>, opt<knob_tail>> {};
// A block is parsed as its header, then clause by clause (see parser.cc), so that an error in
// one clause does not hide the errors, or the checks, of the others.
struct block_keyword : sor<kw_policy, kw_emergency, kw_defaults> {};
struct block_header : sor<seq<kw_defaults, _, must<open_block>>,
                          seq<block_keyword, _, must<item_name>, _, must<open_block>>> {};
struct unknown_item : seq<at<any>, raise<unknown_item>> {};

struct item : sor<let_item, knob_item, block_header, unknown_item> {};

#undef SETPOINT_KEYWORD

}  // namespace setpoint::rules
