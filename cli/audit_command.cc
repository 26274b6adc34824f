// `setpoint audit verify`: walks the hash chain of a state store's audit log and prints the
// last hash, which can be kept elsewhere to anchor the log against a rewrite of its tail.
#include <iostream>

#include "cli/commands.h"
#include "runtime/state_store.h"

namespace setpoint {

int run_audit_verify(const AuditCommand& cmd) {
  std::string error;
  AuditVerdict verdict = verify_audit(cmd.state_file, error);
  if (!error.empty()) {
    std::cerr << "setpoint: " << error << "\n";
    return 2;
  }
  if (!verdict.ok) {
    std::cout << "audit log broken at record " << verdict.bad_seq << ": " << verdict.reason << "\n";
    return 1;
  }
  std::cout << "audit log ok: " << verdict.records
            << (verdict.records == 1 ? " record" : " records") << ", last hash "
            << verdict.last_hash << "\n";
  return 0;
}

}  // namespace setpoint
