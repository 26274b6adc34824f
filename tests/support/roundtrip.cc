#include "support/roundtrip.h"

#include "grammar/formatter.h"
#include "grammar/parser.h"
#include "interpreter/checker.h"
#include "interpreter/program.h"

namespace setpoint::test {

std::string frontend_roundtrip(std::string_view input) {
  auto file = std::make_shared<const SourceFile>("fuzz.setpoint", std::string(input));
  Diagnostics diags;
  std::vector<Module> modules;
  modules.push_back(parse_module(file, diags));
  bool parse_errors = diags.has_errors();
  CheckedProgram checked = check_program(modules, diags);
  if (!diags.has_errors()) compile_program(modules, checked, diags);
  for (const Diagnostic& d : diags.list()) {
    if (d.span.begin > input.size() || d.span.end > input.size() + 1)
      return "diagnostic span outside the input";
    render_text(d);
  }
  if (parse_errors) return {};
  std::string once = format_module(modules[0]);
  Diagnostics again;
  Module reparsed = parse_module(std::make_shared<const SourceFile>("fuzz.setpoint", once), again);
  if (again.has_errors()) return "formatted output does not parse:\n" + once;
  if (dump_module(reparsed) != dump_module(modules[0]))
    return "formatting changed the program:\n" + once;
  if (reparsed.comments.size() != modules[0].comments.size())
    return "formatting lost a comment:\n" + once;
  if (format_module(reparsed) != once) return "formatting is not idempotent:\n" + once;
  return {};
}

}  // namespace setpoint::test
