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
  set.program = check_policy_set(set.modules, set.diagnostics);
  return set;
}

CheckedProgram check_policy_set(const std::vector<Module>& modules, Diagnostics& diagnostics) {
  static const SystemZoneDatabase zones;
  CheckOptions options;
  options.zones = &zones;
  CheckedProgram program = check_program(modules, diagnostics, options);
  diagnostics.sort();
  return program;
}

}  // namespace setpoint
