// An engine event as one JSON object: the line `simulate --format json` prints, the body of
// the daemon's audit records, and what its live event stream sends.
#pragma once

#include <nlohmann/json.hpp>

#include "interpreter/engine_event.h"

namespace setpoint {

// {"time": <unix seconds>, "policy": ..., "instance": {labels}, "event": ..., knob, from, to,
// action, reason when they apply}
nlohmann::json event_json(const Event& e);

}  // namespace setpoint
