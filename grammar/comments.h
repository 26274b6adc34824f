// Finds every `#` comment in a policy file, skipping strings exactly as the grammar does, so the
// formatter can put each one back where it was.
#pragma once

#include <string_view>
#include <vector>

#include "grammar/ast.h"

namespace setpoint {

std::vector<Comment> scan_comments(std::string_view text);

}  // namespace setpoint
