#include "runtime/policy_loader.h"

#include "grammar/parser.h"
#include "runtime/zoneinfo.h"

namespace setpoint {

PolicySet load_policy_set(const std::vector<std::string>& paths) {
  PolicySet set;
  set.paths = expand_policy_paths(paths, set.file_errors);
  ParseLimits limits;
  for (const std::string& path : set.paths) {
    std::string text, error;
    if (!read_file(path, limits.max_bytes, text, error)) {
      set.file_errors.push_back({path, error});
      continue;
    }
    auto file = std::make_shared<const SourceFile>(path, std::move(text));
    set.modules.push_back(parse_module(file, set.diagnostics, limits));
  }
  set.program = check_policy_set(set.modules, set.diagnostics, &set.compiled, &set.is_compiled);
  return set;
}

CheckedProgram check_policy_set(const std::vector<Module>& modules, Diagnostics& diagnostics,
                                Program* compiled, bool* is_compiled) {
  static const SystemZoneDatabase zones;
  CheckOptions options;
  options.zones = &zones;
  CheckedProgram program = check_program(modules, diagnostics, options);
  if (!diagnostics.has_errors()) {
    Program graph = compile_program(modules, program, diagnostics);
    bool ok = !diagnostics.has_errors();
    if (ok) analyze_program(modules, graph, diagnostics);
    if (compiled && ok) *compiled = std::move(graph);
    if (is_compiled) *is_compiled = ok;
  }
  diagnostics.sort();
  return program;
}

}  // namespace setpoint
