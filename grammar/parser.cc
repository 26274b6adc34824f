// The parser driver: one top-level item, then one block clause, at a time with PEGTL, each
// syntax error reported with its code and the parse resumed at the next item or clause.
#include "grammar/parser.h"

#include <cctype>
#include <tao/pegtl/contrib/limit_depth.hpp>
#include <tao/pegtl/contrib/parse_tree.hpp>

#include "grammar/ast_builder.h"
#include "grammar/comments.h"
#include "grammar/spelling.h"
#include "grammar/syntax_errors.h"

namespace setpoint {
namespace {

namespace pt = tao::pegtl::parse_tree;
using namespace rules;

// The rules that become tree nodes. Binary levels fold away when they hold a single operand,
// so `a` is a selector node, not five levels of wrappers.
// The rules that become tree nodes: one per expression, primary, operator tail and clause.
template <typename Rule>
using selector = pt::selector<
    Rule,
    pt::store_content::on<
        expression, number, string_literal, label_name, match_op, matchers, label_matcher,
        named_primary, vector_selector, call_arguments, grouping_keyword, grouping, paren_expr,
        baseline, subquery_colon, range_suffix, offset_sign, offset_suffix, pow_tail, pow_op,
        unary_neg, unary_op, binary_tail, binary_op, bool_modifier, matching_keyword, group_keyword,
        vector_matching, label_list, target_name, argument_name, named_argument, policy_ref,
        mode_value, direction, description_clause, priority_clause, mode_clause, trigger_clause,
        when_clause, during_clause, action_clause, set_action, run_action, notify_action,
        rollback_all_action, expect_clause, rollback_clause, cooldown_clause, limit_clause,
        after_clause, quarantine_clause, quarantine_rollback, validation_limit, limit_words,
        limit_kind, on_clause, inconclusive_action, then_clause, item_name, knob_type, knob_sign,
        knob_bound, stabilize_option, stabilize_window, tolerance_option, max_step_option, let_item,
        knob_item, block_header>>;

// Bounds recursion (and so stack use) on hostile input. Every nesting passes through `operand`:
// a parenthesis or call argument (an expression starts with one), a unary minus, a `^`.
template <typename Rule>
struct depth_action : tao::pegtl::nothing<Rule> {};
template <>
struct depth_action<operand> : tao::pegtl::limit_depth<kMaxNesting> {};

bool is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

size_t skip_space_and_comments(const std::string& text, size_t pos) {
  while (pos < text.size()) {
    char c = text[pos];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      ++pos;
    } else if (c == '#') {
      while (pos < text.size() && text[pos] != '\n') ++pos;
    } else {
      break;
    }
  }
  return pos;
}

// The token at `pos`, for messages: a word, or one (UTF-8) character.
Span token_at(const std::string& text, size_t pos) {
  if (pos >= text.size()) return {static_cast<uint32_t>(pos), static_cast<uint32_t>(pos)};
  size_t end = pos;
  if (is_ident_char(text[pos])) {
    while (end < text.size() && is_ident_char(text[end])) ++end;
  } else {
    ++end;
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
  }
  return {static_cast<uint32_t>(pos), static_cast<uint32_t>(end)};
}

const std::vector<std::string_view> kTopKeywords = {"let", "knob", "policy", "emergency",
                                                    "defaults"};
const std::vector<std::string_view> kClauseKeywords = {
    "description", "priority", "mode",  "trigger", "when",       "during", "action", "expect",
    "rollback",    "cooldown", "limit", "after",   "quarantine", "on",     "then"};
const std::vector<std::string_view> kKnobOptions = {"stabilize", "tolerance", "max"};

bool starts_top_item(const std::string& text, size_t pos) {
  for (std::string_view k : kTopKeywords) {
    if (text.compare(pos, k.size(), k) == 0 &&
        (pos + k.size() >= text.size() || !is_ident_char(text[pos + k.size()]))) {
      return true;
    }
  }
  return false;
}

// Where to resume after an error: the first line at or after the error whose first word starts a
// top-level item, but never the broken item's own start (so parsing always moves forward).
size_t recover(const std::string& text, size_t error_offset, size_t item_start) {
  size_t line = text.rfind('\n', error_offset == 0 ? 0 : error_offset - 1);
  line = (line == std::string::npos) ? 0 : line + 1;
  while (line < text.size()) {
    size_t p = line;
    while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) ++p;
    if (p > item_start && starts_top_item(text, p)) return p;
    size_t next = text.find('\n', line);
    if (next == std::string::npos) break;
    line = next + 1;
  }
  return text.size();
}

