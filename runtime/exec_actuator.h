// The exec actuator: sets a knob by running its command as an argv (never through a shell) on
// the libuv loop, with captured output, a timeout that terminates then kills, and no hang.
#pragma once

#include <uv.h>

#include <string>
#include <vector>

#include "runtime/actuator.h"
#include "runtime/daemon_config.h"

namespace setpoint {

// apply() runs config.exec.argv with "{value}" replaced in every element; read() runs
// config.exec.read_argv and parses what it prints on stdout. argv[0] is looked up in PATH.
// A child gets stdin from /dev/null, the daemon's environment plus SETPOINT_KNOB (and, for
// apply, SETPOINT_VALUE), and its own process group, so a timeout or cancel() signals every
// process it started. Errors: "exit status 2", "killed by signal 9", "timed out after 2s",
// "cannot start: no such file or directory"; ActuatorResult::output is its trimmed stderr.
class ExecActuator : public Actuator {
 public:
  ExecActuator(uv_loop_t* loop, const ActuatorConfig& config);
  // Kills the children still running; their callbacks never run. Their handles close on the
  // next turns of the loop, so run it before uv_loop_close.
  ~ExecActuator() override;
  ExecActuator(const ExecActuator&) = delete;
  ExecActuator& operator=(const ExecActuator&) = delete;

  void apply(double value, ActuatorCallback done) override;
  bool can_read() const override { return !read_argv_.empty(); }
  void read(ActuatorCallback done) override;
  // SIGKILLs every child in flight; each callback runs once, with error "cancelled".
  void cancel() override;

  // The pids of the children that have not exited yet, oldest first.
  std::vector<int> running_pids() const;

 private:
  struct Child;
  void start(std::vector<std::string> argv, const std::string* value_text, bool parse_stdout,
             ActuatorCallback done);

  uv_loop_t* loop_;
  std::string knob_;
  double timeout_seconds_;
  std::vector<std::string> argv_;
  std::vector<std::string> read_argv_;
  std::vector<Child*> children_;  // each owns its handles and frees itself once they close
};

}  // namespace setpoint
