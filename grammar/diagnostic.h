// User-facing diagnostics: a code from one catalogue, a source span, a message and a hint.
// A user error is data collected and reported together; internal failures are exceptions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "grammar/source_file.h"

namespace setpoint {

enum class Severity { Error, Warning, Note };

// The catalogue. Every code is documented in docs/language.md and triggered by a fixture in
// tests/fixtures/diagnostics/. Codes are never reused for another meaning.
#define SETPOINT_DIAGNOSTIC_CODES(X)                                              \
  X(Syntax, "E0100", "syntax error")                                              \
  X(UnterminatedString, "E0101", "unterminated string")                           \
  X(UnknownItem, "E0102", "unknown top-level item")                               \
  X(UnknownClause, "E0103", "unknown clause")                                     \
  X(UnclosedBlock, "E0104", "block not closed")                                   \
  X(ExpectedExpression, "E0105", "expected an expression")                        \
  X(BadNumber, "E0106", "invalid number or unit")                                 \
  X(ExpectedDuration, "E0107", "expected a duration")                             \
  X(TooDeep, "E0108", "nesting too deep")                                         \
  X(TooLarge, "E0109", "file too large")                                          \
  X(InvalidUtf8, "E0110", "invalid UTF-8")                                        \
  X(BadEscape, "E0111", "invalid escape sequence")                                \
  X(UnknownKnobOption, "E0112", "unknown knob option")                            \
  X(UnknownKnob, "E0201", "unknown knob")                                         \
  X(UnknownPolicy, "E0202", "unknown policy")                                     \
  X(UnknownFunction, "E0203", "unknown function")                                 \
  X(Duplicate, "E0204", "duplicate definition")                                   \
  X(KnobConflict, "E0205", "conflicting knob declarations")                       \
  X(LikelyMisspelling, "W0206", "name read as a metric looks like a misspelling") \
  X(AfterSelf, "E0207", "policy ordered after itself")                            \
  X(UnknownKnobType, "E0209", "unknown knob type")                                \
  X(LetCycle, "E0211", "let definitions form a cycle")                            \
  X(AfterCycle, "E0212", "policies ordered in a cycle")                           \
  X(ArgumentType, "E0301", "wrong argument type")                                 \
  X(ArgumentCount, "E0302", "wrong number of arguments")                          \
  X(OperandType, "E0303", "wrong operand type")                                   \
  X(BadModifier, "E0304", "modifier not allowed here")                            \
  X(BadBaseline, "E0305", "baseline used outside a rollback comparison")          \
  X(NotACondition, "W0306", "condition does not compare")                         \
  X(BadRange, "E0307", "range applied to something that is not a selector")       \
  X(BareNumberUnit, "W0401", "bare number compared with a value that has a unit") \
  X(UnitMismatch, "E0402", "incompatible units")                                  \
  X(KnobUnit, "E0403", "value does not fit the knob's type")                      \
  X(PercentScale, "W0404", "ratio compared with a number above 1")                \
  X(OutOfBounds, "E0501", "value outside the knob's bounds")                      \
  X(EmptyRange, "E0502", "empty knob range")                                      \
  X(MissingClause, "E0601", "missing required clause")                            \
  X(RepeatedClause, "E0602", "clause given twice")                                \
  X(ClauseNotAllowed, "E0603", "clause not allowed here")                         \
  X(BadTimeWindow, "E0604", "invalid time window")                                \
  X(UnknownTimeZone, "E0605", "unknown time zone")                                \
  X(NumberOutOfRange, "E0606", "number out of range")                             \
  X(ExpectNotPercent, "E0607", "expected change is not a percentage")             \
  X(NoExpect, "W0608", "action without an expected effect")                       \
  X(NoHold, "W0609", "trigger without a for duration")                            \
  X(BadDamping, "E0610", "invalid knob damping")                                  \
  X(RepeatedLimit, "E0611", "validation limit given twice")                       \
  X(KnobTugOfWar, "W0701", "policies may move a knob both ways at once")          \
  X(Flapping, "W0702", "policies may flap a knob")                                \
  X(EqualPriority, "W0703", "policies set a knob with equal priority")

enum class Code {
#define X(name, code, title) name,
  SETPOINT_DIAGNOSTIC_CODES(X)
#undef X
};

struct CodeInfo {
  Code code;
  std::string_view id;  // "E0100"
  std::string_view title;
  Severity severity;
};

const CodeInfo& code_info(Code code);
const std::vector<CodeInfo>& all_codes();

// A secondary location, such as the first definition of a duplicate.
struct Note {
  Note(const SourceFile* f, Span s, std::string m)
      : file(f ? f->shared_from_this() : nullptr), span(s), message(std::move(m)) {}
  std::shared_ptr<const SourceFile> file;
  Span span;
  std::string message;
};

struct Diagnostic {
  Code code = Code::Syntax;
  Severity severity = Severity::Error;
  std::shared_ptr<const SourceFile> file;
  Span span;
  std::string message;
  std::string hint;
  std::vector<Note> notes;
};

class Diagnostics {
 public:
  Diagnostic& add(Code code, const SourceFile* file, Span span, std::string message,
                  std::string hint = {});
  const std::vector<Diagnostic>& list() const { return list_; }
  std::vector<Diagnostic>& list() { return list_; }
  size_t error_count() const;
  size_t warning_count() const;
  bool has_errors() const { return error_count() > 0; }
  // Orders by file, then position, so output is stable whatever the check order was.
  void sort();

 private:
  std::vector<Diagnostic> list_;
};

std::string_view severity_name(Severity severity);

// `file:line:col: error[E0201]: message`, the source line, a caret under the span, the hint
// and the notes, each ending in a newline.
std::string render_text(const Diagnostic& diagnostic, bool color = false);

}  // namespace setpoint
