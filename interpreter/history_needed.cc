#include "interpreter/history_needed.h"

#include <algorithm>

namespace setpoint {

namespace {

// `shifted`: evaluated at a time before the newest samples (under an offset or a subquery), where
// an instant selector may take a sample up to the whole lookback older than that time. At the
// evaluation's own time it takes the newest sample, which the store always keeps: a series' newest
// sample is never older than the series' newest minus the retention.
// A let read under a shift reads its own expression that much earlier; unshifted, its expression
// is counted where it stands. `depth` stops a cycle of lets, which the checker reports.
double need(const Module& m, ExprId id, bool shifted, int depth) {
  constexpr double kLookbackSeconds = 300;
  constexpr int kMaxLetDepth = 64;
  const Expr& e = m.expr(id);
  auto inner = [&](ExprId x, bool s) { return x == kNoExpr ? 0.0 : need(m, x, s, depth); };
  switch (e.kind) {
    case ExprKind::Selector:
      return shifted ? kLookbackSeconds : 0;
    case ExprKind::Name: {  // a metric, a knob or a let
      double most = shifted ? kLookbackSeconds : 0;
      if (!shifted || depth >= kMaxLetDepth) return most;
      for (const Item& it : m.items) {
        if (it.kind == ItemKind::Let && it.expr != kNoExpr && it.name.text == e.text)
          most = std::max(most, need(m, it.expr, true, depth + 1));
      }
      return most;
    }
    case ExprKind::Range:
      return e.number;  // its selector reads the window, not a lookback
    case ExprKind::Subquery:
    case ExprKind::Offset:
      return e.number + inner(e.lhs, true);
    default: {
      double most = std::max(inner(e.lhs, shifted), inner(e.rhs, shifted));
      for (ExprId a : e.args) most = std::max(most, inner(a, shifted));
      return most;
    }
  }
}

}  // namespace

double history_needed(const Module& m, ExprId id) { return need(m, id, false, 0); }

HistoryNeed longest_history(const std::vector<Module>& modules, bool with_within) {
  HistoryNeed most;
  for (const Module& m : modules) {
    for (ExprId id = 0; id < m.exprs.size(); ++id) {
      double seconds = history_needed(m, id);
      if (seconds > most.seconds) most = {seconds, &m, m.expr(id).span};
    }
    if (!with_within) continue;
    for (const Item& it : m.items) {
      for (const Clause& c : it.clauses) {
        if (c.kind == ClauseKind::Expect && c.duration.valid && c.duration.seconds > most.seconds)
          most = {c.duration.seconds, &m, c.duration.span};
      }
    }
  }
  return most;
}

}  // namespace setpoint
