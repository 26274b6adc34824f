#include "runtime/recording.h"

#include <algorithm>

namespace setpoint {

// Readers announce each distinct series once, so the id is simply the next index.
uint32_t Recording::series(const Labels& labels) {
  labels_.push_back(labels);
  return static_cast<uint32_t>(labels_.size() - 1);
}

void Recording::sample(uint32_t series, int64_t t_ms, double value) {
  points_.push_back({t_ms, series, value});
}

void Recording::finish() {
  // Recordings are written in time order: the sort, and the buffer it takes, are then spared.
  auto earlier = [](const Point& a, const Point& b) { return a.t_ms < b.t_ms; };
  if (std::is_sorted(points_.begin(), points_.end(), earlier)) return;
  std::stable_sort(points_.begin(), points_.end(), earlier);
}

}  // namespace setpoint
