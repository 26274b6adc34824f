// Incremental *_over_time aggregates: a two-stack queue of summaries for sums and variance,
// monotonic deques for min and max, a sorted vector for quantiles.
#include "interpreter/sliding_window.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "interpreter/kahan_sum.h"
#include "interpreter/range_functions.h"

namespace setpoint {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

SlidingWindow::SlidingWindow(bool order_statistics) : order_statistics_(order_statistics) {}

SlidingWindow::Summary SlidingWindow::single(double v) {
  Summary s;
  s.n = 1;
  s.sum = v;
  s.mean = v;
  s.non_finite = std::isfinite(v) ? 0 : 1;
  return s;
}

SlidingWindow::Summary SlidingWindow::combine(const Summary& older, const Summary& newer) {
  if (older.n == 0) return newer;
  if (newer.n == 0) return older;
  Summary r;
  r.n = older.n + newer.n;
  r.sum = older.sum;
  r.c = older.c;
  kahan_inc(newer.sum, r.sum, r.c);
  if (!std::isinf(r.sum)) r.c += newer.c;
  double delta = newer.mean - older.mean;
  r.mean = older.mean + delta * (newer.n / r.n);
  r.m2 = older.m2 + newer.m2 + delta * delta * (older.n * newer.n / r.n);
  r.non_finite = older.non_finite + newer.non_finite;
  return r;
}

SlidingWindow::Summary SlidingWindow::summary() const {
  return front_.empty() ? back_summary_ : combine(front_.back().suffix, back_summary_);
}

bool SlidingWindow::push(Sample s) {
  if (is_stale_marker(s.value)) return false;
  if (std::optional<Sample> newest = last(); newest && s.t_ms <= newest->t_ms) return false;
  back_.push_back(s);
  back_summary_ = combine(back_summary_, single(s.value));
  uint64_t seq = next_seq_++;
  if (std::isnan(s.value)) {
    ++nans_;
  } else {
    while (!min_.empty() && min_.back().value > s.value) min_.pop_back();
    min_.push_back({seq, s.value});
    while (!max_.empty() && max_.back().value < s.value) max_.pop_back();
    max_.push_back({seq, s.value});
  }
  if (order_statistics_) {
    sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), s.value, quantile_less),
                   s.value);
  }
  return true;
}

const Sample& SlidingWindow::oldest() const {
  return front_.empty() ? back_.front() : front_.back().sample;
}

void SlidingWindow::pop_oldest() {
  uint64_t seq = next_seq_ - count();
  double v = oldest().value;
  if (front_.empty()) {
    // Move back_ over, newest first, so that the oldest ends on top; one pass, and each
    // sample is moved once in its life.
    front_.reserve(back_.size());
    Summary suffix;
    for (size_t i = back_.size(); i-- > 0;) {
      suffix = combine(single(back_[i].value), suffix);
      front_.push_back({back_[i], suffix});
    }
    back_.clear();
    back_summary_ = {};
  }
  front_.pop_back();
  if (std::isnan(v)) {
    --nans_;
  } else {
    if (!min_.empty() && min_.front().seq == seq) min_.pop_front();
    if (!max_.empty() && max_.front().seq == seq) max_.pop_front();
  }
  if (order_statistics_) {
    // Any element equivalent under quantile_less will do: equal values (or any two NaNs) are
    // interchangeable for every quantile.
    auto it = std::lower_bound(sorted_.begin(), sorted_.end(), v, quantile_less);
    if (it != sorted_.end()) sorted_.erase(it);
  }
}

void SlidingWindow::evict_through(int64_t t_ms) {
  while (!empty() && oldest().t_ms <= t_ms) pop_oldest();
}

void SlidingWindow::clear() {
  front_.clear();
  back_.clear();
  back_summary_ = {};
  min_.clear();
  max_.clear();
  nans_ = 0;
  sorted_.clear();
}

std::optional<double> SlidingWindow::sum() const {
  if (empty()) return std::nullopt;
  Summary s = summary();
  return std::isinf(s.sum) ? s.sum : s.sum + s.c;
}

std::optional<double> SlidingWindow::avg() const {
  if (empty()) return std::nullopt;
  Summary s = summary();
  // Prometheus divides the sum while it stays finite. A sum that overflowed although every
  // value is finite is where it switches to an incremental mean; the Welford mean here.
  if (std::isinf(s.sum) && s.non_finite == 0) return s.mean;
  return s.sum / s.n + s.c / s.n;
}

std::optional<double> SlidingWindow::min() const {
  if (empty()) return std::nullopt;
  return min_.empty() ? kNaN : min_.front().value;
}

std::optional<double> SlidingWindow::max() const {
  if (empty()) return std::nullopt;
  return max_.empty() ? kNaN : max_.front().value;
}

std::optional<double> SlidingWindow::stdvar() const {
  if (empty()) return std::nullopt;
  Summary s = summary();
  // Welford over a NaN or an infinity is NaN in Prometheus (Inf - Inf on the way).
  if (s.non_finite > 0) return kNaN;
  return s.m2 / s.n;
}

std::optional<double> SlidingWindow::stddev() const {
  std::optional<double> v = stdvar();
  if (!v) return std::nullopt;
  return std::sqrt(*v);
}

std::optional<Sample> SlidingWindow::first() const {
  if (empty()) return std::nullopt;
  return oldest();
}

std::optional<Sample> SlidingWindow::last() const {
  if (!back_.empty()) return back_.back();
  if (!front_.empty()) return front_.front().sample;  // the bottom of front_ is the newest
  return std::nullopt;
}

std::optional<double> SlidingWindow::quantile(double q) const {
  if (empty() || !order_statistics_) return std::nullopt;
  return quantile_of_sorted(q, sorted_);
}

bool SlidingWindow::keeps(std::string_view name) const {
  return name == "sum_over_time" || name == "avg_over_time" || name == "min_over_time" ||
         name == "max_over_time" || name == "count_over_time" || name == "stddev_over_time" ||
         name == "stdvar_over_time" || name == "last_over_time" || name == "present_over_time" ||
         (order_statistics_ && name == "quantile_over_time");
}

std::optional<double> SlidingWindow::evaluate(std::string_view name,
                                              std::span<const double> args) const {
  if (empty()) return std::nullopt;
  if (name == "sum_over_time") return sum();
  if (name == "avg_over_time") return avg();
  if (name == "min_over_time") return min();
  if (name == "max_over_time") return max();
  if (name == "count_over_time") return static_cast<double>(count());
  if (name == "stddev_over_time") return stddev();
  if (name == "stdvar_over_time") return stdvar();
  if (name == "last_over_time") return last()->value;
  if (name == "present_over_time") return 1.0;
  if (name == "quantile_over_time" && !args.empty()) return quantile(args[0]);
  return std::nullopt;
}

}  // namespace setpoint
