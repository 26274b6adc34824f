// Static analysis of the compiled graph: policies that pull a knob both ways (W0701), flap it
// (W0702) or set it with equal priority (W0703), and the policies to validate apart.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "interpreter/exclusivity.h"
#include "interpreter/program.h"

namespace setpoint {
namespace {

std::vector<NodeId> inputs(const Program& p, NodeId n) { return node_inputs(p, n); }

std::optional<double> constant(const Program& p, NodeId n) { return constant_value(p, n); }

// A constant as written: `10m`, `-8`.
std::string constant_text(const Program& p, NodeId n) {
  std::vector<NodeId> in = inputs(p, n);
  if (p.graph[n].kind == NodeKind::Unary && in.size() == 1) return "-" + constant_text(p, in[0]);
  return p.graph[n].label;
}

// The source text of a node where it first appears, on one line.
std::string source_text(const std::vector<Module>& modules, const GraphNode& g) {
  std::string out;
  for (char c : modules[g.module].file->slice(g.span)) {
    bool blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (!blank) {
      out += c;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

enum class Way { Unknown, Up, Down, To };

// What `set knob = value` does to the knob: knob + 8 and 2 * knob raise it, clamp(knob - 8, ...)
// lowers it, 10m sets it to a constant.
struct Move {
  Way way = Way::Unknown;
  double to = 0;
  std::string to_text;
};

Move move_of(const Program& p, NodeId value, const std::string& knob) {
  Move m;
  if (value == kNoNode) return m;
  if (std::optional<double> c = constant(p, value)) {
    m.way = Way::To;
    m.to = *c;
    m.to_text = constant_text(p, value);
    return m;
  }
  NodeId n = value;
  for (;;) {
    const GraphNode& g = p.graph[n];
    bool keeps_direction = g.label == "clamp" || g.label == "clamp_min" || g.label == "clamp_max" ||
                           g.label == "ceil" || g.label == "floor" || g.label == "round";
    std::vector<NodeId> in = inputs(p, n);
    if (g.kind != NodeKind::Function || !keeps_direction || in.empty()) break;
    n = in.front();
  }
  if (p.graph[n].kind != NodeKind::Binary) return m;
  std::vector<NodeId> in = inputs(p, n);
  if (in.size() != 2) return m;
  const std::string& op = p.graph[n].label;
  auto is_knob = [&](NodeId i) {
    return p.graph[i].kind == NodeKind::KnobValue && p.graph[i].label == knob;
  };
  std::optional<double> c;
  if (is_knob(in[0])) {
    c = constant(p, in[1]);
  } else if (is_knob(in[1]) && (op == "+" || op == "*")) {
    c = constant(p, in[0]);  // 8 + knob, 2 * knob
  }
  if (!c) return m;
  if (op == "+") m.way = *c > 0 ? Way::Up : *c < 0 ? Way::Down : Way::Unknown;
  if (op == "-") m.way = *c > 0 ? Way::Down : *c < 0 ? Way::Up : Way::Unknown;
  if (op == "*") m.way = *c > 1 ? Way::Up : (*c > 0 && *c < 1) ? Way::Down : Way::Unknown;
  if (op == "/") m.way = *c > 1 ? Way::Down : (*c > 0 && *c < 1) ? Way::Up : Way::Unknown;
  return m;
}

bool opposite(const Move& a, const Move& b) {
  if (a.way == Way::To && b.way == Way::To) return a.to != b.to;
  return (a.way == Way::Up && b.way == Way::Down) || (a.way == Way::Down && b.way == Way::Up);
}

std::string describe(const Move& m, const std::string& knob) {
  switch (m.way) {
    case Way::Up:
      return "raises '" + knob + "'";
    case Way::Down:
      return "lowers '" + knob + "'";
    case Way::To:
      return "sets '" + knob + "' to " + m.to_text;
    case Way::Unknown:
      break;
  }
  return "sets '" + knob + "'";
}

// What a selector reads: a metric name (empty when the name is not fixed, as in
// `{__name__=~"http_.*"}`) and its `label="value"` matchers.
struct MetricRead {
  std::string name;
  std::map<std::string, std::string> equal;
};

struct KnobAction {
  size_t policy;
  NodeId action;
  Move move;
};

class Analyzer {
 public:
  Analyzer(const std::vector<Module>& modules, Program& p, Diagnostics& diags)
      : modules_(modules), p_(p), diags_(diags), exclusivity_(modules, p) {}

  void run();

 private:
  bool ordered(size_t a, size_t b);
  bool waits_for(size_t a, size_t b);
  void pair(const std::string& knob, const KnobAction& a, const KnobAction& b);
  void warn(Code code, const KnobAction& at, std::string message, std::string hint,
            const KnobAction& other, std::string note);
  MetricRead metric_read(NodeId selector);
  void validation_exclusions();

  const std::vector<Module>& modules_;
  Program& p_;
  Diagnostics& diags_;
  Exclusivity exclusivity_;
  std::map<size_t, std::set<size_t>> waited_for_;             // [policy] every policy it is after
  std::set<std::pair<NodeId, Code>> reported_;                // one of each code per action
  std::map<uint32_t, std::map<uint32_t, ExprId>> selectors_;  // [module][span begin] selector
};

// Whether `a` is ordered after `b`, directly or through other policies.
bool Analyzer::waits_for(size_t a, size_t b) {
  auto [it, fresh] = waited_for_.try_emplace(a);
  if (fresh) {
    std::vector<size_t> stack{a};
    while (!stack.empty()) {
      size_t i = stack.back();
      stack.pop_back();
      for (size_t j : p_.policies[i].after) {
        if (it->second.insert(j).second) stack.push_back(j);
      }
    }
  }
  return it->second.count(b) > 0;
}

bool Analyzer::ordered(size_t a, size_t b) { return waits_for(a, b) || waits_for(b, a); }

void Analyzer::warn(Code code, const KnobAction& at, std::string message, std::string hint,
                    const KnobAction& other, std::string note) {
  // Each action is reported once per code, against the first policy it conflicts with: n
  // policies on one knob give at most n - 1 warnings, not n * (n - 1) / 2.
  if (!reported_.emplace(at.action, code).second) return;
  const GraphNode& g = p_.graph[at.action];
  const GraphNode& o = p_.graph[other.action];
  Diagnostic& d =
      diags_.add(code, modules_[g.module].file.get(), g.span, std::move(message), std::move(hint));
  d.notes.push_back({modules_[o.module].file.get(), o.span, std::move(note)});
}

void Analyzer::pair(const std::string& knob, const KnobAction& a, const KnobAction& b) {
  const PolicyPlan& pa = p_.policies[a.policy];
  const PolicyPlan& pb = p_.policies[b.policy];
  bool opposed = opposite(a.move, b.move);
  if (opposed ? reported_.count({b.action, Code::KnobTugOfWar}) &&
                    reported_.count({b.action, Code::Flapping})
              : reported_.count({b.action, Code::EqualPriority}) || pa.priority != pb.priority ||
                    ordered(a.policy, b.policy)) {
    return;  // nothing left to find
  }
  std::string names = "'" + pa.name + "' and '" + pb.name + "'";
  std::string note = "'" + pa.name + "' " + describe(a.move, knob) + " here";
  std::optional<Separation> apart = exclusivity_.separation(a.policy, b.policy);
  if (opposed) {
    if (!apart) {
      std::string hint =
          "make their conditions exclusive, with a gap, as in `cpu > 80%` and `cpu < 60%`";
      // Thresholds that would keep them apart, but on an expression with several series.
      std::optional<Separation> loose = exclusivity_.separation(a.policy, b.policy, false);
      if (loose && loose->x != kNoNode) {
        const GraphNode& g = p_.graph[exclusivity_.subject(loose->x)];
        // A let's name is what the user wrote in the condition.
        std::string subject = g.names.empty() ? source_text(modules_, g) : g.names.front();
        hint = "`" + subject +
               "` has several series, and the conditions can hold for different ones at once: "
               "compare one series, as in `max(" +
               subject + ")`";
      }
      warn(Code::KnobTugOfWar, b,
           names + " can act at the same time and move '" + knob + "' in opposite directions", hint,
           a, note);
    } else if (apart->gap == 0) {
      // Exclusive, but only just: each action's effect can bring on the other at once.
      std::string x = source_text(modules_, p_.graph[apart->x]);
      std::string y = source_text(modules_, p_.graph[apart->y]);
      warn(Code::Flapping, b,
           names + " move '" + knob + "' in opposite directions on thresholds with no gap: `" + x +
               "` and `" + y + "`",
           "each action can bring on the other: leave a gap between the thresholds, as in "
           "`cpu > 80%` and `cpu < 60%`",
           a, note);
    }
    return;
  }
  if (!apart) {
    warn(Code::EqualPriority, b,
         names + " can set '" + knob + "' at the same time with the same priority " +
             std::to_string(pa.priority) + ", in no set order",
         "give one a higher priority, or add `after " + pa.name + "` to '" + pb.name + "'", a,
         note);
  }
}

// Whether two selectors may select a series in common: `x{job="a"}` and `x` may, `x{job="a"}`
// and `x{job="b"}` may not, nor may two metrics of different names. Other matchers are not
// compared, which can only keep more pairs apart than needed.
bool may_share_series(const MetricRead& a, const MetricRead& b) {
  if (!a.name.empty() && !b.name.empty() && a.name != b.name) return false;
  for (const auto& [label, value] : a.equal) {
    auto it = b.equal.find(label);
    if (it != b.equal.end() && it->second != value) return false;
  }
  return true;
}

// The selector expression a selector node was made from, for its matchers.
MetricRead Analyzer::metric_read(NodeId n) {
  const GraphNode& g = p_.graph[n];
  const Module& m = modules_[g.module];
  auto [index, fresh] = selectors_.try_emplace(g.module);
  if (fresh) {
    for (ExprId id = 0; id < m.exprs.size(); ++id) {
      ExprKind kind = m.exprs[id].kind;
      if (kind == ExprKind::Selector || kind == ExprKind::Name) {
        index->second.emplace(m.exprs[id].span.begin, id);
      }
    }
  }
  MetricRead r;
  auto found = index->second.find(g.span.begin);
  if (found == index->second.end()) {
    r.name = g.label.substr(0, g.label.find('{'));  // no matchers known: overlaps more
    return r;
  }
  const Expr& e = m.expr(found->second);
  r.name = std::string(e.text);
  for (const Matcher& mt : e.matchers) {
    if (mt.op != MatchOp::Equal) continue;
    if (mt.label == "__name__") {
      if (r.name.empty()) r.name = mt.value;
    } else {
      r.equal.emplace(std::string(mt.label), mt.value);
    }
  }
  return r;
}

// Policies whose expectations may read a series in common must not be validated at once: the
// effect of one would be taken for the effect of the other.
void Analyzer::validation_exclusions() {
  // The distinct selectors under the expectations, each with the policies that read it.
  std::map<NodeId, std::vector<size_t>> readers;
  for (size_t i = 0; i < p_.policies.size(); ++i) {
    std::vector<NodeId> stack(p_.policies[i].expectations.begin(),
                              p_.policies[i].expectations.end());
    std::set<NodeId> seen;
    while (!stack.empty()) {
      NodeId n = stack.back();
      stack.pop_back();
      if (!seen.insert(n).second) continue;
      if (p_.graph[n].kind == NodeKind::Selector) readers[n].push_back(i);
      for (NodeId in : inputs(p_, n)) stack.push_back(in);
    }
  }
  std::vector<std::pair<MetricRead, const std::vector<size_t>*>> selectors;
  for (const auto& [node, policies] : readers) selectors.emplace_back(metric_read(node), &policies);
  // Only selectors of one name, or without a fixed name, can meet: compare within a name.
  std::map<std::string, std::vector<size_t>> by_name;
  std::vector<size_t> any_name;
  for (size_t s = 0; s < selectors.size(); ++s) {
    const std::string& name = selectors[s].first.name;
    (name.empty() ? any_name : by_name[name]).push_back(s);
  }
  std::vector<std::pair<size_t, size_t>> pairs;
  auto meet = [&](size_t u, size_t v) {
    if (!may_share_series(selectors[u].first, selectors[v].first)) return;
    for (size_t a : *selectors[u].second) {
      for (size_t b : *selectors[v].second) {
        // Readers of one selector: each pair once.
        if (u == v ? a < b : a != b) pairs.emplace_back(std::min(a, b), std::max(a, b));
      }
    }
  };
  for (const auto& [name, group] : by_name) {
    for (size_t x = 0; x < group.size(); ++x) {
      for (size_t y = x; y < group.size(); ++y) meet(group[x], group[y]);
    }
  }
  for (size_t x = 0; x < any_name.size(); ++x) {
    for (size_t s = 0; s < selectors.size(); ++s) {
      // Each pair of name-less selectors once, and every named one.
      bool named = !selectors[s].first.name.empty();
      if (named || s >= any_name[x]) meet(any_name[x], s);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  p_.validation_exclusions = std::move(pairs);
}

void Analyzer::run() {
  // Every knob with the actions that set it, in policy order; emergencies preempt every
  // policy and are left out.
  std::map<std::string, std::vector<KnobAction>> knobs;
  for (size_t i = 0; i < p_.policies.size(); ++i) {
    const PolicyPlan& plan = p_.policies[i];
    if (plan.emergency) continue;
    for (NodeId action : plan.actions) {
      NodeId value = kNoNode;
      for (NodeId in : inputs(p_, action)) {
        if (is_expression(p_.graph[in].kind)) value = in;
      }
      for (auto [e, end] = boost::out_edges(action, p_.graph); e != end; ++e) {
        NodeId knob = boost::target(*e, p_.graph);
        if (p_.graph[knob].kind != NodeKind::Knob) continue;
        const std::string& name = p_.graph[knob].label;
        knobs[name].push_back({i, action, move_of(p_, value, name)});
      }
    }
  }
  for (const auto& [knob, actions] : knobs) {
    for (size_t y = 1; y < actions.size(); ++y) {
      for (size_t x = 0; x < y; ++x) {
        if (actions[x].policy != actions[y].policy) pair(knob, actions[x], actions[y]);
      }
    }
  }
  validation_exclusions();
}

}  // namespace

void analyze_program(const std::vector<Module>& modules, Program& program,
                     Diagnostics& diagnostics) {
  Analyzer(modules, program, diagnostics).run();
}

}  // namespace setpoint
