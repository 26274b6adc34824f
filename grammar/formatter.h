// `setpoint fmt`: prints a parsed module in the one canonical layout, keeping every comment.
#pragma once

#include <string>

#include "grammar/ast.h"

namespace setpoint {

// The module must have parsed without errors.
std::string format_module(const Module& module);

// One expression on one line, in canonical form.
std::string format_expr(const Module& module, ExprId id);

// A structural dump without positions or layout: two modules that dump alike are the same
// program. Used to prove that formatting never changes meaning.
std::string dump_module(const Module& module);

}  // namespace setpoint
