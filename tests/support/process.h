// Runs a program as an argv array (never through a shell) and captures what it prints.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace setpoint::test {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& input = {});

// Runs the setpoint binary built alongside the tests.
ProcessResult run_setpoint(std::vector<std::string> args, const std::string& input = {});

// Starts argv[0] (a path) in the background with stdout and stderr appended to log_path and
// stdin from /dev/null. The child gets SIGKILL if the test binary dies, so nothing is left
// behind. It leads a process group of its own (kill(-pid, ...) reaches its children too).
// The caller waits for it (waitpid).
pid_t spawn_background(const std::vector<std::string>& argv, const std::string& log_path);

}  // namespace setpoint::test
