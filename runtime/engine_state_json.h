// The engine core's restorable state (interpreter/engine.h EngineState) as JSON, the form the
// daemon keeps in its state store. Reading is strict about types and never throws.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "interpreter/engine.h"

namespace setpoint {

std::string engine_state_to_json(const EngineState& state);
// nullopt, with `error` saying why, when the text is not a state this version wrote.
std::optional<EngineState> engine_state_from_json(const std::string& text, std::string& error);

// One policy's part (Engine::policy_state), stored in a row of its own so that a decision
// rewrites the policies it changed, not all of them.
std::string policy_state_to_json(const EngineState::PolicyState& state);
std::optional<EngineState::PolicyState> policy_state_from_json(const std::string& text,
                                                               std::string& error);
// The state as the store holds it: the shared document and a row per policy. A store written
// before policies had rows of their own keeps them in the document; a row, being newer, wins
// over the document's entry of the same name.
std::optional<EngineState> engine_state_from_json(
    const std::string& shared, const std::vector<std::pair<std::string, std::string>>& rows,
    std::string& error);

}  // namespace setpoint
