#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/diagnostic_json.h"
#include "runtime/policy_loader.h"

namespace setpoint {

bool use_color(int fd) { return ::isatty(fd) && std::getenv("NO_COLOR") == nullptr; }

int load_error_free(const std::vector<std::string>& paths, PolicySet& set) {
  set = load_policy_set(paths);
  for (const FileError& e : set.file_errors) {
    std::cerr << "setpoint: " << e.path << ": " << e.message << "\n";
  }
  if (!set.file_errors.empty()) return 2;
  if (!set.diagnostics.has_errors()) return 0;
  for (const Diagnostic& d : set.diagnostics.list()) {
    if (d.severity == Severity::Error) std::cerr << render_text(d, use_color(STDERR_FILENO));
  }
  std::cerr << "setpoint: the policies have errors; run `setpoint check` for all findings\n";
  return 1;
}

int run_check(const CheckCommand& cmd) {
  PolicySet set = load_policy_set(cmd.paths);
  const Diagnostics& diags = set.diagnostics;
  if (cmd.format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const Diagnostic& d : diags.list()) append_json(out, d);
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    bool color = use_color(STDOUT_FILENO);
    for (const Diagnostic& d : diags.list()) std::cout << render_text(d, color) << "\n";
    size_t errors = diags.error_count(), warnings = diags.warning_count();
    std::cout << "checked " << set.modules.size() << " file" << (set.modules.size() == 1 ? "" : "s")
              << ": " << errors << " error" << (errors == 1 ? "" : "s") << ", " << warnings
              << " warning" << (warnings == 1 ? "" : "s") << "\n";
  }
  for (const FileError& e : set.file_errors)
    std::cerr << "setpoint: " << e.path << ": " << e.message << "\n";
  if (!set.file_errors.empty()) return 2;
  return diags.has_errors() ? 1 : 0;
}

}  // namespace setpoint
