// Reads, parses and checks a set of policy files: what every command that takes policies does
// first. Policies load together, so `after` and knobs may refer across files.
#pragma once

#include <string>
#include <vector>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"
#include "interpreter/checker.h"
#include "interpreter/program.h"
#include "runtime/policy_files.h"

namespace setpoint {

struct PolicySet {
  std::vector<std::string> paths;
  std::vector<Module> modules;
  Diagnostics diagnostics;
  CheckedProgram program;
  Program compiled;  // the dependency graph, when the set checked without errors
  bool is_compiled = false;
  std::vector<FileError> file_errors;  // files that could not be found or read
};

PolicySet load_policy_set(const std::vector<std::string>& paths);

// Checks parsed modules against the system's tz database and, when that finds no errors,
// compiles them (which finds cycles in `after`) and analyses the graph (knob conflicts), into
// *compiled if given. Sorts the diagnostics.
CheckedProgram check_policy_set(const std::vector<Module>& modules, Diagnostics& diagnostics,
                                Program* compiled = nullptr, bool* is_compiled = nullptr);

}  // namespace setpoint
