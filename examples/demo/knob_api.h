// The demo service's admin endpoints over its model: GET /admin/knobs, and GET and PUT
// /admin/knobs/NAME, answering JSON the way setpoint's http actuator reads it back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "examples/demo/service_model.h"
#include "runtime/http_server.h"

namespace setpoint {

struct DemoKnobChange {
  std::string name;
  int64_t from = 0;
  int64_t to = 0;
};

// A PUT body: {"value": N} or a bare number N. False with the reason when it is neither.
bool demo_parse_knob_body(std::string_view body, double& value, std::string& error);

// Answers a request for a path under /admin/knobs (404 for any other path). A PUT that sets a
// knob fills *change (when change is not null) so the caller can log it.
HttpResponse demo_knob_request(DemoServiceModel& model, const HttpRequest& request, double now_ms,
                               std::optional<DemoKnobChange>* change);

}  // namespace setpoint
