// Counting events per policy, and the summary table. See run_summary.h.
#include "runtime/run_summary.h"

#include <cstdio>

namespace setpoint {
namespace {

// "1 recovered, 1 not recovered, 2 unknown" (the counts that are not 0), or "" when all are.
std::string recovery_note(const PolicyCounts& s) {
  std::string out;
  auto part = [&](size_t n, const char* what) {
    if (n > 0) out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  part(s.recovered, "recovered");
  part(s.not_recovered, "not recovered");
  part(s.recovery_unknown, "unknown");
  return out;
}

}  // namespace

RunSummary::RunSummary(const std::vector<std::string>& policies) {
  for (const std::string& p : policies) policies_[p];
}

void RunSummary::count(const Event& e) {
  if (!last_ || e.policy != last_policy_) {
    last_ = &policies_[e.policy];  // map nodes stay where they are
    last_policy_ = e.policy;
  }
  PolicyCounts& s = *last_;
  switch (e.kind) {
    case EventKind::Firing:
      ++s.fired;
      break;
    case EventKind::Applied:
      ++s.applied;
      break;
    case EventKind::Proposed:
    case EventKind::WouldApply:
      ++s.proposed;
      break;
    case EventKind::Confirmed:
      ++s.confirmed;
      break;
    case EventKind::Inconclusive:
      ++s.inconclusive;
      break;
    case EventKind::Regressed:
      ++s.regressed;
      break;
    case EventKind::RolledBack:
      ++s.rolled_back;
      break;
    case EventKind::ActionFailed:
      ++s.failed;
      break;
    case EventKind::Skipped:
      ++s.skipped[e.reason];
      break;
    case EventKind::Recovered:
      ++s.recovered;
      break;
    case EventKind::NotRecovered:
      ++s.not_recovered;
      break;
    case EventKind::RecoveryUnknown:
      ++s.recovery_unknown;
      break;
    default:
      break;
  }
}

std::string RunSummary::text() const {
  std::string out =
      "policy                          fired  applied  proposed  confirmed  "
      "inconclusive  regressed  rolled_back\n";
  for (const auto& [name, s] : policies_) {
    char line[256];
    std::snprintf(line, sizeof line, "%-30s %6zu %8zu %9zu %10zu %13zu %10zu %12zu\n", name.c_str(),
                  s.fired, s.applied, s.proposed, s.confirmed, s.inconclusive, s.regressed,
                  s.rolled_back);
    out += line;
    if (s.failed > 0)
      out +=
          "    failed " + std::to_string(s.failed) + "x: the actuator could not apply the change\n";
    // A note, not a column: most runs have no rollback, and the table keeps its shape.
    if (std::string note = recovery_note(s); !note.empty())
      out += "    after rollbacks: " + note + "\n";
    for (const auto& [reason, n] : s.skipped) {
      out += "    skipped " + std::to_string(n) + "x: " + reason + "\n";
    }
  }
  return out;
}

ReportTable RunSummary::table() const {
  ReportTable table;
  table.columns = {"policy",       "fired",     "applied",     "proposed", "confirmed",
                   "inconclusive", "regressed", "rolled_back", "skipped"};
  for (const auto& [name, s] : policies_) {
    std::string skipped;
    if (s.failed > 0) skipped = std::to_string(s.failed) + "x: the actuator failed";
    if (std::string note = recovery_note(s); !note.empty())
      skipped += (skipped.empty() ? "" : "; ") + std::string("after rollbacks: ") + note;
    for (const auto& [reason, n] : s.skipped) {
      skipped += (skipped.empty() ? "" : "; ") + std::to_string(n) + "x: " + reason;
    }
    table.rows.push_back({name, std::to_string(s.fired), std::to_string(s.applied),
                          std::to_string(s.proposed), std::to_string(s.confirmed),
                          std::to_string(s.inconclusive), std::to_string(s.regressed),
                          std::to_string(s.rolled_back), skipped});
  }
  return table;
}

}  // namespace setpoint
