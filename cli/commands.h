// The `setpoint` subcommands. Each returns the process exit status:
// 0 success, 1 findings (errors in policies, files that need formatting), 2 usage or I/O errors.
#pragma once

#include <string>
#include <vector>

namespace setpoint {

struct CheckCommand {
  std::vector<std::string> paths;
  std::string config;  // a daemon config (setpoint.toml): checked with the policies it names
  std::string format = "text";  // text | json
};
int run_check(const CheckCommand& cmd);

struct FmtCommand {
  std::vector<std::string> paths;  // "-" formats standard input to standard output
  bool check = false;              // list files that would change, exit 1 if any
  bool diff = false;               // print unified diffs instead of writing
};
int run_fmt(const FmtCommand& cmd);

struct ListCommand {
  std::vector<std::string> paths;
};
int run_list(const ListCommand& cmd);

struct GraphCommand {
  std::vector<std::string> paths;
  std::string format = "text";  // text | json | dot
  bool stats = false;           // node counts and what sharing saved
};
int run_graph(const GraphCommand& cmd);

struct EvalCommand {
  std::string metrics;           // a recorded metrics file
  std::string metrics_format;    // empty: from the file's extension and content
  std::string at;                // an instant query at this time (default: the newest sample)
  std::string start, end, step;  // or a range query
  std::string format = "text";   // text | json
  std::string expression;
};
int run_eval(const EvalCommand& cmd);

struct SimulateCommand {
  std::vector<std::string> policies;
  std::string metrics;
  std::string from, to;  // default: the recording's first and last sample
  std::string step = "15s";
  bool step_given = false;         // --step on the command line (else a run recording's times rule)
  std::vector<std::string> knobs;  // NAME=VALUE: knob values at the start
  std::string effects;             // an effect model (TOML), or empty
  std::string format = "text";     // text | json
  std::string report;              // write a self-contained HTML report here, or empty
};
int run_simulate(const SimulateCommand& cmd);

struct TestCommand {
  std::vector<std::string> paths;  // test files, or directories searched for *test*.toml
};
int run_test(const TestCommand& cmd);

// Loads a policy set for a command that needs it free of errors: prints what failed and
// returns the exit status (2 for files, 1 for policy errors), or 0 when `set` is ready.
struct PolicySet;
int load_error_free(const std::vector<std::string>& paths, PolicySet& set);

// Diagnostics are printed with colour when going to a terminal (and NO_COLOR is unset).
bool use_color(int fd);

struct AuditCommand {
  std::string state_file;  // the daemon's SQLite store
};
// `setpoint audit verify`: walks the audit log's hash chain; exit 1 on the first broken link.
int run_audit_verify(const AuditCommand& cmd);

struct RunCommand {
  std::string config;
  bool dry_run = false;  // never touch an actuator; log what would have been done
  std::string duration;  // stop after this long ("90s"), or "" to run until a signal
  std::string record;    // write the samples seen and the evaluation times here at exit
  std::string report;    // write the HTML report here at exit
  bool live = false;     // show events and policy states on stdout; the summary at exit
};
int run_daemon(const RunCommand& cmd);

struct CtlCommand {
  std::string config;   // where the daemon listens and its token file, from setpoint.toml
  std::string address;  // or: host:port / unix:/path
  std::string token_file;
  std::vector<std::string> words;  // status | policies | history | events | pause [POLICY] | ...
  std::string format = "text";
  std::string output;  // report: write the HTML page here (-o FILE); "" or "-": standard output
};
int run_ctl(const CtlCommand& cmd);

}  // namespace setpoint
