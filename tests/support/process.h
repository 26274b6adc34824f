// Runs a program as an argv array (never through a shell) and captures what it prints.
#pragma once

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

}  // namespace setpoint::test
