// The compiled form of a checked policy set: one dependency graph (Boost.Graph) whose nodes are
// expressions, conditions, policies, actions and knobs, with edges from each input to the node
// that consumes it. Identical subexpressions, after normalisation, are one node shared by every
// policy that uses them, so each is computed once per evaluation.
#pragma once

#include <boost/graph/adjacency_list.hpp>
#include <optional>
#include <string>
#include <vector>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"
#include "interpreter/checker.h"

namespace setpoint {

enum class NodeKind : uint8_t {
  Number,
  String,
  Selector,     // a metric and its label matchers
  Range,        // input[5m]
  Subquery,     // input[30m:1m]
  Offset,       // input offset 5m
  Function,     // rate(...), clamp(...)
  Aggregation,  // sum by (job) (...)
  Unary,        // -input
  Binary,       // a + b, a > b, a and b
  KnobValue,    // the current value of a knob, read in an expression
  Baseline,     // the value of an expression before the action
  Trigger,      // a trigger condition with its hold
  Condition,    // a `when` condition
  Expectation,  // expect ... decreases by ... within ...
  Rollback,     // a rollback condition
  Policy,
  Emergency,
  Action,
  Knob,  // a knob that actions set
};
const char* node_kind_name(NodeKind kind);
bool is_expression(NodeKind kind);

struct GraphNode {
  NodeKind kind = NodeKind::Number;
  std::string label;               // short, for display
  std::string key;                 // canonical form: equal keys are one node
  std::vector<std::string> names;  // lets, policies or knobs that name this node
  uint32_t module = 0;             // where it first appears
  Span span;
  uint32_t uses = 0;      // how many places in the policies compile to this node
  double value = 0;       // Number: its value in base units
  ExprId expr = kNoExpr;  // expression nodes: the first expression (in `module`) that made it
};

using DependencyGraph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, GraphNode>;
using NodeId = DependencyGraph::vertex_descriptor;
inline constexpr NodeId kNoNode = static_cast<NodeId>(-1);

struct PolicyPlan {
  std::string name;
  bool emergency = false;
  uint32_t module = 0;
  uint32_t item = 0;
  NodeId node = kNoNode;
  NodeId trigger = kNoNode;
  NodeId when = kNoNode;
  std::vector<NodeId> actions;
  std::vector<NodeId> expectations;
  std::vector<NodeId> rollbacks;  // its own and its file's defaults
  std::vector<size_t> after;      // indices of the policies it is ordered after
  int priority = 0;
};

struct Program {
  DependencyGraph graph;
  std::vector<PolicyPlan> policies;
  std::vector<NodeId> order;  // topological: every input before its consumers
  // Expression nodes as written (each use of a let counts its whole expression), against the
  // expression nodes in the graph: what sharing saves.
  size_t expressions_written = 0;
  size_t expressions_compiled = 0;
  // Pairs of policies (indices, first < second) whose expected effects read a metric in
  // common: the engine must not validate them at the same time.
  std::vector<std::pair<size_t, size_t>> validation_exclusions;
};

// A node's inputs, in operand order.
std::vector<NodeId> node_inputs(const Program& program, NodeId n);
// The value of a number node, or of the negation of one (`-8`); nullopt for anything else.
std::optional<double> constant_value(const Program& program, NodeId n);

// Compiles a policy set that checked without errors. Reports cycles in `after` (E0212).
Program compile_program(const std::vector<Module>& modules, const CheckedProgram& checked,
                        Diagnostics& diagnostics);

// Compiles one expression of a checked module on its own, as `setpoint eval` does; *root is
// its node.
Program compile_expression(const std::vector<Module>& modules, const CheckedProgram& checked,
                           uint32_t module, ExprId expr, NodeId* root, Diagnostics& diagnostics);

// Static analysis of a compiled set: knob conflicts (W0701), flapping pairs (W0702), equal
// priorities on one knob (W0703); records validation exclusions in the program.
void analyze_program(const std::vector<Module>& modules, Program& program,
                     Diagnostics& diagnostics);

}  // namespace setpoint
