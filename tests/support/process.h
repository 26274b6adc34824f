// Runs a program as an argv array (never through a shell) and captures what it prints.
#pragma once

#include <sys/types.h>

#include <cstdint>
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

struct SpawnOptions {
  // RLIMIT_FSIZE of the child in bytes (0: unchanged), with SIGXFSZ ignored: a write that would
  // grow any file past it fails with EFBIG, as writes fail on a full disk. Its children inherit
  // both.
  uint64_t file_size_limit = 0;
};

// Starts argv[0] (a path) in the background with stdout and stderr appended to log_path and
// stdin from /dev/null. The child gets SIGKILL if the test binary dies, so nothing is left
// behind. It leads a process group of its own (kill(-pid, ...) reaches its children too).
// The caller waits for it (waitpid).
pid_t spawn_background(const std::vector<std::string>& argv, const std::string& log_path,
                       const SpawnOptions& options = {});

}  // namespace setpoint::test
