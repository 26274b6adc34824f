// Two policies can act at the same time unless proven otherwise. Because equal expressions are
// one node, "the same metric" is simply "the same node": two policies' thresholds on `cpu` meet
// at cpu's node. A comparison must be of an expression with a single series to exclude
// anything: a vector condition acts once per label set, and a knob is one value, so
// `cpu > 80%` and `cpu < 60%` on a per-instance cpu can both act at once, for two instances.
#include "interpreter/exclusivity.h"

#include <algorithm>
#include <cmath>

#include "interpreter/time_window.h"

namespace setpoint {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Splitting `or`s multiplies the cases to compare; past this many, two policies are taken to
// be able to act together, which can only cost a warning.
constexpr size_t kMaxSteps = 10000;

std::vector<NodeId> inputs(const Program& p, NodeId n) { return node_inputs(p, n); }

// The operator of a binary node without its modifiers: "or" for `or on (job)`.
std::string_view op_of(const GraphNode& g) {
  std::string_view label = g.label;
  return label.substr(0, label.find(' '));
}

std::optional<double> constant(const Program& p, NodeId n) { return constant_value(p, n); }

// The labels by which the series of an expression's result may differ: none for a scalar or an
// aggregation without `by`; nullopt when any label may (a selector). Computed in graph order,
// inputs first.
using Varying = std::optional<std::set<std::string>>;

Varying union_of(const std::vector<Varying>& varying, const std::vector<NodeId>& in) {
  std::set<std::string> out;
  for (NodeId i : in) {
    if (!varying[i]) return std::nullopt;
    out.insert(varying[i]->begin(), varying[i]->end());
  }
  return out;
}

// "(job, le)" at the end of "sum by (job, le)".
std::set<std::string> grouping_labels(const std::string& label) {
  std::set<std::string> out;
  size_t open = label.find('('), close = label.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return out;
  std::string list = label.substr(open + 1, close - open - 1);
  for (size_t start = 0; start <= list.size();) {
    size_t comma = std::min(list.find(',', start), list.size());
    std::string name = list.substr(start, comma - start);
    name.erase(0, name.find_first_not_of(' '));
    if (!name.empty()) out.insert(name);
    start = comma + 1;
  }
  return out;
}

std::vector<Varying> varying_labels(const Program& p) {
  std::vector<Varying> varying(boost::num_vertices(p.graph));
  for (NodeId n : p.order) {
    const GraphNode& g = p.graph[n];
    if (!is_expression(g.kind)) continue;
    std::vector<NodeId> in = inputs(p, n);
    std::string_view name = op_of(g);
    switch (g.kind) {
      case NodeKind::Number:
      case NodeKind::String:
      case NodeKind::KnobValue:
        varying[n] = std::set<std::string>{};
        break;
      case NodeKind::Selector:
        break;  // any label
      case NodeKind::Aggregation:
        if (name == "topk" || name == "bottomk") {
          varying[n] = union_of(varying, in);  // keep the series they pick
        } else if (name != "count_values" && g.label.find(" without ") == std::string::npos) {
          varying[n] = grouping_labels(g.label);  // empty without `by`
        }
        break;
      case NodeKind::Function:
        if (name == "histogram_quantile" && !in.empty() && varying[in.back()]) {
          std::set<std::string> labels = *varying[in.back()];
          labels.erase("le");
          varying[n] = labels;
        } else if (name == "scalar" || name == "vector" || name == "absent" ||
                   name == "absent_over_time") {
          varying[n] = std::set<std::string>{};  // at most one series
        } else if (name != "histogram_quantile") {
          varying[n] = union_of(varying, in);
        }
        break;
      default:
        varying[n] = union_of(varying, in);
        break;
    }
  }
  return varying;
}

template <typename Interval>
bool empty(const Interval& i) {
  return i.lo > i.hi || (i.lo == i.hi && (i.lo_open || i.hi_open));
}

// How far apart two intervals are: negative when they overlap, 0 when they only touch
// (`x > 80%` and `x <= 80%`).
template <typename Interval>
double gap(const Interval& a, const Interval& b) {
  if (a.hi < b.lo) return b.lo - a.hi;
  if (b.hi < a.lo) return a.lo - b.hi;
  if (a.hi == b.lo && (a.hi_open || b.lo_open)) return 0;
  if (b.hi == a.lo && (b.hi_open || a.lo_open)) return 0;
  return -1;
}

// The minutes of the week (Monday 00:00 is 0) a `during` window covers, in its zone. Whether a
// window that wraps past midnight belongs to the day it starts or the day it ends, both are
// covered, so that disjoint windows are disjoint either way.
std::bitset<7 * 1440> week_minutes(const TimeWindow& w) {
  std::bitset<7 * 1440> out;
  constexpr int kWeek = 7 * 1440;
  auto mark = [&](int from, int to) {
    for (int m = from; m < to; ++m) out.set(((m % kWeek) + kWeek) % kWeek);
  };
  for (int d = 0; d < 7; ++d) {
    if (!(w.days & (1 << d))) continue;
    int day = d * 1440;
    if (w.start_minute < w.end_minute) {
      mark(day + w.start_minute, day + w.end_minute);
    } else {
      mark(day + w.start_minute, day + 1440 + w.end_minute);
      mark(day - 1440 + w.start_minute, day + w.end_minute);
    }
  }
  return out;
}

}  // namespace

