// Whether two policies of a compiled set can act at the same time. Decided soundly, never
// guessed: they are apart only when their conditions provably exclude each other, or their
// `during` windows never overlap.
#pragma once

#include <bitset>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "interpreter/program.h"

namespace setpoint {

// What keeps two policies apart: the widest gap between a comparison of each (`cpu > 80%` and
// `cpu < 60%` are 0.2 apart, `cpu > 80%` and `cpu <= 80%` only touch: 0), with those two
// comparison nodes; or `during` windows that never overlap (an infinite gap, no nodes).
struct Separation {
  double gap = std::numeric_limits<double>::infinity();
  NodeId x = kNoNode, y = kNoNode;
};

class Exclusivity {
 public:
  Exclusivity(const std::vector<Module>& modules, const Program& program);

  // What keeps policies a and b (indices into program.policies) apart; nullopt when they may
  // act at the same time. With `single_series` false, comparisons of expressions with several
  // series count too: they prove nothing, but show what the conditions were meant to exclude.
  std::optional<Separation> separation(size_t a, size_t b, bool single_series = true);

  // The expression a comparison node of a Separation compares with a constant: `cpu` in
  // `cpu > 80%`.
  NodeId subject(NodeId comparison) const;

 private:
  struct Interval {
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    bool lo_open = false, hi_open = false;
  };
  // A comparison of an expression with a constant: `cpu > 80%` puts cpu in (0.8, inf).
  struct Atom {
    NodeId subject = kNoNode;
    Interval range;
    bool single = false;  // the subject has at most one series
  };
  struct Window {
    std::bitset<7 * 1440> minutes;  // of the week, from Monday 00:00, in `zone`
    std::string zone;
  };

  std::optional<Atom> make_atom(NodeId n) const;
  std::vector<NodeId> conditions(size_t policy) const;
  std::optional<Separation> between(std::vector<NodeId> xs, std::vector<NodeId> ys,
                                    bool single_series);
  const std::optional<Window>& window(size_t policy);

  const std::vector<Module>& modules_;
  const Program& p_;
  // [node] the labels by which its series may differ; nullopt when any label may.
  std::vector<std::optional<std::set<std::string>>> varying_;
  std::vector<std::optional<Atom>> atoms_;           // [node] when it is a comparison
  std::map<size_t, std::optional<Window>> windows_;  // [policy] its `during`, when it has one
  size_t steps_ = 0;
};

}  // namespace setpoint
