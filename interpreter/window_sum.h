// sum_over_time, avg_over_time and count_over_time of one series over a window that slides
// forward from one evaluation to the next: the samples that entered the window are added and
// those that left it subtracted, so a step costs the samples that moved, not the whole window.
// A daemon evaluating 1,000 policies of `avg_over_time(x[1m])` every second otherwise sums
// 60 samples per series per second, one compensated add after another.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "interpreter/exact_sum.h"
#include "interpreter/window_cursor.h"
#include "interpreter/window_store.h"

namespace setpoint {

class WindowSum {
 public:
  enum class Fn : uint8_t { Sum, Avg, Count };
  // The functions kept this way; any other range function is computed from its window.
  static std::optional<Fn> kind_of(std::string_view name);

  // `name` (of kind `fn`) over the samples of `series` in (t_ms - range_ms, t_ms], exactly as
  // range_function_at gives it from those samples, whatever calls came before: nullopt without
  // samples. The window's values are held as an exact sum; a window holding a stale marker or
  // a value the exact sum does not hold (Inf, NaN, beyond 2^96: ExactSum::fits) is computed
  // from its samples while it holds one. A call at an earlier time than the last, or after
  // the store dropped samples still in the window, starts again from the store.
  std::optional<double> at(Fn fn, std::string_view name, const WindowStore::Positioned& series,
                           int64_t t_ms, int64_t range_ms, std::vector<Sample>& scratch);
  // Asks the cache for the samples at() will read first: the window's oldest, stored a window
  // ago, and the first newcomer. Neither is usually cached when a tick slides thousands of
  // series; a caller asks for a batch of series before it slides them, so the reads overlap.
  void prefetch(const WindowStore::Positioned& series) const {
    uint64_t last = series.first + series.samples.size();
    if (window_.begin >= series.first && window_.begin < last) {
      __builtin_prefetch(series.samples.data() + (window_.begin - series.first));
    }
    if (window_.end >= series.first && window_.end < last) {
      __builtin_prefetch(series.samples.data() + (window_.end - series.first));
    }
  }

  // Where the window stood after the last call (incremental evaluation asks when its oldest
  // sample leaves).
  const WindowCursor& window() const { return window_; }

 private:
  void add(double v);
  void remove(double v);

  WindowCursor window_;
  ExactSum sum_;          // of the values that fit
  uint32_t count_ = 0;    // samples in the window that are not stale markers
  uint32_t markers_ = 0;  // stale markers in the window
  uint32_t unfit_ = 0;    // values the exact sum does not hold
};

}  // namespace setpoint
