// The file actuator: sets a knob by rewriting a file atomically off the loop thread, then
// optionally reloading whoever reads it (a command, a signal to a pid file's process, or both).
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/actuator.h"
#include "runtime/daemon_config.h"
#include "runtime/exec_actuator.h"

namespace setpoint {

// apply() writes config.file.content with "{value}" replaced to config.file.path: a temporary
// file in the same directory, fsync, rename over the old file, fsync the directory, all in
// libuv's thread pool. An existing file keeps its permissions; a new one is made 0644. Then it
// runs reload_argv (as ExecActuator runs a command, "{value}" included) and sends reload_signal
// to the pid in reload_pid_file. A failed reload fails the action with "written, but reload
// failed: ..." since the file has changed. read() parses the file against the content
// template: the text before the first "{value}" must match, the number follows it. Operations
// run one at a time, in the order they were called.
class FileActuator : public Actuator {
 public:
  FileActuator(uv_loop_t* loop, const ActuatorConfig& config);
  // Callbacks still pending never run; work already in the thread pool finishes on its own.
  ~FileActuator() override;
  FileActuator(const FileActuator&) = delete;
  FileActuator& operator=(const FileActuator&) = delete;

  void apply(double value, ActuatorCallback done) override;
  // False only when the content template has no "{value}" to find the value by.
  bool can_read() const override;
  void read(ActuatorCallback done) override;
  // A write that already started completes (a half-written file is what the rename avoids);
  // a reload command is killed. Each pending callback runs once, with "cancelled".
  void cancel() override;

 private:
  struct Op;
  void enqueue(Op* op);
  void begin(Op* op);
  void queue(Op* op);
  void after_write(Op* op);
  void after_reload_command(Op* op, const ActuatorResult& reload);
  void finish(Op* op, ActuatorResult result);

  uv_loop_t* loop_;
  FileActuatorConfig config_;
  std::unique_ptr<ExecActuator> reload_command_;  // null without reload_argv
  std::vector<Op*> ops_;                          // in call order; only the first one runs
};

}  // namespace setpoint
