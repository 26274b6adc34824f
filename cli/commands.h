// The `setpoint` subcommands. Each returns the process exit status:
// 0 success, 1 findings (errors in policies, files that need formatting), 2 usage or I/O errors.
#pragma once

#include <string>
#include <vector>

namespace setpoint {

struct CheckCommand {
  std::vector<std::string> paths;
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

// Diagnostics are printed with colour when going to a terminal (and NO_COLOR is unset).
bool use_color(int fd);

}  // namespace setpoint
