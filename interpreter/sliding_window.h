// A window of one series' samples that slides forward as samples stream in, answering the
// *_over_time aggregates incrementally: no answer re-scans or sorts what the window holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "interpreter/labels.h"

namespace setpoint {

// Each answer is what range_function() gives over the samples held: exactly for count, min,
// max, last and quantile; within rounding (1e-9 relative) for sum, avg, stddev and stdvar,
// which are combined in a different order. Every answer is nullopt for an empty window, where
// Prometheus has no sample.
//
// Costs: push and evict_through are O(1) amortized, plus O(log n + n) memory moves for the
// sorted values when order statistics are kept (a memmove of the window, cheap for the
// hundreds of samples a PromQL window holds); every query is O(1).
class SlidingWindow {
 public:
  // `order_statistics` keeps the values sorted for quantile(); without it quantile() is
  // nullopt and push saves the sorted insert.
  explicit SlidingWindow(bool order_statistics = true);

  // Appends a sample. Samples must come in time order: one not newer than the newest held is
  // ignored (false), and so is a stale marker, which a range selector never returns.
  bool push(Sample s);
  // Drops every sample with t_ms <= `t_ms`: the window (t, now] then holds the rest.
  void evict_through(int64_t t_ms);
  void clear();

  size_t count() const { return front_.size() + back_.size(); }
  bool empty() const { return count() == 0; }

  std::optional<double> sum() const;  // Kahan-compensated
  std::optional<double> avg() const;
  std::optional<double> min() const;  // NaN only when every value is NaN
  std::optional<double> max() const;
  std::optional<double> stdvar() const;  // population variance, as Prometheus
  std::optional<double> stddev() const;
  std::optional<Sample> first() const;
  std::optional<Sample> last() const;
  std::optional<double> quantile(double q) const;

  // The *_over_time function `name` (args as for range_function) over the samples held, or
  // nullopt for a function it does not keep (see keeps()) or an empty window.
  std::optional<double> evaluate(std::string_view name, std::span<const double> args = {}) const;
  // Whether evaluate() answers `name`: sum, avg, min, max, count, stddev, stdvar, last,
  // present and (with order statistics) quantile, each _over_time.
  bool keeps(std::string_view name) const;

 private:
  // Count, compensated sum and Welford mean/M2 of a run of consecutive samples. Two runs
  // combine (Chan et al.) without subtracting anything, so eviction loses no precision.
  struct Summary {
    double n = 0;
    double sum = 0, c = 0;    // Kahan-Babuska pair, as Prometheus sums
    double mean = 0, m2 = 0;  // for the variance, and the mean once the sum overflows
    uint32_t non_finite = 0;  // NaN and ±Inf values, which make the variance NaN
  };
  static Summary single(double v);
  static Summary combine(const Summary& older, const Summary& newer);
  Summary summary() const;
  const Sample& oldest() const;
  void pop_oldest();

  // The samples as a queue of two stacks: back_ takes pushes and keeps one running summary;
  // front_ holds older samples newest-first, each with the summary of itself and all newer
  // entries below it, so popping the top (the oldest) leaves a correct summary behind. When
  // front_ runs dry, back_ is moved over in one pass: each sample moves once.
  struct Entry {
    Sample sample;
    Summary suffix;
  };
  std::vector<Entry> front_;
  std::vector<Sample> back_;
  Summary back_summary_;

  // Monotonic deques of (sequence number, value): min_ keeps values increasing from the
  // front, so its front is the minimum; equal values stay, so the earliest wins ties as in
  // Prometheus. NaNs stay out of both and are only counted.
  struct Ranked {
    uint64_t seq;
    double value;
  };
  std::deque<Ranked> min_, max_;
  uint64_t next_seq_ = 0;  // sequence number of the next push
  uint64_t nans_ = 0;

  bool order_statistics_;
  std::vector<double> sorted_;  // by quantile_less
};

}  // namespace setpoint
