#include <unistd.h>

#include <dtl/dtl.hpp>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/commands.h"
#include "grammar/formatter.h"
#include "grammar/parser.h"
#include "runtime/policy_files.h"

namespace setpoint {
namespace {

enum class FormatStatus { Ok, ParseErrors, Unsafe };

// Formats one file's text. A file with syntax errors is not formatted; a result that would not
// parse back to the same program is refused (a formatter bug must never change a policy).
FormatStatus format_text(const std::string& path, std::string text, std::string& formatted,
                         Diagnostics& diags) {
  auto file = std::make_shared<const SourceFile>(path, std::move(text));
  Module module = parse_module(file, diags);
  if (diags.has_errors()) return FormatStatus::ParseErrors;
  formatted = format_module(module);
  Diagnostics again;
  Module reparsed = parse_module(std::make_shared<const SourceFile>(path, formatted), again);
  if (again.has_errors() || dump_module(reparsed) != dump_module(module))
    return FormatStatus::Unsafe;
  return FormatStatus::Ok;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void print_diff(const std::string& path, const std::string& before, const std::string& after) {
  dtl::Diff<std::string, std::vector<std::string>> diff(split_lines(before), split_lines(after));
  diff.onHuge();
  diff.compose();
  diff.composeUnifiedHunks();
  std::cout << "--- " << path << "\n+++ " << path << " (formatted)\n";
  diff.printUnifiedFormat(std::cout);
}

}  // namespace

int run_fmt(const FmtCommand& cmd) {
  if (cmd.paths.size() == 1 && cmd.paths[0] == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    std::string formatted;
    Diagnostics diags;
    FormatStatus status = format_text("<stdin>", std::move(text), formatted, diags);
    for (const Diagnostic& d : diags.list()) std::cerr << render_text(d, use_color(STDERR_FILENO));
    if (status != FormatStatus::Ok) {
      if (status == FormatStatus::Unsafe)
        std::cerr << "setpoint: <stdin>: formatting would change the program; left as it is\n";
      return 1;
    }
    std::cout << formatted;
    return 0;
  }

  std::vector<FileError> errors;
  std::vector<std::string> files = expand_policy_paths(cmd.paths, errors);
  bool findings = false;
  for (const std::string& path : files) {
    std::string text, error;
    if (!read_file(path, ParseLimits{}.max_bytes, text, error)) {
      errors.push_back({path, error});
      continue;
    }
    std::string original = text;
    std::string formatted;
    Diagnostics diags;
    FormatStatus status = format_text(path, std::move(text), formatted, diags);
    if (status == FormatStatus::ParseErrors) {
      for (const Diagnostic& d : diags.list()) {
        if (d.severity == Severity::Error) std::cerr << render_text(d, use_color(STDERR_FILENO));
      }
      std::cerr << "setpoint: " << path << ": not formatted because it does not parse\n";
      findings = true;
      continue;
    }
    if (status == FormatStatus::Unsafe) {
      std::cerr << "setpoint: " << path
                << ": formatting would change the program; left as it is (please report this)\n";
      findings = true;
      continue;
    }
    if (formatted == original) continue;
    if (cmd.check) {
      std::cout << path << "\n";
      findings = true;
    }
    if (cmd.diff) print_diff(path, original, formatted);
    if (!cmd.check && !cmd.diff) {
      if (!write_file_atomically(path, formatted, error)) {
        errors.push_back({path, error});
        continue;
      }
      std::cerr << "formatted " << path << "\n";
    }
  }
  for (const FileError& e : errors)
    std::cerr << "setpoint: " << e.path << ": " << e.message << "\n";
  if (!errors.empty()) return 2;
  return findings ? 1 : 0;
}

}  // namespace setpoint
