// Event -> JSON, shared by simulate, the audit log and the control API's event stream, so the
// three always agree on what an event looks like.
#include "runtime/event_json.h"

#include <cmath>

namespace setpoint {

nlohmann::json event_json(const Event& e) {
  nlohmann::json instance = nlohmann::json::object();
  for (const Label& l : e.instance) instance[l.name] = l.value;
  nlohmann::json out = {{"time", static_cast<double>(e.t_ms) / 1000.0},
                        {"policy", e.policy},
                        {"instance", instance},
                        {"event", event_kind_name(e.kind)}};
  if (!e.knob.empty()) out["knob"] = e.knob;
  if (!std::isnan(e.from)) out["from"] = e.from;
  if (!std::isnan(e.to)) out["to"] = e.to;
  if (e.action) out["action"] = e.action;
  if (!e.reason.empty()) out["reason"] = e.reason;
  if (e.error) out["error"] = true;
  return out;
}

}  // namespace setpoint
