// `setpoint run --config setpoint.toml [--dry-run]`: loads the config and runs the daemon until
// SIGTERM or SIGINT. Logs go to stderr through spdlog; SETPOINT_LOG (debug, info, warn, error)
// sets how much.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "runtime/daemon.h"
#include "runtime/daemon_config.h"

namespace setpoint {

int run_daemon(const RunCommand& cmd) {
  auto logger = spdlog::stderr_logger_st("setpoint");
  // UTC timestamps, the level, then the message: one line per event, easy to grep and ship.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);
  if (const char* level = std::getenv("SETPOINT_LOG")) {
    spdlog::set_level(spdlog::level::from_str(level));
  }
  std::vector<std::string> errors;
  std::optional<DaemonConfig> config = load_daemon_config(cmd.config, errors);
  if (!config) {
    for (const std::string& e : errors) std::cerr << e << "\n";
    return 2;
  }
  Daemon daemon(std::move(*config), cmd.dry_run);
  return daemon.run();
}

}  // namespace setpoint
