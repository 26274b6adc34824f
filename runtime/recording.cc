#include "runtime/recording.h"

#include <algorithm>

namespace setpoint {

// Readers announce each distinct series once, so the id is simply the next index.
uint32_t Recording::series(const Labels& labels) {
  labels_.push_back(labels);
  return static_cast<uint32_t>(labels_.size() - 1);
}

void Recording::sample(uint32_t series, int64_t t_ms, double value) {
  if (count_ > 0 && t_ms < last_ms_) in_order_ = false;
  first_ms_ = count_ == 0 ? t_ms : std::min(first_ms_, t_ms);
  last_ms_ = count_ == 0 ? t_ms : std::max(last_ms_, t_ms);
  ++count_;
  if (keep_points_) points_.push_back({t_ms, series, value});
}

void Recording::finish() {
  // Recordings are written in time order: the sort, and the buffer it takes, are then spared.
  auto earlier = [](const Point& a, const Point& b) { return a.t_ms < b.t_ms; };
  if (in_order_) return;
  std::stable_sort(points_.begin(), points_.end(), earlier);
}

}  // namespace setpoint
