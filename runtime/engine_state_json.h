// The engine core's restorable state (interpreter/engine.h EngineState) as JSON, the form the
// daemon keeps in its state store. Reading is strict about types and never throws.
#pragma once

#include <optional>
#include <string>

#include "interpreter/engine.h"

namespace setpoint {

std::string engine_state_to_json(const EngineState& state);
// nullopt, with `error` saying why, when the text is not a state this version wrote.
std::optional<EngineState> engine_state_from_json(const std::string& text, std::string& error);

}  // namespace setpoint