// The offset just past the last code before `offset`, skipping blanks and comments.
uint32_t end_of_previous_code(const std::string& text, size_t offset) {
  size_t p = std::min(offset, text.size());
  while (p > 0) {
    size_t line_start = text.rfind('\n', p - 1);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    size_t line_end =
        std::min(p, text.find('\n', line_start) == std::string::npos ? text.size()
                                                                     : text.find('\n', line_start));
    std::string_view line(text.data() + line_start, line_end - line_start);
    std::vector<Comment> comments = scan_comments(line);
    size_t code_end = comments.empty() ? line.size() : comments.front().span.begin;
    while (code_end > 0 && std::isspace(static_cast<unsigned char>(line[code_end - 1]))) --code_end;
    if (code_end > 0) return static_cast<uint32_t>(line_start + code_end);
    if (line_start == 0) break;
    p = line_start - 1;
  }
  return 0;
}

// The opening quote of the string still open at `offset`, found by reading its line the way
// the grammar does.
size_t open_quote(const std::string& text, size_t offset) {
  size_t line = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  size_t i = line == std::string::npos ? 0 : line + 1;
  size_t open = offset;
  char quote = 0;
  for (; i < offset && i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      if (c == '\\' && quote != '`') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '#') {
      break;
    } else if (c == '"' || c == '\'' || c == '`') {
      quote = c;
      open = i;
    }
  }
  return quote ? open : offset;
}

std::string describe_token(const std::string& text, Span token) {
  if (token.begin >= text.size()) return "end of file";
  return "'" + text.substr(token.begin, token.end - token.begin) + "'";
}

void report(const SyntaxError& e, const SourceFile& file, size_t item_start, Diagnostics& diags) {
  const std::string& text = file.text();
  Span token = token_at(text, e.offset);
  std::string word = text.substr(token.begin, token.end - token.begin);
  std::string message = e.message;
  std::string hint = e.hint;
  Span span = token;
  switch (e.code) {
    case Code::UnterminatedString: {
      size_t line_end = text.find('\n', e.offset);
      if (line_end == std::string::npos) line_end = text.size();
      span = {static_cast<uint32_t>(open_quote(text, e.offset)), static_cast<uint32_t>(line_end)};
      break;
    }
    case Code::UnknownClause:
      message = "unknown clause '" + word + "'";
      hint = did_you_mean(word, kClauseKeywords);
      if (hint.empty()) {
        hint =
            "clauses are description, priority, mode, trigger, when, during, action, expect, "
            "rollback, cooldown, limit, after, quarantine, on and then";
      }
      break;
    case Code::UnknownKnobOption:
      message = "unknown knob option '" + word + "'";
      hint = did_you_mean(word, kKnobOptions);
      if (hint.empty()) {
        hint =
            "after its bounds a knob takes `stabilize up D down D`, `tolerance P%` and `max "
            "step N per D`";
      }
      break;
    case Code::UnknownItem:
      message = std::string(e.message) + ", found " + describe_token(text, token);
      hint = did_you_mean(word, kTopKeywords);
      break;
    default: {
      message += ", found " + describe_token(text, token);
      // When what was found is on a later line (or is the end), the mistake is at the end of
      // the code before it: point there instead of at an unrelated line.
      uint32_t end = end_of_previous_code(text, e.offset);
      if (end > 0 && (token.begin >= text.size() ||
                      file.position(end).line < file.position(token.begin).line)) {
        span = {end, end};
      }
      break;
    }
  }
  diags.add(e.code, &file, span, message, hint);
}

