// Where a window over one series of the store stands between two evaluations: the positions
// of its samples. Moving it forward hands the aggregate kept over the window the samples that
// joined and those that left, so a step costs the samples that moved, not the whole window.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include "interpreter/window_store.h"

namespace setpoint {

struct WindowCursor {
  uint64_t begin = 0, end = 0;  // positions of the window's samples, [begin, end)
  int64_t t_ms = INT64_MIN;     // the time of the last move

  // Moves the window to the samples of `series` in (t_ms - range_ms, t_ms]: add(position,
  // sample) for each that joined, in time order, then remove(position, sample) for each that
  // left, oldest first. The first move, a move to an earlier time than the last, or one after
  // the store dropped samples still in the window calls reset() and adds the window afresh.
  template <class Add, class Remove, class Reset>
  void move(const WindowStore::Positioned& series, int64_t at_ms, int64_t range_ms, Add add,
            Remove remove, Reset reset) {
    const std::span<const Sample> samples = series.samples;
    const uint64_t last = series.first + samples.size();
    const int64_t start = at_ms - range_ms;
    auto sample_at = [&](uint64_t position) -> const Sample& {
      return samples[position - series.first];
    };
    if (t_ms == INT64_MIN || at_ms < t_ms || begin < series.first || end > last) {
      auto after = [](int64_t t, const Sample& s) { return t < s.t_ms; };
      auto first = std::upper_bound(samples.begin(), samples.end(), start, after);
      auto stop = std::upper_bound(first, samples.end(), at_ms, after);
      reset();
      begin = end = series.first + static_cast<uint64_t>(first - samples.begin());
      uint64_t stop_at = series.first + static_cast<uint64_t>(stop - samples.begin());
      for (; end < stop_at; ++end) add(end, sample_at(end));
    } else {
      // Samples only ever join a series at its end, in time order: the newcomers are those
      // from `end` up to at_ms, and the window's oldest leave once they are start or older.
      for (; end < last && sample_at(end).t_ms <= at_ms; ++end) add(end, sample_at(end));
      for (; begin < end && sample_at(begin).t_ms <= start; ++begin)
        remove(begin, sample_at(begin));
    }
    t_ms = at_ms;
  }

  // The window's samples, stale markers included, after a move.
  std::span<const Sample> samples(const WindowStore::Positioned& series) const {
    return series.samples.subspan(begin - series.first, end - begin);
  }
};

}  // namespace setpoint
