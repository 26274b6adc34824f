// What each policy did over a replay or a daemon run, counted from the engine's events: the
// table `simulate` and `run` print at the end and put at the top of their reports.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "interpreter/engine_event.h"
#include "runtime/report.h"

namespace setpoint {

struct PolicyCounts {
  size_t fired = 0, applied = 0, proposed = 0, confirmed = 0, inconclusive = 0, regressed = 0,
         rolled_back = 0, failed = 0;
  // Recovery checks after rollbacks, one per `expect` (docs/validation.md, "After a rollback").
  size_t recovered = 0, not_recovered = 0, recovery_unknown = 0;
  std::map<std::string, size_t> skipped;  // by reason
};

class RunSummary {
 public:
  // Every policy gets a row, also one that never did anything.
  explicit RunSummary(const std::vector<std::string>& policies);
  void count(const Event& e);
  // The table as text, one line a policy, skip reasons under it.
  std::string text() const;
  ReportTable table() const;
  const std::map<std::string, PolicyCounts>& policies() const { return policies_; }

 private:
  std::map<std::string, PolicyCounts> policies_;
  // Events come policy by policy: the last row counted is usually the next one's too.
  std::string last_policy_;
  PolicyCounts* last_ = nullptr;
};

}  // namespace setpoint
