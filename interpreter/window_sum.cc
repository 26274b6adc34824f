#include "interpreter/window_sum.h"

#include <algorithm>
#include <cmath>
#include <span>

#include "interpreter/range_functions.h"

namespace setpoint {

std::optional<WindowSum::Fn> WindowSum::kind_of(std::string_view name) {
  if (name == "sum_over_time") return Fn::Sum;
  if (name == "avg_over_time") return Fn::Avg;
  if (name == "count_over_time") return Fn::Count;
  return std::nullopt;
}

void WindowSum::add(double v) {
  if (is_stale_marker(v)) {
    ++markers_;
    return;
  }
  ++count_;
  if (!sum_.add(v)) ++unfit_;
}

void WindowSum::remove(double v) {
  if (is_stale_marker(v)) {
    --markers_;
    return;
  }
  --count_;
  if (!sum_.remove(v)) --unfit_;
}

std::optional<double> WindowSum::at(Fn fn, std::string_view name,
                                    const WindowStore::Positioned& series, int64_t t_ms,
                                    int64_t range_ms, std::vector<Sample>& scratch) {
  window_.move(
      series, t_ms, range_ms, [&](uint64_t, const Sample& s) { add(s.value); },
      [&](uint64_t, const Sample& s) { remove(s.value); },
      [&] {
        count_ = markers_ = unfit_ = 0;
        sum_ = ExactSum();
      });
  if (count_ == 0) return std::nullopt;
  if (fn == Fn::Count) return static_cast<double>(count_);
  if (markers_ > 0 || unfit_ > 0) {
    std::span<const Sample> window = window_.samples(series);
    if (markers_ > 0) {
      scratch.clear();
      for (const Sample& s : window) {
        if (!is_stale_marker(s.value)) scratch.push_back(s);
      }
      window = scratch;
    }
    return range_function_at(name, window, t_ms - range_ms, t_ms, t_ms, {});
  }
  ExactSum::Rounded sum = sum_.rounded();
  if (fn == Fn::Sum) return sum.hi;
  double n = static_cast<double>(count_);
  return sum.hi / n + sum.lo / n;
}

}  // namespace setpoint
