// Diagnostics as JSON for editors and CI: one object per diagnostic, notes as their own entries.
#pragma once

#include <nlohmann/json.hpp>

#include "grammar/diagnostic.h"

namespace setpoint {

// Appends {file, line, column, end_line, end_column, severity, code, message, hint} for the
// diagnostic and one "note" entry for each of its notes. Lines and columns count from 1; the
// end is exclusive.
void append_json(nlohmann::json& array, const Diagnostic& diagnostic);

}  // namespace setpoint
