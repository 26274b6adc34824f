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
  uint32_t series(const Labels& labels) override;
  void sample(uint32_t series, int64_t t_ms, double value) override;

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
  std::vector<Labels> labels_;
  std::vector<Point> points_;
};

}  // namespace setpoint
