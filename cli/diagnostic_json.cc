#include "cli/diagnostic_json.h"

namespace setpoint {
namespace {

nlohmann::json entry(const SourceFile* file, Span span, std::string_view severity,
                     std::string_view code, const std::string& message, const std::string& hint) {
  Position begin = file ? file->position(span.begin) : Position{};
  Position end = file ? file->position(std::max(span.end, span.begin)) : Position{};
  return {{"file", file ? file->path() : std::string()},
          {"line", begin.line},
          {"column", begin.column},
          {"end_line", end.line},
          {"end_column", end.column},
          {"severity", severity},
          {"code", code},
          {"message", message},
          {"hint", hint}};
}

}  // namespace

void append_json(nlohmann::json& array, const Diagnostic& d) {
  std::string_view code = code_info(d.code).id;
  array.push_back(entry(d.file.get(), d.span, severity_name(d.severity), code, d.message, d.hint));
  for (const Note& n : d.notes)
    array.push_back(entry(n.file.get(), n.span, "note", code, n.message, ""));
}

}  // namespace setpoint
