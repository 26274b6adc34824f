// The window store: every series' recent samples in a bounded buffer of its own, the
// Prometheus rules for what an instant or range selector sees at a time t, and counters for
// what was refused. It holds no clock: callers say what time it is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "interpreter/labels.h"

namespace setpoint {

// Prometheus' lookback for instant selectors: a series with no sample in the last 5 minutes
// has no value.
inline constexpr int64_t kLookbackMs = 5 * 60 * 1000;

struct StoreLimits {
  size_t max_series = 1'000'000;  // further series are refused and counted
  // Per series, samples older than (newest - retention) are dropped; 0 keeps all of them
  // (bounded by max_samples_per_series).
  int64_t retention_ms = 0;
  size_t max_samples_per_series = 1 << 20;  // the oldest is dropped and counted beyond this
};

struct StoreCounters {
  uint64_t accepted = 0;
  uint64_t out_of_order = 0;     // older than the series' newest sample
  uint64_t duplicate = 0;        // same timestamp as the newest sample
  uint64_t rejected_series = 0;  // samples of series refused by max_series
  uint64_t evicted = 0;          // dropped by retention or max_samples_per_series
};

class WindowStore : public SampleSink {
 public:
  explicit WindowStore(StoreLimits limits = {});

  // SampleSink: find or add a series (labels normalized by the caller); append a sample.
  uint32_t series(const Labels& labels) override;
  void sample(uint32_t series, int64_t t_ms, double value) override;

  enum class Append : uint8_t { Accepted, OutOfOrder, Duplicate, Rejected };
  // Samples must arrive in time order per series; a stale marker (is_stale_marker) is stored
  // like any sample and ends the series for instant selectors from its timestamp on.
  Append append(uint32_t series, int64_t t_ms, double value);

  // A new retention (a reload's policies read more or less history): applies from each series'
  // next sample on.
  void set_retention(int64_t retention_ms) { limits_.retention_ms = retention_ms; }

  size_t series_count() const;
  const Labels& labels(uint32_t series) const;
  // The series whose __name__ is `name`, in the order they were added.
  const std::vector<uint32_t>& series_named(std::string_view name) const;
  // Every series id, 0..series_count()-1.
  std::vector<uint32_t> all_series() const;

  // The samples with from_ms < t <= to_ms, oldest first, stale markers left out (as in a
  // Prometheus range vector). `out` is cleared first.
  void range(uint32_t series, int64_t from_ms, int64_t to_ms, std::vector<Sample>& out) const;
  // The same samples, viewed where they are when no stale marker is among them; otherwise
  // copied into `scratch` without the markers. Valid until the series is next appended to.
  std::span<const Sample> range_view(uint32_t series, int64_t from_ms, int64_t to_ms,
                                     std::vector<Sample>& scratch) const;
  // A series' live samples, oldest first, stale markers included, and the position of the
  // first: the i-th sample a series ever held has position i however its buffer has moved
  // since, so a caller that remembers positions moves a window forward without a search
  // (interpreter/window_sum.h). Valid until the series is next appended to.
  struct Positioned {
    uint64_t first = 0;
    std::span<const Sample> samples;
  };
  Positioned positioned(uint32_t series) const;
  // What an instant selector sees at t: the newest sample with t - lookback < ts <= t, unless
  // that sample is a stale marker.
  std::optional<Sample> instant(uint32_t series, int64_t t_ms,
                                int64_t lookback_ms = kLookbackMs) const;
  // The newest timestamp of any series, or nullopt when the store is empty; and the oldest.
  std::optional<int64_t> newest_ms() const;
  std::optional<int64_t> oldest_ms() const;

  const StoreCounters& counters() const { return counters_; }
  // Samples accepted so far, and that count as it stood when a series last accepted one: a
  // reader that noted appends() at some point knows, series by series, which changed since
  // (the evaluator re-evaluates only what is downstream of those).
  uint64_t appends() const { return counters_.accepted; }
  uint64_t appended_at(uint32_t series) const {
    return series < buffers_.size() ? buffers_[series].appended_at : 0;
  }
  size_t sample_count() const;  // samples held now, across all series
  size_t sample_bytes() const;  // bytes the sample buffers have allocated, dead prefixes included

 private:
  // One series' samples, oldest first, in a vector used as a ring: `head` is the index of the
  // oldest live sample; the dead prefix goes when the vector is full (make_room).
  struct Buffer {
    std::vector<Sample> samples;
    size_t head = 0;
    uint64_t erased = 0;  // samples removed from the front of `samples`: positions' offset
    int64_t newest_stale_ms = INT64_MIN;  // the newest stale marker appended, if any
    size_t compact_at = SIZE_MAX;  // a head at which the dead prefix goes before the vector fills
    uint64_t appended_at = 0;      // counters_.accepted after this series' newest sample came
  };
  void evict(Buffer& b, int64_t newest_ms);
  static void make_room(Buffer& b, uint32_t series);

  StoreLimits limits_;
  StoreCounters counters_;
  std::vector<Labels> labels_;
  std::vector<Buffer> buffers_;
  std::unordered_map<std::string, uint32_t> by_key_;  // canonical labels text -> id
  std::unordered_map<std::string, std::vector<uint32_t>> by_name_;
};

}  // namespace setpoint
