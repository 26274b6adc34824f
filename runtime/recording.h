// A recording held in time order, so a replay can feed the window store sample by sample up
// to each evaluation, exactly as live samples would arrive, and an effect model can change
// what comes after an action.
#pragma once

#include <cstdint>
#include <vector>

#include "interpreter/labels.h"

namespace setpoint {

class Recording : public SampleSink {
 public:
  // Without keep_points, a recording holds its series and the span and order of its samples,
  // not the samples: a replay of a file in time order reads it again rather than hold it.
  explicit Recording(bool keep_points = true) : keep_points_(keep_points) {}
  uint32_t series(const Labels& labels) override;
  void sample(uint32_t series, int64_t t_ms, double value) override;

  size_t sample_count() const { return count_; }
  int64_t first_ms() const { return first_ms_; }  // of the earliest sample, when there is one
  int64_t last_ms() const { return last_ms_; }
  bool in_time_order() const { return in_order_; }

  struct Point {
    int64_t t_ms;
    uint32_t series;
    double value;
  };
  // Sorts the points by time (stable: a series' order within one timestamp is kept).
  void finish();
  const std::vector<Point>& points() const { return points_; }
  const std::vector<Labels>& labels() const { return labels_; }

 private:
  bool keep_points_;
  std::vector<Labels> labels_;
  std::vector<Point> points_;
  size_t count_ = 0;
  int64_t first_ms_ = 0, last_ms_ = 0;
  bool in_order_ = true;
};

}  // namespace setpoint
