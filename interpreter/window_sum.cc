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
  const std::span<const Sample> samples = series.samples;
  const uint64_t last = series.first + samples.size();
  const int64_t start = t_ms - range_ms;
  auto sample_at = [&](uint64_t position) -> const Sample& {
    return samples[position - series.first];
  };
  if (t_ms < t_ms_ || begin_ < series.first || end_ > last) {
    // Back in time, or samples of the window are gone: start again from the store.
    auto after = [](int64_t t, const Sample& s) { return t < s.t_ms; };
    auto first = std::upper_bound(samples.begin(), samples.end(), start, after);
    auto end = std::upper_bound(first, samples.end(), t_ms, after);
    begin_ = end_ = series.first + static_cast<uint64_t>(first - samples.begin());
    count_ = markers_ = unfit_ = 0;
    sum_ = ExactSum();
    uint64_t stop = series.first + static_cast<uint64_t>(end - samples.begin());
    while (end_ < stop) add(sample_at(end_++).value);
  } else {
    // Samples only ever join a series at its end, in time order: the newcomers are those
    // from end_ up to t_ms, and the window's oldest leave once they are start or older.
    while (end_ < last && sample_at(end_).t_ms <= t_ms) add(sample_at(end_++).value);
    while (begin_ < end_ && sample_at(begin_).t_ms <= start) remove(sample_at(begin_++).value);
  }
  t_ms_ = t_ms;
  if (count_ == 0) return std::nullopt;
  if (fn == Fn::Count) return static_cast<double>(count_);
  if (markers_ > 0 || unfit_ > 0) {
    std::span<const Sample> window = samples.subspan(begin_ - series.first, end_ - begin_);
    if (markers_ > 0) {
      scratch.clear();
      for (const Sample& s : window) {
        if (!is_stale_marker(s.value)) scratch.push_back(s);
      }
      window = scratch;
    }
    return range_function_at(name, window, start, t_ms, t_ms, {});
  }
  ExactSum::Rounded sum = sum_.rounded();
  if (fn == Fn::Sum) return sum.hi;
  double n = static_cast<double>(count_);
  return sum.hi / n + sum.lo / n;
}

}  // namespace setpoint
