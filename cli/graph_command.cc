// `setpoint graph`: the compiled dependency graph, as text, JSON, or DOT for Graphviz.
#include <unistd.h>

#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "interpreter/program.h"
#include "runtime/policy_loader.h"

namespace setpoint {
namespace {

// In the order they were added: operands left to right.
std::vector<NodeId> inputs_of(const Program& p, NodeId n) {
  std::vector<NodeId> out;
  for (auto [e, end] = boost::in_edges(n, p.graph); e != end; ++e)
    out.push_back(boost::source(*e, p.graph));
  return out;
}

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

const char* dot_shape(NodeKind kind) {
  switch (kind) {
    case NodeKind::Selector:
    case NodeKind::KnobValue:
      return "ellipse";
    case NodeKind::Trigger:
    case NodeKind::Condition:
    case NodeKind::Expectation:
    case NodeKind::Rollback:
      return "diamond";
    case NodeKind::Policy:
    case NodeKind::Emergency:
      return "box3d";
    case NodeKind::Action:
      return "box";
    case NodeKind::Knob:
      return "cylinder";
    default:
      return "plaintext";
  }
}

std::string display(const GraphNode& g) {
  std::string s = g.label;
  if (!g.names.empty() && (is_expression(g.kind))) {
    s += "  (";
    for (size_t i = 0; i < g.names.size(); ++i) s += (i ? ", " : "") + g.names[i];
    s += ")";
  }
  return s;
}

void print_text(const Program& p) {
  for (NodeId n : p.order) {
    const GraphNode& g = p.graph[n];
    std::string line = "n" + std::to_string(n);
    line.resize(6, ' ');
    std::string kind = node_kind_name(g.kind);
    kind.resize(12, ' ');
    line += kind + display(g);
    std::vector<NodeId> in = inputs_of(p, n);
    if (!in.empty()) {
      line += "  <-";
      for (NodeId i : in) line += " n" + std::to_string(i);
    }
    if (g.uses > 1) line += "  (used " + std::to_string(g.uses) + " times)";
    std::cout << line << "\n";
  }
}

void print_dot(const Program& p) {
  std::cout << "digraph setpoint {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n";
  for (NodeId n : p.order) {
    const GraphNode& g = p.graph[n];
    std::cout << "  n" << n << " [label=\"" << dot_escape(display(g))
              << "\", shape=" << dot_shape(g.kind) << "];\n";
  }
  for (NodeId n : p.order) {
    for (NodeId i : inputs_of(p, n)) std::cout << "  n" << i << " -> n" << n << ";\n";
  }
  std::cout << "}\n";
}

void print_json(const Program& p, bool stats) {
  nlohmann::json nodes = nlohmann::json::array();
  for (NodeId n : p.order) {
    const GraphNode& g = p.graph[n];
    nlohmann::json inputs = nlohmann::json::array();
    for (NodeId i : inputs_of(p, n)) inputs.push_back(i);
    nodes.push_back({{"id", n},
                     {"kind", node_kind_name(g.kind)},
                     {"label", g.label},
                     {"names", g.names},
                     {"inputs", inputs},
                     {"uses", g.uses}});
  }
  nlohmann::json policies = nlohmann::json::array();
  for (const PolicyPlan& plan : p.policies) {
    nlohmann::json after = nlohmann::json::array();
    for (size_t j : plan.after) after.push_back(p.policies[j].name);
    policies.push_back({{"name", plan.name},
                        {"emergency", plan.emergency},
                        {"node", plan.node},
                        {"after", after}});
  }
  nlohmann::json exclusions = nlohmann::json::array();
  for (auto [i, j] : p.validation_exclusions) {
    exclusions.push_back({p.policies[i].name, p.policies[j].name});
  }
  nlohmann::json out = {
      {"nodes", nodes}, {"policies", policies}, {"validation_exclusions", exclusions}};
  if (stats) {
    out["stats"] = {{"nodes", boost::num_vertices(p.graph)},
                    {"edges", boost::num_edges(p.graph)},
                    {"expressions_written", p.expressions_written},
                    {"expressions_compiled", p.expressions_compiled}};
  }
  std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void print_stats(const Program& p) {
  std::map<std::string, size_t> by_kind;
  for (NodeId n : p.order) ++by_kind[node_kind_name(p.graph[n].kind)];
  std::cout << boost::num_vertices(p.graph) << " nodes, " << boost::num_edges(p.graph)
            << " edges\n";
  for (const auto& [kind, count] : by_kind) std::cout << "  " << kind << ": " << count << "\n";
  size_t written = p.expressions_written, compiled = p.expressions_compiled;
  size_t saved = written > compiled ? written - compiled : 0;
  std::cout << "expressions: " << written << " written, " << compiled << " compiled; sharing saves "
            << saved << " (" << (written ? saved * 100 / written : 0) << "%)\n";
  if (!p.validation_exclusions.empty()) {
    std::cout << "validated apart (their expectations read a metric in common):\n";
    for (auto [a, b] : p.validation_exclusions) {
      std::cout << "  " << p.policies[a].name << " / " << p.policies[b].name << "\n";
    }
  }
}

}  // namespace

int run_graph(const GraphCommand& cmd) {
  PolicySet set;
  if (int status = load_error_free(cmd.paths, set)) return status;
  const Program& program = set.compiled;  // an error-free set is always compiled
  if (cmd.format == "json") {
    print_json(program, cmd.stats);
  } else if (cmd.format == "dot") {
    print_dot(program);
  } else if (!cmd.stats) {
    print_text(program);
  }
  if (cmd.stats && cmd.format != "json") print_stats(program);
  return 0;
}

}  // namespace setpoint
