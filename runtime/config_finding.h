// A finding about the daemon's config, in the config or in a policy file: shown like a policy
// Diagnostic (location, line, caret, hint) but without a code, since the catalogue's codes are
// the policy language's, each triggered by a policy file alone, and these need a config too.
// `setpoint check --config` reports them; `setpoint run` refuses to start or reload on one.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"
#include "runtime/daemon_config.h"
#include "runtime/policy_loader.h"

namespace setpoint {

struct ConfigFinding {
  Severity severity = Severity::Error;
  std::shared_ptr<const SourceFile> file;  // null when there is no line to show (a default)
  std::string path;                        // the file, when `file` is null
  Span span;
  std::string message;
  std::string hint;
};

ConfigFinding at_policy(const Module& m, Span span, std::string message, std::string hint);

// As render_text() draws a Diagnostic: location, severity, message, the line with a caret
// under the span, the hint; each line ends in a newline.
std::string render_finding(const ConfigFinding& f, bool color);

// "2h5m", "90s": a duration as the policy language writes one.
std::string duration_words(double seconds);

// A `retention` set shorter than the longest range, offset or `within` of the policies, at the
// expression that reads furthest back; none when retention is unset (the daemon then keeps
// what the policies read). `shown` names the config file in the message.
std::optional<ConfigFinding> retention_finding(const DaemonConfig& config, const std::string& shown,
                                               const PolicySet& set);

}  // namespace setpoint
