#include "interpreter/history_needed.h"

#include <algorithm>

namespace setpoint {

double history_needed(const Module& m, ExprId id) {
  constexpr double kLookbackSeconds = 300;
  const Expr& e = m.expr(id);
  auto inner = [&](ExprId x) { return x == kNoExpr ? 0.0 : history_needed(m, x); };
  switch (e.kind) {
    case ExprKind::Selector:
      return kLookbackSeconds;
    case ExprKind::Range:
      return e.number;
    case ExprKind::Subquery:
    case ExprKind::Offset:
      return e.number + inner(e.lhs);
    default: {
      double most = std::max(inner(e.lhs), inner(e.rhs));
      for (ExprId a : e.args) most = std::max(most, inner(a));
      return most;
    }
  }
}

HistoryNeed longest_history(const std::vector<Module>& modules, bool with_within) {
  HistoryNeed most;
  for (const Module& m : modules) {
    for (ExprId id = 0; id < m.exprs.size(); ++id) {
      double need = history_needed(m, id);
      if (need > most.seconds) most = {need, &m, m.expr(id).span};
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
