// The demo service's /metrics page, written the way Prometheus' client libraries write it: HELP
// and TYPE before each family, cumulative histogram buckets, every counter present from 0.
#include "examples/demo/service_metrics.h"

#include <charconv>
#include <cstdint>

namespace setpoint {

namespace {

// The bucket bounds as the le label shows them (seconds), in kDemoDurationBucketsMs's order.
constexpr std::array<std::string_view, kDemoDurationBucketsMs.size()> kDemoBucketLabels = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5"};

std::string number_text(double value) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::string_view labels, uint64_t value) {
  out.append(name).append(labels).append(" ").append(std::to_string(value)).append("\n");
}

}  // namespace

std::string demo_metrics_text(const DemoServiceModel& model) {
  const DemoStats& s = model.stats();
  std::string out;
  out.reserve(4096);

  family(out, "demo_request_duration_seconds", "histogram",
         "Time from a request's arrival to its response, whatever its outcome.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kDemoBucketLabels.size(); ++i) {
    cumulative += s.duration_buckets[i];
    sample(out, "demo_request_duration_seconds_bucket",
           "{le=\"" + std::string(kDemoBucketLabels[i]) + "\"}", cumulative);
  }
  cumulative += s.duration_buckets.back();
  sample(out, "demo_request_duration_seconds_bucket", "{le=\"+Inf\"}", cumulative);
  out.append("demo_request_duration_seconds_sum ")
      .append(number_text(s.duration_sum_ms / 1000))
      .append("\n");
  sample(out, "demo_request_duration_seconds_count", "", s.duration_count);

  family(out, "demo_requests_total", "counter", "Responses to /api/item by status code.");
  sample(out, "demo_requests_total", "{code=\"200\"}", s.requests_200);
  sample(out, "demo_requests_total", "{code=\"503\"}", s.requests_503);
  sample(out, "demo_requests_total", "{code=\"504\"}", s.requests_504);

  family(out, "demo_cache_requests_total", "counter", "Cache lookups of /api/item by result.");
  sample(out, "demo_cache_requests_total", "{result=\"hit\"}", s.cache_hits);
  sample(out, "demo_cache_requests_total", "{result=\"miss\"}", s.cache_misses);

  family(out, "demo_inflight", "gauge", "Requests accepted and not answered yet.");
  sample(out, "demo_inflight", "", model.inflight());
  family(out, "demo_queue_depth", "gauge", "Misses waiting for a worker.");
  sample(out, "demo_queue_depth", "", model.queue_depth());
  family(out, "demo_workers_busy", "gauge", "Workers serving a miss.");
  sample(out, "demo_workers_busy", "", model.busy_workers());
  family(out, "demo_cache_entries", "gauge", "Responses held in the cache.");
  sample(out, "demo_cache_entries", "", model.cache_entries());
  family(out, "demo_memory_bytes", "gauge",
         "Modelled memory: 24 MiB, 4 MiB per worker, 2 KiB per cache entry.");
  sample(out, "demo_memory_bytes", "", model.memory_bytes());
  family(out, "demo_response_bytes_total", "counter",
         "Modelled bytes of the 200 responses, after compression.");
  sample(out, "demo_response_bytes_total", "", s.response_bytes);

  family(out, "demo_knob", "gauge", "The current value of each knob.");
  for (const auto& spec : demo_knob_specs()) {
    out.append("demo_knob{knob=\"").append(spec.name).append("\"} ");
    out.append(std::to_string(model.knob(spec.knob))).append("\n");
  }
  return out;
}

}  // namespace setpoint
