// The charts of a report: which expressions to draw, sampled at each evaluation. See
// policy_report.h.
#include "runtime/policy_report.h"

#include <algorithm>
#include <cmath>

#include "grammar/ast.h"

namespace setpoint {

PolicyReport::PolicyReport(const PolicySet& set, const WindowStore& store,
                           std::function<std::optional<double>(std::string_view)> knob_value,
                           const EvalOptions& options, int64_t from_ms, int64_t to_ms)
    : set_(set),
      evaluator_(set.modules, set.compiled, store, options),
      from_ms_(from_ms),
      to_ms_(to_ms) {
  evaluator_.knob_value = std::move(knob_value);
  has_baseline_.assign(boost::num_vertices(set.compiled.graph), -1);
  const Program& p = set.compiled;
  for (const PolicyPlan& plan : p.policies) {
    if (plan.trigger != kNoNode) condition(only_input(plan.trigger), plan.name, "trigger");
    if (plan.when != kNoNode) condition(only_input(plan.when), plan.name, "when");
    for (NodeId x : plan.expectations) {
      chart(only_input(x), plan.name, plan.name + " " + set.compiled.graph[x].label);
    }
    for (NodeId r : plan.rollbacks) condition(only_input(r), plan.name, "rollback when");
  }
}

void PolicyReport::sample(int64_t t_ms) {
  evaluator_.at(t_ms);
  for (Chart& c : charts_) {
    for (auto& [labels, s] : c.series) s.seen = false;
    try {
      const Value& v = evaluator_.value(c.node);
      if (v.type == ValueType::Scalar) {
        add(c, "", t_ms, v.scalar);
      } else if (v.type == ValueType::Vector) {
        for (const VectorSample& s : v.vector) {
          add(c, labels_text(evaluator_.labels(s.labels)), t_ms, s.value);
        }
      }
    } catch (const EvalError&) {
      // A query Prometheus refuses at this time has no value here: a gap.
    }
    evaluator_.drop(c.node);
    for (auto& [labels, s] : c.series) {
      if (!s.seen) s.points.add(t_ms, NAN);
    }
  }
}

void PolicyReport::event(const Event& e) {
  if (events_.size() < kMaxEvents) {
    events_.push_back(e);
  } else {
    ++events_left_out_;
  }
}

ReportInput PolicyReport::finish(std::string title, std::vector<std::string> notes,
                                 ReportTable summary) {
  ReportInput in;
  in.title = std::move(title);
  in.notes = std::move(notes);
  in.from_ms = from_ms_;
  in.to_ms = to_ms_;
  in.summary = std::move(summary);
  for (Chart& c : charts_) {
    for (auto& [labels, s] : c.series) c.chart.series.push_back({labels, s.points.finish()});
    c.chart.series_left_out = c.left_out.size();
    in.charts.push_back(std::move(c.chart));
  }
  in.events = std::move(events_);
  in.events_left_out = events_left_out_;
  return in;
}

NodeId PolicyReport::only_input(NodeId n) const {
  return boost::source(*boost::in_edges(n, set_.compiled.graph).first, set_.compiled.graph);
}

bool PolicyReport::has_baseline(NodeId n) {
  if (has_baseline_[n] < 0) {
    has_baseline_[n] = set_.compiled.graph[n].kind == NodeKind::Baseline;
    for (NodeId in : node_inputs(set_.compiled, n)) {
      if (has_baseline(in)) has_baseline_[n] = 1;
    }
  }
  return has_baseline_[n] == 1;
}

std::string PolicyReport::text(NodeId n) const {
  const GraphNode& g = set_.compiled.graph[n];
  return text(g.module, g.span);
}

std::string PolicyReport::text(size_t module, Span span) const {
  std::string out;
  for (char c : set_.modules[module].file->slice(span)) {
    bool blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (blank && (out.empty() || out.back() == ' ')) continue;
    out += blank ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

const Expr* PolicyReport::expr(NodeId n) const {
  const GraphNode& g = set_.compiled.graph[n];
  if (g.expr == kNoExpr || g.module >= set_.modules.size()) return nullptr;
  return &set_.modules[g.module].expr(g.expr);
}

void PolicyReport::condition(NodeId n, const std::string& policy, const std::string& clause) {
  const Expr* e = expr(n);
  std::vector<NodeId> in = node_inputs(set_.compiled, n);
  if (set_.compiled.graph[n].kind == NodeKind::Binary && e && in.size() == 2) {
    if (is_set_operator(e->op)) {
      condition(in[0], policy, clause);
      condition(in[1], policy, clause);
      return;
    }
    if (is_comparison(e->op)) {
      static const std::map<std::string, std::string> flipped = {
          {"<", ">"}, {">", "<"}, {"<=", ">="}, {">=", "<="}, {"==", "=="}, {"!=", "!="}};
      std::string op = binary_op_text(e->op);
      for (int side = 0; side < 2; ++side) {
        NodeId mine = in[side], other = in[1 - side];
        if (constant_value(set_.compiled, mine) || has_baseline(mine)) continue;
        // The other side as this comparison writes it: a constant node is shared by every
        // equal value (5% and 50ms are both 0.05), so its own text may come from elsewhere.
        const GraphNode& g = set_.compiled.graph[n];
        ExprId written = side == 0 ? e->rhs : e->lhs;
        std::string other_text = text(g.module, set_.modules[g.module].expr(written).span);
        std::string label =
            policy + " " + clause + " " + (side == 0 ? op : flipped.at(op)) + " " + other_text;
        Chart& c = chart(mine, policy, label);
        if (std::optional<double> value = constant_value(set_.compiled, other)) {
          bool known = false;
          for (const ReportThreshold& t : c.chart.thresholds) known |= t.label == label;
          if (!known) c.chart.thresholds.push_back({label, *value});
        }
      }
      return;
    }
  }
  if (!has_baseline(n) && !constant_value(set_.compiled, n)) {
    chart(n, policy, policy + " " + clause);
  }
}

PolicyReport::Chart& PolicyReport::chart(NodeId n, const std::string& policy,
                                         const std::string& use) {
  auto [it, fresh] = index_.emplace(n, charts_.size());
  if (fresh) {
    Chart c;
    c.node = n;
    const GraphNode& g = set_.compiled.graph[n];
    c.chart.expression = text(n);
    c.chart.title = g.names.empty() ? c.chart.expression : g.names.front();
    static const char* const units[] = {"", "", "s", "B", "%", "/s"};  // by Dim
    if (g.expr != kNoExpr && g.module < set_.program.exprs.size() &&
        g.expr < set_.program.exprs[g.module].size()) {
      c.chart.unit = units[static_cast<size_t>(set_.program.exprs[g.module][g.expr].dim)];
    }
    charts_.push_back(std::move(c));
  }
  Chart& c = charts_[it->second];
  std::vector<std::string>& policies = c.chart.policies;
  if (std::find(policies.begin(), policies.end(), policy) == policies.end()) {
    policies.push_back(policy);
  }
  std::vector<std::string>& uses = c.chart.uses;
  if (std::find(uses.begin(), uses.end(), use) == uses.end()) uses.push_back(use);
  return c;
}

void PolicyReport::add(Chart& c, const std::string& labels, int64_t t_ms, double value) {
  auto it = c.series.find(labels);
  if (it == c.series.end()) {
    // The first series seen are kept; the others are counted, up to a bound.
    if (c.series.size() >= ReportLimits{}.max_series) {
      if (c.left_out.size() < kMaxLeftOut) c.left_out.insert(labels);
      return;
    }
    it = c.series
             .emplace(labels,
                      Series{ReportSeriesBuilder(from_ms_, to_ms_, ReportLimits{}.max_points)})
             .first;
  }
  it->second.points.add(t_ms, value);
  it->second.seen = true;
}

}  // namespace setpoint
