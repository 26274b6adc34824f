// Parses one policy file into a Module. Parsing never stops at the first error: a broken item is
// reported and skipped up to the next line that starts a top-level item.
#pragma once

#include <memory>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"

namespace setpoint {

struct ParseLimits {
  size_t max_bytes = 64u << 20;  // larger files are refused (E0109)
};

// Deepest nesting of parenthesised expressions, call arguments and unary operators (E0108).
inline constexpr size_t kMaxNesting = 64;

Module parse_module(std::shared_ptr<const SourceFile> file, Diagnostics& diagnostics,
                    const ParseLimits& limits = {});

}  // namespace setpoint
