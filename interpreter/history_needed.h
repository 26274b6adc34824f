// How far back the policies read the window store: what a daemon's `retention` must keep, and
// what a replay keeps, so that its store holds a window's worth of samples, not the recording.
#pragma once

#include <vector>

#include "grammar/ast.h"

namespace setpoint {

// Seconds of history, back from a series' newest sample, that one expression reads when it is
// evaluated at the time of the newest samples: a range its own window; an instant selector none
// (it takes the newest sample), but Prometheus' 5-minute lookback under an offset or a subquery,
// whose shift is added to what they wrap.
double history_needed(const Module& m, ExprId id);

// The most any expression of the modules reads, and where; with `within`, also the longest
// `expect ... within` (its baseline window). Zero, with no module, when nothing reads history.
struct HistoryNeed {
  double seconds = 0;
  const Module* module = nullptr;
  Span span{};
};
HistoryNeed longest_history(const std::vector<Module>& modules, bool with_within);

}  // namespace setpoint
