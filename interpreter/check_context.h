// State shared by the checker's passes: the symbol tables of the whole policy set and the side
// tables being filled. Internal to interpreter/.
#pragma once

#include <map>
#include <string_view>
#include <vector>

#include "interpreter/checker.h"

namespace setpoint {

enum class LetState : uint8_t { Unvisited, Visiting, Done };

struct CheckContext {
  const std::vector<Module>& modules;
  Diagnostics& diags;
  const CheckOptions& options;
  CheckedProgram& out;

  std::vector<std::map<std::string_view, uint32_t>> lets;  // [module] name -> item index
  std::vector<std::vector<LetState>> let_state;            // [module][item]
  std::map<std::string_view, uint32_t> knobs;              // name -> index in out.knobs
  std::map<std::string_view, std::pair<uint32_t, uint32_t>> policies;  // name -> (module, item)
  std::vector<std::string_view> broken;  // names of items that did not parse
  // The lets being typed, outermost first, each with the reference that led to it: the path
  // printed when a cycle closes.
  std::vector<std::pair<uint32_t, Span>> let_path;

  const SourceFile* file(size_t m) const { return modules[m].file.get(); }
};

// Where an expression stands, which decides what it may contain.
struct ExprScope {
  bool rollback = false;               // `baseline` is allowed
  const ExprInfo* baseline = nullptr;  // the other side of the enclosing comparison
};

// Infers (and records) the type and unit of an expression, reporting what is wrong in it.
ExprInfo check_expr(CheckContext& ctx, uint32_t module, ExprId id, const ExprScope& scope);
// Types a let's expression once, detecting cycles between lets.
ExprInfo check_let(CheckContext& ctx, uint32_t module, uint32_t item, Span reference);

// Whether an expression is a condition (a comparison, or and/or of conditions).
bool is_condition(const CheckContext& ctx, uint32_t module, ExprId id);
// The literal number behind parentheses and a unary minus, or null.
const Expr* literal_number(const Module& module, ExprId id, double* value);

}  // namespace setpoint
