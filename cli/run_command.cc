// `setpoint run --config setpoint.toml [--dry-run] [--duration D] [--live] [--record F]
// [--report F]`: loads the config and runs the daemon until SIGTERM, SIGINT or the duration.
// Logs go to stderr through spdlog; SETPOINT_LOG (debug, info, warn, error) sets how much.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "grammar/literal.h"
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
  RunOptions options;
  options.dry_run = cmd.dry_run;
  options.record_path = cmd.record;
  options.report_path = cmd.report;
  options.live = cmd.live;
  if (!cmd.duration.empty()) {
    NumberLiteral d = decode_number(cmd.duration);
    if (!d.ok || d.unit != Unit::Seconds || !(d.value > 0)) {
      std::cerr << "setpoint: --duration takes a positive duration such as 90s or 10m\n";
      return 2;
    }
    options.duration_seconds = d.value;
  }
  if (cmd.live) {
    // The live view has stdout; the log keeps to warnings unless SETPOINT_LOG asks for more.
    spdlog::set_level(spdlog::level::warn);
    if (const char* level = std::getenv("SETPOINT_LOG")) {
      spdlog::set_level(spdlog::level::from_str(level));
    }
  }
  std::vector<std::string> errors;
  std::optional<DaemonConfig> config = load_daemon_config(cmd.config, errors);
  if (!config) {
    for (const std::string& e : errors) std::cerr << e << "\n";
    return 2;
  }
  Daemon daemon(std::move(*config), std::move(options));
  return daemon.run();
}

}  // namespace setpoint
