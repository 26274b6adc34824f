#include "interpreter/window_order.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "interpreter/range_functions.h"

namespace setpoint {

std::optional<WindowOrder::Fn> WindowOrder::kind_of(std::string_view name) {
  if (name == "min_over_time") return Fn::Min;
  if (name == "max_over_time") return Fn::Max;
  if (name == "quantile_over_time") return Fn::Quantile;
  return std::nullopt;
}

void WindowOrder::reset() {
  count_ = 0;
  ranked_.clear();
  head_ = 0;
  sorted_.clear();
  filling_ = true;
}

void WindowOrder::add(Fn fn, const WindowStore::Positioned& series, uint64_t position, double v) {
  if (is_stale_marker(v)) return;  // a range selector never returns one
  ++count_;
  if (fn == Fn::Quantile) {
    if (filling_) {
      sorted_.push_back(v);
      return;
    }
    sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), v, quantile_less), v);
    return;
  }
  if (std::isnan(v)) return;
  // A newcomer at least as good as a queued value outlives it, so that one can never be the
  // answer again.
  auto value_at = [&](uint64_t p) { return series.samples[p - series.first].value; };
  if (fn == Fn::Min) {
    while (ranked_.size() > head_ && value_at(ranked_.back()) > v) ranked_.pop_back();
  } else {
    while (ranked_.size() > head_ && value_at(ranked_.back()) < v) ranked_.pop_back();
  }
  ranked_.push_back(position);
}

void WindowOrder::remove(Fn fn, uint64_t position, double v) {
  if (is_stale_marker(v)) return;
  --count_;
  if (fn == Fn::Quantile) {
    // Equal values (±0, NaNs) sit together; take out the one with these very bits.
    auto [lo, hi] = std::equal_range(sorted_.begin(), sorted_.end(), v, quantile_less);
    auto same = std::find_if(
        lo, hi, [&](double x) { return std::bit_cast<uint64_t>(x) == std::bit_cast<uint64_t>(v); });
    sorted_.erase(same != hi ? same : lo);
    return;
  }
  if (head_ < ranked_.size() && ranked_[head_] == position) ++head_;
  // Drop the consumed front now and then, not at every step: amortized O(1).
  if (head_ >= 32 && head_ * 2 >= ranked_.size()) {
    ranked_.erase(ranked_.begin(), ranked_.begin() + static_cast<ptrdiff_t>(head_));
    head_ = 0;
  }
}

std::optional<double> WindowOrder::at(Fn fn, const WindowStore::Positioned& series, int64_t t_ms,
                                      int64_t range_ms, std::span<const double> args) {
  window_.move(
      series, t_ms, range_ms,
      [&](uint64_t position, const Sample& s) { add(fn, series, position, s.value); },
      [&](uint64_t position, const Sample& s) { remove(fn, position, s.value); }, [&] { reset(); });
  if (filling_) {
    // A whole window at once sorts in O(n log n), where inserting one by one moves O(n²).
    std::sort(sorted_.begin(), sorted_.end(), quantile_less);
    filling_ = false;
  }
  if (count_ == 0) return std::nullopt;
  if (fn == Fn::Quantile) {
    if (args.empty()) return std::nullopt;
    return quantile_of_sorted(args[0], sorted_);
  }
  if (head_ == ranked_.size()) return std::nan("");  // every value is NaN
  return series.samples[ranked_[head_] - series.first].value;
}

}  // namespace setpoint
