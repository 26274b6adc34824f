// The demo service's model: knob specs and checks, the FIFO queue in front of the workers, the
// response cache, and the latency and outcome of each request.
#include "examples/demo/service_model.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace setpoint {

namespace {

constexpr std::array<DemoKnobSpec, kDemoKnobCount> kDemoKnobSpecs = {{
    {DemoKnob::pool_size, "pool_size", 1, 64, 2},
    {DemoKnob::cache_ttl, "cache_ttl", 0, 600, 0},
    {DemoKnob::compression_level, "compression_level", 0, 9, 1},
    {DemoKnob::batch_size, "batch_size", 1, 32, 1},
}};

constexpr uint64_t kMiB = 1024 * 1024;

// "2.5", "65", "inf": the shortest text that reads back as the same number.
std::string number_text(double value) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

}  // namespace

const std::array<DemoKnobSpec, kDemoKnobCount>& demo_knob_specs() { return kDemoKnobSpecs; }

const DemoKnobSpec& demo_knob_spec(DemoKnob knob) {
  return kDemoKnobSpecs[static_cast<size_t>(knob)];
}

const DemoKnobSpec* demo_knob_spec(std::string_view name) {
  for (const auto& spec : kDemoKnobSpecs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string demo_knob_error(const DemoKnobSpec& spec, double value) {
  std::string range = std::to_string(spec.min) + " to " + std::to_string(spec.max);
  std::string name(spec.name);
  if (!std::isfinite(value) || value < static_cast<double>(spec.min) ||
      value > static_cast<double>(spec.max)) {
    return name + " must be from " + range + ", got " + number_text(value);
  }
  if (value != std::floor(value)) {
    return name + " must be a whole number from " + range + ", got " + number_text(value);
  }
  return "";
}

DemoServiceModel::DemoServiceModel(uint64_t seed) : rng_(seed) {
  for (const auto& spec : kDemoKnobSpecs)
    knobs_[static_cast<size_t>(spec.knob)] = spec.default_value;
}

double DemoServiceModel::uniform() {
  // 53 random bits, as std::generate_canonical would take them, but with a fixed recipe:
  // the standard leaves the distributions' algorithms to each library.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

uint64_t DemoServiceModel::memory_bytes() const {
  return 24 * kMiB + 4 * kMiB * static_cast<uint64_t>(knob(DemoKnob::pool_size)) +
         2048 * static_cast<uint64_t>(cache_order_.size());
}

void DemoServiceModel::observe(double latency_ms) {
  size_t bucket = 0;
  while (bucket < kDemoDurationBucketsMs.size() && latency_ms > kDemoDurationBucketsMs[bucket]) {
    ++bucket;
  }
  ++stats_.duration_buckets[bucket];
  stats_.duration_sum_ms += latency_ms;
  ++stats_.duration_count;
}

void DemoServiceModel::advance(double now_ms) {
  now_ms = std::max(now_ms, clock_ms_);
  while (!running_.empty() && running_.begin()->first.first <= now_ms) {
    auto node = running_.extract(running_.begin());
    double at = node.key().first;
    clock_ms_ = at;
    finish(node.mapped(), at);
    start_queued(at);
  }
  clock_ms_ = now_ms;
  expire_cache(now_ms);
}

void DemoServiceModel::finish(Request& request, double at_ms) {
  if (!request.hit) --busy_;
  double latency = at_ms - request.arrival_ms;
  observe(latency);
  if (request.status == 200) {
    ++stats_.requests_200;
    stats_.response_bytes += static_cast<uint64_t>(request.bytes);
    if (!request.hit) fill_cache(request.key, at_ms);
  } else {
    ++stats_.requests_504;
  }
  completed_.push_back({request.id, request.status, latency,
                        request.status == 200 ? request.bytes : 0, request.hit});
}

// Workers beyond pool_size (after it was lowered) finish what they hold and take nothing new.
void DemoServiceModel::start_queued(double at_ms) {
  while (!queue_.empty() && busy_ < static_cast<size_t>(knob(DemoKnob::pool_size))) {
    Request request = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    double due = at_ms + request.service_ms;
    uint64_t id = request.id;
    running_.emplace(std::make_pair(due, id), std::move(request));
  }
}

void DemoServiceModel::fill_cache(const std::string& key, double at_ms) {
  if (knob(DemoKnob::cache_ttl) == 0) return;
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    cache_order_.erase(it->second);
    cache_.erase(it);
  }
  cache_order_.push_back({key, at_ms});
  cache_.emplace(key, std::prev(cache_order_.end()));
  while (cache_order_.size() > kMaxCacheEntries) {
    cache_.erase(cache_order_.front().key);
    cache_order_.pop_front();
  }
}

// Entries are in fill order, and one ttl holds for all, so the expired ones are at the front.
void DemoServiceModel::expire_cache(double now_ms) {
  double ttl_ms = static_cast<double>(knob(DemoKnob::cache_ttl)) * 1000;
  while (!cache_order_.empty() && cache_order_.front().filled_ms + ttl_ms <= now_ms) {
    cache_.erase(cache_order_.front().key);
    cache_order_.pop_front();
  }
}

DemoArrival DemoServiceModel::arrive(double now_ms, std::string_view key) {
  advance(now_ms);
  double now = clock_ms_;
  Request request;
  request.arrival_ms = now;
  request.key = std::string(key);
  request.bytes = 6000 - 360 * knob(DemoKnob::compression_level);  // 6000 * (1 - 0.06 level)
  request.hit = cache_.count(request.key) > 0;
  DemoArrival arrival;
  arrival.hit = request.hit;
  if (request.hit) {
    ++stats_.cache_hits;
    request.service_ms = kHitMs;
  } else {
    ++stats_.cache_misses;
    // Two draws for every miss, whatever the knobs, so that one sequence of arrivals meets the
    // same random numbers under any setting.
    double jitter = 1 + kJitter * (2 * uniform() - 1);
    double fail_draw = uniform();
    double batch = static_cast<double>(knob(DemoKnob::batch_size));
    double level = static_cast<double>(knob(DemoKnob::compression_level));
    request.service_ms =
        (kBaseMissMs * (0.5 + 0.5 / batch) + kCompressionMsPerLevel * level) * jitter;
    double fail_probability = std::min(0.9, std::max(0.0, (batch - 8) / 20));
    request.status = fail_draw < fail_probability ? 504 : 200;
  }
  bool worker_free = busy_ < static_cast<size_t>(knob(DemoKnob::pool_size));
  if (inflight() >= kMaxInflight || (!request.hit && !worker_free && queue_.size() >= kMaxQueue)) {
    observe(0);
    ++stats_.requests_503;
    arrival.status = 503;
    return arrival;
  }
  request.id = next_id_++;
  arrival.id = request.id;
  arrival.status = request.status;
  arrival.service_ms = request.service_ms;
  if (request.hit) {
    running_.emplace(std::make_pair(now + kHitMs, request.id), std::move(request));
  } else if (worker_free) {
    ++busy_;
    double due = now + request.service_ms;
    running_.emplace(std::make_pair(due, request.id), std::move(request));
  } else {
    arrival.queued = true;
    queue_.push_back(std::move(request));
  }
  return arrival;
}

std::string DemoServiceModel::set_knob(DemoKnob knob, double value, double now_ms) {
  std::string error = demo_knob_error(demo_knob_spec(knob), value);
  if (!error.empty()) return error;
  advance(now_ms);
  knobs_[static_cast<size_t>(knob)] = static_cast<int64_t>(value);
  if (knob == DemoKnob::pool_size) start_queued(clock_ms_);
  if (knob == DemoKnob::cache_ttl) {
    if (value == 0) {
      cache_.clear();
      cache_order_.clear();
    }
    expire_cache(clock_ms_);
  }
  return "";
}

std::vector<DemoCompletion> DemoServiceModel::take_completed() {
  std::vector<DemoCompletion> out;
  out.swap(completed_);
  return out;
}

std::optional<double> DemoServiceModel::next_completion_ms() const {
  if (running_.empty()) return std::nullopt;
  return running_.begin()->first.first;
}

}  // namespace setpoint
