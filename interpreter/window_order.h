// min_over_time, max_over_time and quantile_over_time of one series over a window that slides
// forward from one evaluation to the next, kept in order as samples join and leave: min and
// max in a monotonic queue, quantiles in a sorted copy of the values. An answer costs the
// samples that moved, not a scan or a sort of the whole window.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "interpreter/window_cursor.h"
#include "interpreter/window_store.h"

namespace setpoint {

class WindowOrder {
 public:
  enum class Fn : uint8_t { Min, Max, Quantile };
  // The functions kept this way; any other range function is computed from its window.
  static std::optional<Fn> kind_of(std::string_view name);

  // The function over the samples of `series` in (t_ms - range_ms, t_ms], exactly as
  // range_function_at gives it from those samples (`args` holds quantile's q), whatever calls
  // came before: nullopt without samples. One WindowOrder serves one function: the first call
  // decides what it keeps. A call at an earlier time than the last, or after the store dropped
  // samples still in the window, starts again from the store.
  std::optional<double> at(Fn fn, const WindowStore::Positioned& series, int64_t t_ms,
                           int64_t range_ms, std::span<const double> args);

  // Where the window stood after the last call (incremental evaluation asks when its oldest
  // sample leaves).
  const WindowCursor& window() const { return window_; }

 private:
  void add(Fn fn, const WindowStore::Positioned& series, uint64_t position, double v);
  void remove(Fn fn, uint64_t position, double v);
  void reset();

  WindowCursor window_;
  uint32_t count_ = 0;  // samples in the window that are not stale markers
  // Min and max: positions of the samples that can still become the answer, oldest first,
  // their values increasing (min) or decreasing (max) from ranked_[head_]; equal values stay,
  // so the earliest wins ties, as Prometheus' scan does. NaNs stay out: the answer is NaN only
  // when every value is.
  std::vector<uint64_t> ranked_;
  size_t head_ = 0;
  // Quantile: the window's values sorted by quantile_less, NaNs first.
  std::vector<double> sorted_;
  bool filling_ = false;  // starting over: values are sorted once the window is in
};

}  // namespace setpoint
