// Checked AST -> dependency graph. Every expression is compiled bottom-up to a canonical key
// made of its kind, its parameters and the ids of its (already canonical) inputs; a key seen
// before is the node made before. Lets are inlined, parentheses dropped, matchers and grouping
// labels sorted and durations and numbers compared by value, so `rate(x{b="2",a="1"}[300s])` in
// one file and `rate(x{a="1", b="2"}[5m])` in another are one node.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <queue>
#include <unordered_map>

#include "interpreter/program.h"

namespace setpoint {

const char* node_kind_name(NodeKind kind) {
  static const char* const names[] = {
      "number",      "string",   "selector", "range",      "subquery", "offset",  "function",
      "aggregation", "unary",    "binary",   "knob value", "baseline", "trigger", "condition",
      "expectation", "rollback", "policy",   "emergency",  "action",   "knob"};
  return names[static_cast<size_t>(kind)];
}

bool is_expression(NodeKind kind) { return kind <= NodeKind::Baseline; }

std::vector<NodeId> node_inputs(const Program& p, NodeId n) {
  std::vector<NodeId> out;
  for (auto [e, end] = boost::in_edges(n, p.graph); e != end; ++e) {
    out.push_back(boost::source(*e, p.graph));
  }
  return out;
}

std::optional<double> constant_value(const Program& p, NodeId n) {
  const GraphNode& g = p.graph[n];
  if (g.kind == NodeKind::Number) return g.value;
  if (g.kind == NodeKind::Unary) {
    std::vector<NodeId> in = node_inputs(p, n);
    if (in.size() == 1) {
      if (std::optional<double> c = constant_value(p, in[0])) return -*c;
    }
  }
  return std::nullopt;
}

namespace {

std::string number_key(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

std::string ref(NodeId n) { return "#" + std::to_string(n); }

// "(a, b)" with the labels sorted: by (job, pod) and by (pod, job) group alike.
std::string sorted_labels(std::vector<std::string_view> labels) {
  std::sort(labels.begin(), labels.end());
  std::string out = "(";
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? ", " : "") + std::string(labels[i]);
  return out + ")";
}

class Compiler {
 public:
  Compiler(const std::vector<Module>& modules, const CheckedProgram& checked, Diagnostics& diags)
      : modules_(modules), checked_(checked), diags_(diags) {
    let_nodes_.resize(modules.size());
    let_sizes_.resize(modules.size());
  }

  Program run();

 private:
  NodeId node(NodeKind kind, const std::string& key, const std::string& label, uint32_t module,
              Span span, const std::vector<NodeId>& inputs);
  NodeId expr(uint32_t m, ExprId id, NodeId baseline_of = kNoNode);
  NodeId expr_node(uint32_t m, ExprId id, NodeId baseline_of);
  size_t written_size(uint32_t m, ExprId id);
  void order_policies();
  void order_nodes();

 public:
  // Compiles one expression on its own (for `setpoint eval`): no policies.
  Program run_expression(uint32_t m, ExprId id, NodeId* root) {
    *root = expr(m, id);
    order_nodes();
    return std::move(p_);
  }