Exclusivity::Exclusivity(const std::vector<Module>& modules, const Program& program)
    : modules_(modules), p_(program), varying_(varying_labels(program)) {
  atoms_.resize(boost::num_vertices(program.graph));
  for (NodeId n : program.order) atoms_[n] = make_atom(n);
}

NodeId Exclusivity::subject(NodeId comparison) const {
  return atoms_[comparison] ? atoms_[comparison]->subject : kNoNode;
}

std::optional<Exclusivity::Atom> Exclusivity::make_atom(NodeId n) const {
  const Program& p = p_;
  const GraphNode& g = p.graph[n];
  // Only the plain filters: `cpu > bool 0.8` always has a value, and `> on (...)` needs vectors.
  if (g.kind != NodeKind::Binary) return std::nullopt;
  std::string op = g.label;
  if (op != ">" && op != ">=" && op != "<" && op != "<=" && op != "==") return std::nullopt;
  std::vector<NodeId> in = inputs(p, n);
  if (in.size() != 2) return std::nullopt;
  NodeId subject = in[0];
  std::optional<double> c = constant(p, in[1]);
  if (constant(p, in[0])) {
    // `80% < cpu` is `cpu > 80%`.
    subject = in[1];
    c = constant(p, in[0]);
    op = op == ">" ? "<" : op == ">=" ? "<=" : op == "<" ? ">" : op == "<=" ? ">=" : op;
  }
  if (!c || constant(p, subject) || std::isnan(*c)) return std::nullopt;
  Atom a;
  a.subject = subject;
  a.single = varying_[subject] && varying_[subject]->empty();
  // Inf is a value too: `x > 80%` holds for it, `x > Inf` for nothing.
  if (op == ">") a.range = {*c, kInf, true, false};
  if (op == ">=") a.range = {*c, kInf, false, false};
  if (op == "<") a.range = {-kInf, *c, false, true};
  if (op == "<=") a.range = {-kInf, *c, false, false};
  if (op == "==") a.range = {*c, *c, false, false};
  return a;
}

// A policy acts when its trigger and its `when` hold.
std::vector<NodeId> Exclusivity::conditions(size_t policy) const {
  const PolicyPlan& plan = p_.policies[policy];
  std::vector<NodeId> out;
  for (NodeId c : {plan.trigger, plan.when}) {
    if (c == kNoNode) continue;
    std::vector<NodeId> in = inputs(p_, c);
    if (!in.empty()) out.push_back(in.front());
  }
  return out;
}

