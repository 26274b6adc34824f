// Turns the parse tree of one top-level item into AST nodes appended to a Module, decoding and
// checking literals (numbers with units, durations, strings) on the way.
#pragma once

#include <tao/pegtl/contrib/parse_tree.hpp>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"

namespace setpoint {

// PEGTL makes a parse-tree node for every selected rule it tries and a temporary one for every
// composite rule above a selected one, and throws most away again; recycling them through a
// free list instead of malloc saves about a tenth of the parse time.
struct ParseNode : tao::pegtl::parse_tree::basic_node<ParseNode> {
  static void* operator new(std::size_t size);
  static void operator delete(void* p, std::size_t size) noexcept;
};

// A let or knob, or the header of a block (policy, emergency, defaults) without its clauses.
void build_item(const ParseNode& item, Module& module, Diagnostics& diagnostics);
// Appends one clause to the block being built, the module's last item.
void build_clause(const ParseNode& clause, Module& module, Diagnostics& diagnostics);

}  // namespace setpoint
