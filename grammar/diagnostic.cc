#include "grammar/diagnostic.h"

#include <algorithm>
#include <tuple>

namespace setpoint {

const std::vector<CodeInfo>& all_codes() {
  static const std::vector<CodeInfo> codes = {
#define X(name, id, title) \
  {Code::name, id, title, std::string_view(id)[0] == 'E' ? Severity::Error : Severity::Warning},
      SETPOINT_DIAGNOSTIC_CODES(X)
#undef X
  };
  return codes;
}

const CodeInfo& code_info(Code code) { return all_codes()[static_cast<size_t>(code)]; }

Diagnostic& Diagnostics::add(Code code, const SourceFile* file, Span span, std::string message,
                             std::string hint) {
  Diagnostic d;
  d.code = code;
  d.severity = code_info(code).severity;
  d.file = file ? file->shared_from_this() : nullptr;
  d.span = span;
  d.message = std::move(message);
  d.hint = std::move(hint);
  list_.push_back(std::move(d));
  return list_.back();
}

size_t Diagnostics::error_count() const {
  return std::count_if(list_.begin(), list_.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::Error; });
}

size_t Diagnostics::warning_count() const {
  return std::count_if(list_.begin(), list_.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::Warning; });
}

void Diagnostics::sort() {
  std::stable_sort(list_.begin(), list_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    std::string_view pa = a.file ? std::string_view(a.file->path()) : std::string_view();
    std::string_view pb = b.file ? std::string_view(b.file->path()) : std::string_view();
    return std::tie(pa, a.span.begin) < std::tie(pb, b.span.begin);
  });
}

std::string_view severity_name(Severity severity) {
  switch (severity) {
    case Severity::Error:
      return "error";
    case Severity::Warning:
      return "warning";
    case Severity::Note:
      return "note";
  }
  return "error";
}

namespace {

size_t code_points(std::string_view s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// The source line of `span`'s start with a caret line under the span (clipped to that line).
void append_excerpt(std::string& out, const SourceFile& file, Span span) {
  Position start = file.position(span.begin);
  std::string_view line = file.line_text(start.line);
  std::string number = std::to_string(start.line);
  std::string gutter(number.size(), ' ');
  // Tabs would misalign the caret; show them as single spaces.
  std::string shown(line);
  std::replace(shown.begin(), shown.end(), '\t', ' ');
  out += " " + number + " | " + shown + "\n";
  uint32_t line_begin = file.line_start(start.line);
  uint32_t line_end = line_begin + static_cast<uint32_t>(line.size());
  uint32_t end = std::min(std::max(span.end, span.begin), line_end);
  size_t width = end > span.begin ? code_points(file.slice({span.begin, end})) : 0;
  out += " " + gutter + " | " + std::string(start.column - 1, ' ') +
         std::string(std::max<size_t>(width, 1), '^') + "\n";
}

std::string location(const std::shared_ptr<const SourceFile>& file, Span span) {
  if (!file) return "<input>";
  Position p = file->position(span.begin);
  return file->path() + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
}

}  // namespace

std::string render_text(const Diagnostic& d, bool color) {
  const char* bold = color ? "\x1b[1m" : "";
  const char* reset = color ? "\x1b[0m" : "";
  const char* tint = !color ? "" : d.severity == Severity::Error ? "\x1b[1;31m" : "\x1b[1;35m";
  std::string out;
  out += std::string(bold) + location(d.file, d.span) + ": " + reset + tint +
         std::string(severity_name(d.severity)) + "[" + std::string(code_info(d.code).id) + "]" +
         reset + bold + ": " + d.message + reset + "\n";
  if (d.file) append_excerpt(out, *d.file, d.span);
  if (!d.hint.empty()) out += " = hint: " + d.hint + "\n";
  for (const Note& note : d.notes) {
    out += location(note.file, note.span) + ": note: " + note.message + "\n";
    if (note.file) append_excerpt(out, *note.file, note.span);
  }
  return out;
}

}  // namespace setpoint