// The separation of two conjunctions: all of xs hold, and all of ys. An `and` or `unless`
// holds only where its left side does (and, for `and`, its right side); an `or` is split into
// its two cases, each of which must be kept apart.
std::optional<Separation> Exclusivity::between(std::vector<NodeId> xs, std::vector<NodeId> ys,
                                               bool single_series) {
  if (++steps_ > kMaxSteps) return std::nullopt;
  for (std::vector<NodeId>* side : {&xs, &ys}) {
    for (size_t i = 0; i < side->size();) {
      NodeId n = (*side)[i];
      std::string_view op = p_.graph[n].kind == NodeKind::Binary ? op_of(p_.graph[n]) : "";
      std::vector<NodeId> in = inputs(p_, n);
      if ((op == "and" || op == "unless") && in.size() == 2) {
        (*side)[i] = in[0];  // and look at it again
        if (op == "and") side->push_back(in[1]);
      } else {
        ++i;
      }
    }
  }
  // A comparison no value passes (`x < -Inf`) is never true, nor is its conjunction.
  for (const std::vector<NodeId>* side : {&xs, &ys}) {
    for (NodeId n : *side) {
      if (atoms_[n] && empty(atoms_[n]->range)) return Separation{};
    }
  }
  // The comparisons outside any `or` hold in every case: a gap they leave stays in every case,
  // so splitting the `or`s could only widen it, and a gap is all the rules need to know.
  std::optional<Separation> widest;
  for (NodeId x : xs) {
    if (!atoms_[x] || (single_series && !atoms_[x]->single)) continue;
    for (NodeId y : ys) {
      if (!atoms_[y] || atoms_[x]->subject != atoms_[y]->subject) continue;
      double g = gap(atoms_[x]->range, atoms_[y]->range);
      if (g >= 0 && (!widest || g > widest->gap)) widest = Separation{g, x, y};
    }
  }
  if (widest && widest->gap > 0) return widest;
  for (int s = 0; s < 2; ++s) {
    std::vector<NodeId>& side = s == 0 ? xs : ys;
    for (size_t i = 0; i < side.size(); ++i) {
      const GraphNode& g = p_.graph[side[i]];
      std::vector<NodeId> in = inputs(p_, side[i]);
      if (g.kind != NodeKind::Binary || op_of(g) != "or" || in.size() != 2) continue;
      std::optional<Separation> narrowest;
      for (NodeId branch : in) {
        side[i] = branch;
        std::optional<Separation> sep = between(xs, ys, single_series);
        if (!sep) return std::nullopt;
        if (!narrowest || sep->gap < narrowest->gap) narrowest = sep;
      }
      return narrowest;
    }
  }
  return widest;
}

// Minutes are compared in the window's zone: windows in different zones are taken to overlap,
// as their offsets change with daylight saving time.
const std::optional<Exclusivity::Window>& Exclusivity::window(size_t policy) {
  auto [it, fresh] = windows_.try_emplace(policy);
  if (fresh) {
    const PolicyPlan& plan = p_.policies[policy];
    for (const Clause& c : modules_[plan.module].items[plan.item].clauses) {
      if (c.kind != ClauseKind::During) continue;
      TimeWindowResult r = parse_time_window(c.string_value);
      if (r.ok) it->second = Window{week_minutes(r.window), r.window.zone};
    }
  }
  return it->second;
}

std::optional<Separation> Exclusivity::separation(size_t a, size_t b, bool single_series) {
  const std::optional<Window>& wa = window(a);
  const std::optional<Window>& wb = window(b);
  if (wa && wb && wa->zone == wb->zone && (wa->minutes & wb->minutes).none()) return Separation{};
  steps_ = 0;
  return between(conditions(a), conditions(b), single_series);
}

}  // namespace setpoint
