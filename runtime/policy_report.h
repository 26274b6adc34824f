// The charts of an HTML report as the policies saw them: which expressions the policies use
// (from the compiled graph), their values at every evaluation, and the events to mark on them.
// `simulate` samples them as it replays; the daemon samples them over its window store at exit.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "interpreter/evaluator.h"
#include "runtime/policy_loader.h"
#include "runtime/report.h"

namespace setpoint {

// The report's charts while the replay runs: which expressions the policies use (gathered from
// the compiled graph, one chart per node however many policies share it), and their values at
// every step, as the policies saw them (after the effect model).
class PolicyReport {
 public:
  static constexpr size_t kMaxEvents = 10'000;    // kept for markers and the events table
  static constexpr size_t kMaxLeftOut = 100'000;  // left-out label sets counted per chart

  // knob_value: the knob values the charts see (the engine's, as it goes).
  PolicyReport(const PolicySet& set, const WindowStore& store,
               std::function<std::optional<double>(std::string_view)> knob_value,
               const EvalOptions& options, int64_t from_ms, int64_t to_ms);

  // Evaluates every chart's expression at t (after the engine's evaluation at t).
  void sample(int64_t t_ms);

  void event(const Event& e);

  ReportInput finish(std::string title, std::vector<std::string> notes, ReportTable summary);

 private:
  struct Series {
    ReportSeriesBuilder points;
    bool seen = false;
  };
  struct Chart {
    NodeId node = kNoNode;
    ReportChart chart;
    std::map<std::string, Series> series;  // by label set, so the legend is sorted
    std::set<std::string> left_out;
  };

  NodeId only_input(NodeId n) const;

  bool has_baseline(NodeId n);

  // The expression as written where it first appears, on one line.
  std::string text(NodeId n) const;
  std::string text(size_t module, Span span) const;

  const Expr* expr(NodeId n) const;

  // A condition's charts: each side of a comparison that is neither a constant (that is the
  // threshold) nor measured against a baseline; both sides of `and`, `or`, `unless`.
  void condition(NodeId n, const std::string& policy, const std::string& clause);

  // The chart of node n, made the first time; `use` says where the policy uses it.
  Chart& chart(NodeId n, const std::string& policy, const std::string& use);

  void add(Chart& c, const std::string& labels, int64_t t_ms, double value);

  const PolicySet& set_;
  Evaluator evaluator_;
  int64_t from_ms_, to_ms_;
  std::vector<int8_t> has_baseline_;  // by node: -1 not yet known
  std::vector<Chart> charts_;
  std::map<NodeId, size_t> index_;
  std::vector<Event> events_;
  size_t events_left_out_ = 0;
};

}  // namespace setpoint