// The name of an item that failed to parse, so later references to it are not reported too.
std::string item_name_at(const std::string& text, size_t item_start) {
  Span keyword = token_at(text, item_start);
  Span name = token_at(text, skip_space_and_comments(text, keyword.end));
  if (name.begin >= text.size() || !is_ident_char(text[name.begin])) return {};
  return text.substr(name.begin, name.end - name.begin);
}

void report_too_deep(const SourceFile& file, size_t at, Diagnostics& diags) {
  // Only limit_depth throws PEGTL's own error.
  diags.add(Code::TooDeep, &file, token_at(file.text(), at),
            "expression nests more than " + std::to_string(kMaxNesting) + " levels deep",
            "name inner parts with `let` to flatten it");
}

// A line that may start a clause: a clause keyword or a misspelling of one (so that its own
// E0103 is reported), a '}', or a top-level item.
bool starts_clause_or_close(const std::string& text, size_t pos) {
  if (pos < text.size() && text[pos] == '}') return true;
  if (starts_top_item(text, pos)) return true;
  Span word = token_at(text, pos);
  if (word.begin == word.end || !is_ident_char(text[word.begin])) return false;
  std::string_view w(text.data() + word.begin, word.end - word.begin);
  for (std::string_view k : kClauseKeywords) {
    if (w == k) return true;
  }
  return w.size() >= 4 && !closest_match(w, kClauseKeywords).empty();
}

// After an error in a clause: the first line after the error's whose first word starts a
// clause, closes the block or starts a top-level item.
size_t recover_clause(const std::string& text, size_t error_offset, size_t clause_start) {
  size_t line = text.find('\n', std::max(error_offset, clause_start));
  while (line != std::string::npos && line + 1 < text.size()) {
    size_t p = line + 1;
    while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) ++p;
    if (starts_clause_or_close(text, p)) return p;
    line = text.find('\n', p);
  }
  return text.size();
}

// The clauses of the block whose header was just built (the module's last item), up to and
// including its '}'. Returns where parsing goes on.
size_t parse_block_body(Module& module, Diagnostics& diags, size_t pos) {
  const SourceFile& file = *module.file;
  const std::string& text = file.text();
  Item& block = module.items.back();
  while (true) {
    pos = skip_space_and_comments(text, pos);
    if (pos < text.size() && text[pos] == '}') {
      block.span.end = static_cast<uint32_t>(pos + 1);
      return pos + 1;
    }
    if (pos >= text.size() || starts_top_item(text, pos)) {
      size_t open = text.find('{', block.span.begin);
      std::string what(file.slice(block.keyword_span));
      if (!block.name.text.empty()) what += " " + std::string(block.name.text);
      diags
          .add(Code::UnclosedBlock, &file,
               {static_cast<uint32_t>(open), static_cast<uint32_t>(open + 1)},
               "'" + what + "' is missing its closing '}'", "add '}' after its last clause")
          .notes.push_back({&file, token_at(text, pos), "the block is still open here"});
      block.broken = true;
      block.span.end = block.clauses.empty() ? block.span.end : block.clauses.back().span.end;
      return pos;
    }
    tao::pegtl::memory_input in(text.data() + pos, text.data() + text.size(), "", pos, 1, 1);
    try {
      auto root = pt::parse<clause, ParseNode, selector, depth_action, syntax_control>(in);
      if (!root) {
        Span token = token_at(text, pos);
        diags.add(Code::Syntax, &file, token,
                  "expected a clause or '}', found " + describe_token(text, token), "");
        block.broken = true;
        pos = recover_clause(text, pos, pos);
        continue;
      }
      build_clause(*root->children.front(), module, diags);
      pos = in.byte();
    } catch (const SyntaxError& e) {
      report(e, file, pos, diags);
      block.broken = true;
      pos = recover_clause(text, e.offset, pos);
    } catch (const tao::pegtl::parse_error& e) {
      size_t at = e.positions().empty() ? pos : e.positions().front().byte;
      report_too_deep(file, at, diags);
      block.broken = true;
      pos = recover_clause(text, at, pos);
    }
  }
}

}  // namespace

