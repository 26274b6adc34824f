// The demo service's /metrics page: the model's counters and gauges in the Prometheus text
// exposition format 0.0.4.
#pragma once

#include <string>
#include <string_view>

#include "examples/demo/service_model.h"

namespace setpoint {

inline constexpr std::string_view kDemoMetricsContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// The gauges are read at the model's clock: advance it first.
std::string demo_metrics_text(const DemoServiceModel& model);

}  // namespace setpoint
