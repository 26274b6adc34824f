// The demo service's behaviour as a deterministic model: workers, a bounded FIFO queue, a
// response cache and four knobs decide each request's latency and status; no I/O, no clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace setpoint {

enum class DemoKnob { pool_size, cache_ttl, compression_level, batch_size };
inline constexpr size_t kDemoKnobCount = 4;

struct DemoKnobSpec {
  DemoKnob knob;
  std::string_view name;
  int64_t min;
  int64_t max;
  int64_t default_value;
};

// In the order of the enum.
const std::array<DemoKnobSpec, kDemoKnobCount>& demo_knob_specs();
const DemoKnobSpec& demo_knob_spec(DemoKnob knob);
const DemoKnobSpec* demo_knob_spec(std::string_view name);  // nullptr when unknown
// Why `value` cannot be set ("pool_size must be from 1 to 64, got 65"), "" when it can.
std::string demo_knob_error(const DemoKnobSpec& spec, double value);

// The upper bounds of the latency histogram's buckets in milliseconds; +Inf follows.
inline constexpr std::array<double, 11> kDemoDurationBucketsMs = {1,   2.5, 5,   10,   25,  50,
                                                                  100, 250, 500, 1000, 2500};

// What the model decided when a request arrived.
struct DemoArrival {
  uint64_t id = 0;        // names the request in completions; 0 for a 503 (answered at once)
  int status = 200;       // 200, 503 or 504, decided now even when sent later
  bool hit = false;       // answered from the cache, without a worker
  bool queued = false;    // a miss waiting for a worker
  double service_ms = 0;  // how long it holds its worker once started (a hit: 0.5)
};

struct DemoCompletion {
  uint64_t id = 0;
  int status = 200;
  double latency_ms = 0;  // from arrival to the response
  int64_t response_bytes = 0;
  bool hit = false;
};

// Counters only grow while the model lives.
struct DemoStats {
  std::array<uint64_t, kDemoDurationBucketsMs.size() + 1> duration_buckets{};  // not cumulative
  double duration_sum_ms = 0;
  uint64_t duration_count = 0;
  uint64_t requests_200 = 0;
  uint64_t requests_503 = 0;
  uint64_t requests_504 = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t response_bytes = 0;
};

// Times are milliseconds on the caller's clock; a time earlier than one already seen counts as
// that one, so the model's clock never goes back. Every call that takes a time first finishes,
// in time order, the requests due by then; their outcomes wait in take_completed().
class DemoServiceModel {
 public:
  static constexpr size_t kMaxQueue = 256;            // waiting misses; beyond: 503 at once
  static constexpr size_t kMaxInflight = 4096;        // hits and misses; beyond: 503 at once
  static constexpr size_t kMaxCacheEntries = 10'000;  // beyond: the oldest entry goes
  static constexpr double kHitMs = 0.5;
  static constexpr double kBaseMissMs = 8;
  static constexpr double kCompressionMsPerLevel = 0.15;
  static constexpr double kJitter = 0.1;  // a miss's service time varies by up to +-10 %

  explicit DemoServiceModel(uint64_t seed = 1);

  void advance(double now_ms);
  DemoArrival arrive(double now_ms, std::string_view key);
  // Sets a knob at once; "" when done, otherwise demo_knob_error's reason and nothing changes.
  std::string set_knob(DemoKnob knob, double value, double now_ms);
  int64_t knob(DemoKnob knob) const { return knobs_[static_cast<size_t>(knob)]; }

  std::vector<DemoCompletion> take_completed();
  std::optional<double> next_completion_ms() const;  // when the next request is due

  const DemoStats& stats() const { return stats_; }
  double now_ms() const { return clock_ms_; }
  size_t inflight() const { return running_.size() + queue_.size(); }
  size_t queue_depth() const { return queue_.size(); }
  size_t busy_workers() const { return busy_; }
  size_t cache_entries() const { return cache_order_.size(); }
  uint64_t memory_bytes() const;  // 24 MiB + 4 MiB per worker + 2 KiB per cache entry

 private:
  struct Request {
    uint64_t id = 0;
    double arrival_ms = 0;
    double service_ms = 0;
    int status = 200;
    bool hit = false;
    int64_t bytes = 0;
    std::string key;
  };
  struct CacheEntry {
    std::string key;
    double filled_ms = 0;
  };

  double uniform();  // [0, 1) from the seeded generator, the same on every platform
  void finish(Request& request, double at_ms);
  void start_queued(double at_ms);
  void fill_cache(const std::string& key, double at_ms);
  void expire_cache(double now_ms);
  void observe(double latency_ms);

  std::mt19937_64 rng_;
  std::array<int64_t, kDemoKnobCount> knobs_{};
  double clock_ms_ = 0;
  uint64_t next_id_ = 1;
  size_t busy_ = 0;
  // Started requests by (due time, id): the id breaks ties in arrival order.
  std::map<std::pair<double, uint64_t>, Request> running_;
  std::deque<Request> queue_;
  std::list<CacheEntry> cache_order_;  // oldest fill first
  std::unordered_map<std::string, std::list<CacheEntry>::iterator> cache_;
  std::vector<DemoCompletion> completed_;
  DemoStats stats_;
};

}  // namespace setpoint