// Parse-tree nodes come from a free list rather than malloc (ParseNode in ast_builder.h).
namespace {

// One free list per thread; blocks are kept for reuse, bounded by the largest item parsed.
struct NodeFreeList {
  struct Slot {
    Slot* next;
  };
  Slot* head = nullptr;
  std::vector<std::unique_ptr<unsigned char[]>> blocks;
};
thread_local NodeFreeList free_nodes;
constexpr size_t kNodesPerBlock = 1024;

}  // namespace

void* ParseNode::operator new(std::size_t size) {
  if (size != sizeof(ParseNode)) return ::operator new(size);
  NodeFreeList& f = free_nodes;
  if (!f.head) {
    constexpr size_t stride = (sizeof(ParseNode) + alignof(std::max_align_t) - 1) /
                              alignof(std::max_align_t) * alignof(std::max_align_t);
    f.blocks.push_back(std::make_unique<unsigned char[]>(stride * kNodesPerBlock));
    unsigned char* base = f.blocks.back().get();
    for (size_t i = 0; i < kNodesPerBlock; ++i) {
      auto* slot = reinterpret_cast<NodeFreeList::Slot*>(base + i * stride);
      slot->next = f.head;
      f.head = slot;
    }
  }
  NodeFreeList::Slot* slot = f.head;
  f.head = slot->next;
  return slot;
}

void ParseNode::operator delete(void* p, std::size_t size) noexcept {
  if (!p) return;
  if (size != sizeof(ParseNode)) {
    ::operator delete(p);
    return;
  }
  auto* slot = static_cast<NodeFreeList::Slot*>(p);
  slot->next = free_nodes.head;
  free_nodes.head = slot;
}

Module parse_module(std::shared_ptr<const SourceFile> file, Diagnostics& diags,
                    const ParseLimits& limits) {
  Module module;
  module.file = file;
  const std::string& text = file->text();
  if (text.size() > limits.max_bytes) {
    diags.add(Code::TooLarge, file.get(), {0, 0},
              "file is " + std::to_string(text.size()) + " bytes; the limit is " +
                  std::to_string(limits.max_bytes),
              "split the policies over several files");
    return module;
  }
  size_t bad = find_invalid_utf8(text);
  if (bad != std::string::npos) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[bad]));
    diags.add(Code::InvalidUtf8, file.get(),
              {static_cast<uint32_t>(bad), static_cast<uint32_t>(bad + 1)},
              std::string("invalid UTF-8: byte ") + byte + " does not start a valid sequence",
              "save the file as UTF-8");
    return module;
  }
  module.comments = scan_comments(text);

  // A UTF-8 byte-order mark, as some editors write, is not part of the policy.
  size_t pos = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  while (true) {
    pos = skip_space_and_comments(text, pos);
    if (pos >= text.size()) break;
    tao::pegtl::memory_input in(text.data() + pos, text.data() + text.size(), "", pos, 1, 1);
    try {
      auto root = pt::parse<item, ParseNode, selector, depth_action, syntax_control>(in);
      const ParseNode& node = *root->children.front();
      build_item(node, module, diags);
      pos = in.byte();
      if (node.is_type<block_header>()) pos = parse_block_body(module, diags, pos);
    } catch (const SyntaxError& e) {
      report(e, *file, pos, diags);
      module.broken_names.push_back(item_name_at(text, pos));
      pos = recover(text, e.offset, pos);
    } catch (const tao::pegtl::parse_error& e) {
      size_t at = e.positions().empty() ? pos : e.positions().front().byte;
      report_too_deep(*file, at, diags);
      module.broken_names.push_back(item_name_at(text, pos));
      pos = recover(text, at, pos);
    }
  }
  return module;
}

}  // namespace setpoint