 private:
  const std::vector<Module>& modules_;
  const CheckedProgram& checked_;
  Diagnostics& diags_;
  Program p_;
  std::unordered_map<std::string, NodeId> by_key_;
  std::vector<std::unordered_map<uint32_t, NodeId>> let_nodes_;  // [module] item -> node
  std::vector<std::unordered_map<uint32_t, size_t>> let_sizes_;  // [module] item -> size
  std::unordered_map<std::string, size_t> policy_index_;
};

NodeId Compiler::node(NodeKind kind, const std::string& key, const std::string& label,
                      uint32_t module, Span span, const std::vector<NodeId>& inputs) {
  auto found = by_key_.find(key);
  if (found != by_key_.end()) {
    ++p_.graph[found->second].uses;
    return found->second;
  }
  NodeId n = boost::add_vertex(p_.graph);
  GraphNode& g = p_.graph[n];
  g.kind = kind;
  g.key = key;
  g.label = label;
  g.module = module;
  g.span = span;
  g.uses = 1;
  for (NodeId input : inputs) boost::add_edge(input, n, p_.graph);
  by_key_.emplace(key, n);
  if (is_expression(kind)) ++p_.expressions_compiled;
  return n;
}

// The expression nodes this expression stands for as written, lets expanded.
size_t Compiler::written_size(uint32_t m, ExprId id) {
  const Expr& e = modules_[m].expr(id);
  const ExprInfo& info = checked_.exprs[m][id];
  if (e.kind == ExprKind::Paren) return written_size(m, e.lhs);
  if (e.kind == ExprKind::Name && info.name == NameKind::Let) {
    auto [it, fresh] = let_sizes_[m].emplace(info.target, 0);
    if (fresh) it->second = written_size(m, modules_[m].items[info.target].expr);
    return it->second;
  }
  size_t n = 1;
  for (ExprId child : {e.lhs, e.rhs}) {
    if (child != kNoExpr) n += written_size(m, child);
  }
  for (ExprId a : e.args) n += written_size(m, a);
  return n;
}

// `baseline_of` is the node a `baseline` inside this expression stands for. The first
// expression that makes a node is kept on it, so the evaluator can read its parameters.
NodeId Compiler::expr(uint32_t m, ExprId id, NodeId baseline_of) {
  NodeId n = expr_node(m, id, baseline_of);
  if (n != kNoNode && p_.graph[n].expr == kNoExpr) p_.graph[n].expr = id;
  return n;
}

NodeId Compiler::expr_node(uint32_t m, ExprId id, NodeId baseline_of) {
  const Module& mod = modules_[m];
  const Expr& e = mod.expr(id);
  const ExprInfo& info = checked_.exprs[m][id];
  switch (e.kind) {
    case ExprKind::Paren:
      return expr(m, e.lhs, baseline_of);
    case ExprKind::Number: {
      NodeId n =
          node(NodeKind::Number, "num " + number_key(e.number), std::string(e.text), m, e.span, {});
      p_.graph[n].value = e.number;
      return n;
    }
    case ExprKind::String:
      return node(NodeKind::String, "str " + e.string_value, std::string(e.text), m, e.span, {});
    case ExprKind::Name:
      if (info.name == NameKind::Let) {
        auto [it, fresh] = let_nodes_[m].emplace(info.target, kNoNode);
        if (fresh) {
          const Item& let = mod.items[info.target];
          it->second = expr(m, let.expr);
          std::vector<std::string>& names = p_.graph[it->second].names;
          if (std::find(names.begin(), names.end(), let.name.text) == names.end()) {
            names.emplace_back(let.name.text);
          }
        } else {
          ++p_.graph[it->second].uses;
        }
        return it->second;
      }
      if (info.name == NameKind::Knob) {
        return node(NodeKind::KnobValue, "knobvalue " + std::string(e.text), std::string(e.text), m,
                    e.span, {});
      }
      return node(NodeKind::Selector, "sel " + std::string(e.text), std::string(e.text), m, e.span,
                  {});
    case ExprKind::Selector: {
      std::string metric(e.text);
      std::vector<std::string> matchers;
      for (const Matcher& mt : e.matchers) {
        if (mt.label == "__name__" && mt.op == MatchOp::Equal && metric.empty()) {
          metric = mt.value;
          continue;
        }
        static const char* const ops[] = {"=", "!=", "=~", "!~"};
        matchers.push_back(std::string(mt.label) + ops[static_cast<size_t>(mt.op)] + "\"" +
                           mt.value + "\"");
      }
      std::sort(matchers.begin(), matchers.end());
      std::string label = metric + "{";
      for (size_t i = 0; i < matchers.size(); ++i) label += (i ? ", " : "") + matchers[i];
      label += "}";
      if (matchers.empty()) label = metric;
      return node(NodeKind::Selector, "sel " + label, label, m, e.span, {});
    }
    case ExprKind::Range: {
      NodeId in = expr(m, e.lhs, baseline_of);
      return node(NodeKind::Range, "range " + number_key(e.number) + " " + ref(in),
                  "[" + std::string(e.duration_text) + "]", m, e.span, {in});
    }
    case ExprKind::Subquery: {
      NodeId in = expr(m, e.lhs, baseline_of);
      return node(NodeKind::Subquery,
                  "subquery " + number_key(e.number) + ":" + number_key(e.step) + " " + ref(in),
                  "[" + std::string(e.duration_text) + ":" + std::string(e.step_text) + "]", m,
                  e.span, {in});
    }
    case ExprKind::Offset: {
      NodeId in = expr(m, e.lhs, baseline_of);
      return node(NodeKind::Offset, "offset " + number_key(e.number) + " " + ref(in),
                  "offset " + std::string(e.number < 0 ? "-" : "") + std::string(e.duration_text),
                  m, e.span, {in});
    }
    case ExprKind::Call:
    case ExprKind::Aggregate: {
      std::vector<NodeId> inputs;
      std::string key = (e.kind == ExprKind::Call ? "call " : "agg ") + std::string(e.text);
      std::string label(e.text);
      if (e.grouping == Grouping::By || e.grouping == Grouping::Without) {
        std::string grouping =
            (e.grouping == Grouping::By ? " by " : " without ") + sorted_labels(e.grouping_labels);
        key += grouping;
        label += grouping;
      }
      for (ExprId a : e.args) {
        inputs.push_back(expr(m, a, baseline_of));
        key += " " + ref(inputs.back());
      }
      return node(e.kind == ExprKind::Call ? NodeKind::Function : NodeKind::Aggregation, key, label,
                  m, e.span, inputs);
    }
    case ExprKind::Unary: {
      NodeId in = expr(m, e.lhs, baseline_of);
      if (e.op == BinaryOp::Add) return in;
      return node(NodeKind::Unary, "neg " + ref(in), "-", m, e.span, {in});
    }
    case ExprKind::Binary: {
      // In a comparison, a `baseline` on one side stands for the other side before the action.
      NodeId l, r;
      if (is_comparison(e.op)) {
        if (contains_baseline(mod, e.lhs)) {
          r = expr(m, e.rhs);
          l = expr(m, e.lhs, r);
        } else {
          l = expr(m, e.lhs);
          r = expr(m, e.rhs, l);
        }
      } else {
        l = expr(m, e.lhs, baseline_of);
        r = expr(m, e.rhs, baseline_of);
      }
      std::string op = binary_op_text(e.op);
      if (e.bool_modifier) op += " bool";
      if (e.grouping == Grouping::On || e.grouping == Grouping::Ignoring) {
        op +=
            (e.grouping == Grouping::On ? " on " : " ignoring ") + sorted_labels(e.grouping_labels);
      }
      if (e.group_side != GroupSide::None) {
        op += (e.group_side == GroupSide::Left ? " group_left " : " group_right ") +
              sorted_labels(e.include_labels);
      }
      return node(NodeKind::Binary, "bin " + op + " " + ref(l) + " " + ref(r), op, m, e.span,
                  {l, r});
    }
    case ExprKind::Baseline:
      return node(NodeKind::Baseline, "baseline " + ref(baseline_of), "baseline", m, e.span,
                  {baseline_of});
  }
  return kNoNode;
}

// Orders policies by `after`, reporting each cycle once with its whole path.
void Compiler::order_policies() {
  enum class Mark : uint8_t { New, Open, Done };
  std::vector<Mark> mark(p_.policies.size(), Mark::New);
  std::vector<size_t> path;
  std::function<void(size_t)> visit = [&](size_t i) {
    mark[i] = Mark::Open;
    path.push_back(i);
    PolicyPlan& plan = p_.policies[i];
    const Item& item = modules_[plan.module].items[plan.item];
    std::vector<size_t> kept;
    for (const Clause& c : item.clauses) {
      if (c.kind != ClauseKind::After) continue;
      for (const Name& ref : c.names) {
        size_t j = policy_index_.at(std::string(ref.text));
        if (mark[j] == Mark::Open) {
          // path[start..] each wait for the next; this policy waits for path[start]: a cycle.
          size_t start = std::find(path.begin(), path.end(), j) - path.begin();
          std::string text;
          for (size_t k = start; k < path.size(); ++k)
            text += p_.policies[path[k]].name + " after ";
          text += p_.policies[j].name;
          Diagnostic& d = diags_.add(Code::AfterCycle, modules_[plan.module].file.get(), ref.span,
                                     "policies wait for each other in a cycle: " + text,
                                     "remove one `after` from the cycle");
          for (size_t k = start; k + 1 < path.size(); ++k) {
            const PolicyPlan& waits = p_.policies[path[k]];
            const std::string& on = p_.policies[path[k + 1]].name;
            for (const Clause& sc : modules_[waits.module].items[waits.item].clauses) {
              if (sc.kind != ClauseKind::After) continue;
              for (const Name& sref : sc.names) {
                if (sref.text == on) {
                  d.notes.push_back({modules_[waits.module].file.get(), sref.span,
                                     "'" + waits.name + "' waits for '" + on + "' here"});
                }
              }
            }
          }
          continue;  // the edge that closes the cycle is left out of the graph
        }
        if (mark[j] == Mark::New) visit(j);
        kept.push_back(j);
      }
    }
    plan.after = kept;
    for (size_t j : kept) boost::add_edge(p_.policies[j].node, plan.node, p_.graph);
    path.pop_back();
    mark[i] = Mark::Done;
  };
  for (size_t i = 0; i < p_.policies.size(); ++i) {
    if (mark[i] == Mark::New) visit(i);
  }
}

Program Compiler::run() {
  // Policies first, so `after` can refer to any of them.
  for (uint32_t m = 0; m < modules_.size(); ++m) {
    const Module& mod = modules_[m];
    for (uint32_t i = 0; i < mod.items.size(); ++i) {
      const Item& it = mod.items[i];
      if (it.kind != ItemKind::Policy && it.kind != ItemKind::Emergency) continue;
      PolicyPlan plan;
      plan.name = std::string(it.name.text);
      plan.emergency = it.kind == ItemKind::Emergency;
      plan.module = m;
      plan.item = i;
      for (const Clause& c : it.clauses) {
        if (c.kind == ClauseKind::Priority) plan.priority = static_cast<int>(c.number);
      }
      policy_index_.emplace(plan.name, p_.policies.size());
      p_.policies.push_back(plan);
    }
  }
  for (PolicyPlan& plan : p_.policies) {
    const Module& mod = modules_[plan.module];
    const Item& it = mod.items[plan.item];
    const Item* defaults = nullptr;
    for (const Item& candidate : mod.items) {
      if (candidate.kind == ItemKind::Defaults) defaults = &candidate;
    }
    std::vector<NodeId> inputs;
    auto clauses = it.clauses;
    if (defaults && !plan.emergency) {
      for (const Clause& c : defaults->clauses) {
        if (c.kind == ClauseKind::Rollback) clauses.push_back(c);
      }
    }
    std::vector<std::pair<const Clause*, NodeId>> actions;
    for (const Clause& c : clauses) {
      switch (c.kind) {
        case ClauseKind::Trigger: {
          p_.expressions_written += written_size(plan.module, c.expr);
          NodeId e = expr(plan.module, c.expr);
          std::string hold = c.duration.present ? std::string(c.duration.text) : "0s";
          plan.trigger =
              node(NodeKind::Trigger, "trigger " + number_key(c.duration.seconds) + " " + ref(e),
                   "trigger for " + hold, plan.module, c.span, {e});
          inputs.push_back(plan.trigger);
          break;
        }
        case ClauseKind::When: {
          p_.expressions_written += written_size(plan.module, c.expr);
          NodeId e = expr(plan.module, c.expr);
          plan.when = node(NodeKind::Condition, "when " + ref(e), "when", plan.module, c.span, {e});
          inputs.push_back(plan.when);
          break;
        }
        case ClauseKind::Expect: {
          p_.expressions_written += written_size(plan.module, c.expr);
          NodeId e = expr(plan.module, c.expr);
          std::string what =
              std::string(c.direction == Direction::Decreases ? "decreases" : "increases") +
              " by " + std::string(c.number_text) + " within " + std::string(c.duration.text);
          NodeId x = node(NodeKind::Expectation,
                          "expect " + what + " " + number_key(c.number) + " " +
                              number_key(c.duration.seconds) + " " + ref(e),
                          "expect " + what, plan.module, c.span, {e});
          plan.expectations.push_back(x);
          inputs.push_back(x);
          break;
        }
        case ClauseKind::Rollback: {
          // A default's clause belongs to the defaults block's module, which is this one.
          p_.expressions_written += written_size(plan.module, c.expr);
          NodeId e = expr(plan.module, c.expr);
          NodeId r = node(NodeKind::Rollback, "rollback " + ref(e), "rollback when", plan.module,
                          c.span, {e});
          plan.rollbacks.push_back(r);
          inputs.push_back(r);
          break;
        }
        case ClauseKind::Action:
          actions.emplace_back(&c, kNoNode);
          if (c.expr != kNoExpr) {
            p_.expressions_written += written_size(plan.module, c.expr);
            actions.back().second = expr(plan.module, c.expr);
          }
          break;
        default:
          break;
      }
    }
    plan.node = node(plan.emergency ? NodeKind::Emergency : NodeKind::Policy, "policy " + plan.name,
                     plan.name, plan.module, it.name.span, inputs);
    p_.graph[plan.node].names.push_back(plan.name);
    for (size_t k = 0; k < actions.size(); ++k) {
      const Clause& c = *actions[k].first;
      std::vector<NodeId> action_inputs{plan.node};
      if (actions[k].second != kNoNode) action_inputs.push_back(actions[k].second);
      std::string label;
      switch (c.action) {
        case ActionKind::Set:
          label = "set " + std::string(c.name.text);
          break;
        case ActionKind::Run:
          label = "run " + std::string(c.name.text);
          break;
        case ActionKind::Notify:
          label = "notify";
          break;
        case ActionKind::RollbackAll:
          label = "rollback all since " + std::string(c.duration.text);
          break;
      }
      NodeId a = node(NodeKind::Action, "action " + plan.name + " " + std::to_string(k), label,
                      plan.module, c.span, action_inputs);
      plan.actions.push_back(a);
      if (c.action == ActionKind::Set) {
        NodeId knob = node(NodeKind::Knob, "knob " + std::string(c.name.text),
                           std::string(c.name.text), plan.module, c.name.span, {});
        boost::add_edge(a, knob, p_.graph);
      }
    }
  }
  order_policies();
  order_nodes();
  return std::move(p_);
}

void Compiler::order_nodes() {
  // Kahn's algorithm, always taking the lowest ready id: inputs are made before their
  // consumers, so this is creation order except where `after` reorders policies, and the same
  // on every run.
  std::vector<size_t> waiting(boost::num_vertices(p_.graph));
  std::priority_queue<NodeId, std::vector<NodeId>, std::greater<NodeId>> ready;
  for (NodeId n = 0; n < waiting.size(); ++n) {
    waiting[n] = boost::in_degree(n, p_.graph);
    if (waiting[n] == 0) ready.push(n);
  }
  while (!ready.empty()) {
    NodeId n = ready.top();
    ready.pop();
    p_.order.push_back(n);
    for (auto [e, end] = boost::out_edges(n, p_.graph); e != end; ++e) {
      NodeId next = boost::target(*e, p_.graph);
      if (--waiting[next] == 0) ready.push(next);
    }
  }
}

}  // namespace

Program compile_expression(const std::vector<Module>& modules, const CheckedProgram& checked,
                           uint32_t module, ExprId expr, NodeId* root, Diagnostics& diagnostics) {
  return Compiler(modules, checked, diagnostics).run_expression(module, expr, root);
}

Program compile_program(const std::vector<Module>& modules, const CheckedProgram& checked,
                        Diagnostics& diagnostics) {
  return Compiler(modules, checked, diagnostics).run();
}

}  // namespace setpoint
