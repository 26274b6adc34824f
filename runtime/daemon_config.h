// The daemon's TOML configuration (setpoint.toml, docs/daemon.md): policy paths, the state
// file, the control listener, metric sources, and for every knob its actuator.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace setpoint {

// Where a value came from in the config file, for diagnostics about it later (check --config).
// Lines and columns count from 1 (columns in code points); line 0 means "not in the file" (a
// default).
struct ConfigPos {
  uint32_t line = 0;
  uint32_t column = 0;
  uint32_t end_column = 0;  // exclusive, on `line`; 0 when the value runs onto later lines
};

struct RetryConfig {
  int attempts = 3;                 // tries in all, the first included
  double backoff_seconds = 0.5;     // before the second try; doubled after each failure
  double max_backoff_seconds = 10;  // the doubling stops here
};

struct ExecActuatorConfig {
  std::vector<std::string> argv;       // "{value}" is replaced in every element
  std::vector<std::string> read_argv;  // optional: prints the knob's current value on stdout
};

struct FileActuatorConfig {
  std::string path;                      // written atomically (temporary file, fsync, rename)
  std::string content = "{value}\n";     // what is written
  std::vector<std::string> reload_argv;  // optional, run after the write
  std::string reload_pid_file;           // optional: signal the process whose pid it holds
  int reload_signal = 0;                 // SIGHUP etc. (the default with a pid file); 0: none
};

struct HttpActuatorConfig {
  std::string method = "PUT";
  std::string url;
  std::string body = "{value}";  // "{value}" replaced
  std::vector<std::pair<std::string, std::string>> headers;
  std::string read_url;           // optional: GET returns the current value (plain number, or JSON)
  std::string read_json_pointer;  // optional: where the number is in a JSON response ("/ttl")
};

// A [knob.NAME] table (how the daemon sets knob NAME), or a [run.NAME] table (what
// `action run NAME(...)` runs: no value to pass, nothing to read back).
struct ActuatorConfig {
  enum class Kind : uint8_t { Http, Exec, File };
  std::string knob;  // NAME
  Kind kind = Kind::Exec;
  double timeout_seconds = 5;
  RetryConfig retry;
  ExecActuatorConfig exec;
  FileActuatorConfig file;
  HttpActuatorConfig http;
  ConfigPos pos;  // NAME in the table's header
};

// Scrapes a Prometheus exposition endpoint.
struct ScrapeSourceConfig {
  std::string name;  // unique among scrapes and queries; the url when not given
  std::string url;
  double interval_seconds = 15;
  double timeout_seconds = 10;
  double jitter_fraction = 0.1;  // each scrape starts up to this fraction of the interval late
  size_t max_body_bytes = size_t{16} << 20;
  size_t max_series = 100'000;                // per scrape; further series are refused and counted
  std::map<std::string, std::string> labels;  // added to every series (e.g. instance, job)
  ConfigPos pos;                              // the [[scrape]] header
};

// Polls a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir) for the raw samples of
// every selector the policies use.
struct QuerySourceConfig {
  std::string name;  // unique among scrapes and queries; the url when not given
  std::string url;   // base URL: http://127.0.0.1:9090
  double interval_seconds = 15;
  double timeout_seconds = 10;
  size_t max_body_bytes = size_t{16} << 20;
  size_t max_series = 100'000;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. X-Scope-OrgID for Mimir
  ConfigPos pos;                                             // the [[query]] header
};

// Accepts Prometheus text over HTTP POST on the control listener at /api/v1/push.
struct PushSourceConfig {
  bool enabled = false;
  size_t max_body_bytes = size_t{4} << 20;
  size_t max_series = 100'000;
};

struct ControlConfig {
  std::string listen = "127.0.0.1:9464";  // host:port (loopback by default) or unix:/path
  bool allow_remote = false;              // a host that is not loopback needs it (and a token)
  std::string token_file;                 // bearer token; must be readable by its owner only
  size_t max_body_bytes = size_t{1} << 20;
  ConfigPos listen_pos;
  ConfigPos token_file_pos;
};

struct DaemonConfig {
  std::string path;  // the config file itself (absolute); relative paths in it are relative to its
                     // folder
  std::vector<std::string> policies;       // files or folders
  std::string state_file = "setpoint.db";  // absolute once read, like every path below
  double evaluation_interval_seconds = 15;
  double shutdown_deadline_seconds = 30;  // SIGTERM waits this long for actions in flight
  size_t max_series = 1'000'000;          // the window store's bound
  double retention_seconds = 0;  // how much history the window store keeps; 0: Daemon decides
  ControlConfig control;
  PushSourceConfig push;
  std::vector<ScrapeSourceConfig> scrapes;
  std::vector<QuerySourceConfig> queries;
  std::vector<ActuatorConfig> actuators;  // [knob.NAME], in file order
  std::vector<ActuatorConfig> runs;       // [run.NAME], in file order
  ConfigPos state_file_pos;
};

// One problem with a config file, where it is.
struct ConfigError {
  ConfigPos pos;
  std::string message;
  std::string hint;  // may be empty
};

// "file:line:col: message; hint: ...", the shape of every TOML error setpoint reports.
std::string config_error_text(std::string_view file, const ConfigError& error);

// The largest config file read: far more than any real one, and a bound on a mistake.
inline constexpr size_t kMaxConfigBytes = size_t{1} << 20;

// Reads and checks a config file. Errors are "file:line:col: message; hint: ..." lines, in file
// order (or "file: message" when it cannot be read); nullopt when there is any. Nothing else is
// read: the token file, the state file and the policies are the daemon's (and check's) to open.
std::optional<DaemonConfig> load_daemon_config(const std::string& path,
                                               std::vector<std::string>& errors);
std::optional<DaemonConfig> parse_daemon_config(std::string_view text, const std::string& path,
                                                std::vector<std::string>& errors);
// The errors as data, and whatever could be read despite them (a value in error keeps its
// default; a table in error may be missing): for `check --config`, which shows the lines the
// errors are on and goes on to check the policies the config names.
DaemonConfig read_daemon_config(std::string_view text, const std::string& path,
                                std::vector<ConfigError>& errors);

}  // namespace setpoint
