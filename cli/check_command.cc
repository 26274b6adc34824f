// `setpoint check`: the diagnostics of a policy set and, with --config, of the daemon's config,
// checked on its own and against the policies it names (every knob they set has an actuator).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <tuple>

#include "cli/commands.h"
#include "cli/diagnostic_json.h"
#include "grammar/spelling.h"
#include "runtime/config_finding.h"
#include "runtime/daemon_config.h"
#include "runtime/policy_loader.h"

namespace setpoint {

bool use_color(int fd) { return ::isatty(fd) && std::getenv("NO_COLOR") == nullptr; }

int load_error_free(const std::vector<std::string>& paths, PolicySet& set) {
  set = load_policy_set(paths);
  for (const FileError& e : set.file_errors) {
    std::cerr << "setpoint: " << e.path << ": " << e.message << "\n";
  }
  if (!set.file_errors.empty()) return 2;
  if (!set.diagnostics.has_errors()) return 0;
  for (const Diagnostic& d : set.diagnostics.list()) {
    if (d.severity == Severity::Error) std::cerr << render_text(d, use_color(STDERR_FILENO));
  }
  std::cerr << "setpoint: the policies have errors; run `setpoint check` for all findings\n";
  return 1;
}

namespace {

namespace fs = std::filesystem;

using CheckFinding = ConfigFinding;

// The byte offset of a 1-based line and code-point column, clipped to the line.
uint32_t offset_of(const SourceFile& file, uint32_t line, uint32_t column) {
  std::string_view text = file.line_text(line);
  size_t i = 0;
  for (uint32_t c = 1; c < column && i < text.size(); ++c) {
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
  }
  return file.line_start(line) + static_cast<uint32_t>(i);
}

CheckFinding at_config(const std::shared_ptr<const SourceFile>& file, ConfigPos pos,
                       Severity severity, std::string message, std::string hint) {
  CheckFinding f{severity, nullptr, file->path(), {}, std::move(message), std::move(hint)};
  if (pos.line == 0 || pos.line > file->line_count()) return f;
  f.file = file;
  f.span.begin = offset_of(*file, pos.line, pos.column);
  f.span.end = pos.end_column > pos.column
                   ? offset_of(*file, pos.line, pos.end_column)
                   : file->line_start(pos.line) + uint32_t(file->line_text(pos.line).size());
  return f;
}

nlohmann::json finding_json(const CheckFinding& f) {
  Position begin = f.file ? f.file->position(f.span.begin) : Position{0, 0};
  Position end = f.file ? f.file->position(std::max(f.span.end, f.span.begin)) : Position{0, 0};
  return {
      {"file", f.path},       {"line", begin.line},       {"column", begin.column},
      {"end_line", end.line}, {"end_column", end.column}, {"severity", severity_name(f.severity)},
      {"code", ""},           {"message", f.message},     {"hint", f.hint}};
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// `retention` must keep what the longest range, offset or `within` of the policies reads.
void check_retention(const DaemonConfig& config, const std::string& shown, const PolicySet& set,
                     std::vector<CheckFinding>& out) {
  if (std::optional<ConfigFinding> f = retention_finding(config, shown, set)) out.push_back(*f);
}

// What the policies need from the config, and what the config offers them.
void cross_check(const DaemonConfig& config, const std::shared_ptr<const SourceFile>& config_file,
                 const PolicySet& set, std::vector<CheckFinding>& out) {
  const std::string& shown = config_file->path();
  std::set<std::string_view> declared, set_knobs, run_names;
  for (const Module& m : set.modules) {
    for (const Item& it : m.items)
      if (it.kind == ItemKind::Knob) declared.insert(it.name.text);
  }
  std::map<std::string_view, const ActuatorConfig*> knobs, runs;
  for (const ActuatorConfig& a : config.actuators) knobs.emplace(a.knob, &a);
  for (const ActuatorConfig& a : config.runs) runs.emplace(a.knob, &a);
  std::vector<std::string_view> knob_names, run_table_names,
      declared_names(declared.begin(), declared.end());
  for (auto& [name, a] : knobs) knob_names.push_back(name);
  for (auto& [name, a] : runs) run_table_names.push_back(name);

  for (const Module& m : set.modules) {
    for (const Item& it : m.items) {
      for (const Clause& c : it.clauses) {
        if (c.kind != ClauseKind::Action) continue;
        std::string_view name = c.name.text;
        if (c.action == ActionKind::Set && declared.count(name) && !knobs.count(name) &&
            set_knobs.insert(name).second) {
          // The policy side is checked (E0201); a near miss is a typo in the config.
          std::string near = closest_match(name, knob_names);
          std::string hint =
              near.empty()
                  ? "add a [knob." + std::string(name) +
                        "] table saying how to set it: actuator = \"http\", \"exec\" or \"file\""
                  : "the config has [knob." + near + "] on line " +
                        std::to_string(knobs.at(near)->pos.line) + ": is that name misspelt?";
          out.push_back(at_policy(m, c.name.span,
                                  "knob " + quoted(name) + " has no actuator: " + shown +
                                      " has no [knob." + std::string(name) + "]",
                                  hint));
        } else if (c.action == ActionKind::Run) {
          bool first = run_names.insert(name).second;
          if (!first || runs.count(name)) continue;
          std::string near = closest_match(name, run_table_names);
          std::string hint =
              knobs.count(name)
                  ? "[knob." + std::string(name) + "] sets a knob; what `action run " +
                        std::string(name) + "` runs is a [run." + std::string(name) + "] table"
              : !near.empty()
                  ? "the config has [run." + near + "] on line " +
                        std::to_string(runs.at(near)->pos.line) + ": is that name misspelt?"
                  : "add a [run." + std::string(name) +
                        "] table saying what to run: actuator = \"exec\", \"http\" or \"file\"";
          out.push_back(at_policy(m, c.name.span,
                                  "actuator " + quoted(name) + " is not configured: " + shown +
                                      " has no [run." + std::string(name) + "]",
                                  hint));
        }
      }
    }
  }
  for (const ActuatorConfig& a : config.actuators) {
    if (declared.count(a.knob)) continue;
    std::string hint = did_you_mean(a.knob, declared_names);
    out.push_back(at_config(config_file, a.pos, Severity::Warning,
                            "[knob." + a.knob + "] is for a knob no policy declares",
                            hint.empty() ? "declare it in a policy file (knob " + a.knob +
                                               " : TYPE in MIN..MAX), or remove the table"
                                         : hint));
  }
  std::vector<std::string_view> run_list(run_names.begin(), run_names.end());
  for (const ActuatorConfig& a : config.runs) {
    if (run_names.count(a.knob)) continue;
    std::string hint = did_you_mean(a.knob, run_list);
    out.push_back(at_config(
        config_file, a.pos, Severity::Warning, "[run." + a.knob + "] is run by no policy",
        hint.empty() ? "run it from a policy (action run " + a.knob + "()), or remove the table"
                     : hint));
  }
}

// The files the daemon will open: the state file's folder, the token file, the socket's folder.
void check_files(const DaemonConfig& config, const std::shared_ptr<const SourceFile>& config_file,
                 std::vector<CheckFinding>& out) {
  auto problem = [&](ConfigPos pos, std::string message, std::string hint) {
    out.push_back(
        at_config(config_file, pos, Severity::Error, std::move(message), std::move(hint)));
  };
  std::error_code ec;
  std::string folder = fs::path(config.state_file).parent_path().string();
  if (!fs::is_directory(folder, ec)) {
    problem(config.state_file_pos, "the folder of the state file does not exist: " + folder,
            "create it (mkdir -p " + folder + "), writable by the user setpoint runs as");
  } else if (::access(folder.c_str(), W_OK | X_OK) != 0) {
    problem(config.state_file_pos, "the folder of the state file is not writable: " + folder,
            "setpoint keeps its SQLite database and journal there; run check as the user the "
            "daemon runs as");
  } else if (fs::exists(config.state_file, ec) &&
             (!fs::is_regular_file(config.state_file, ec) ||
              ::access(config.state_file.c_str(), R_OK | W_OK) != 0)) {
    problem(config.state_file_pos,
            "the state file is not a file setpoint can read and write: " + config.state_file,
            "it is the daemon's SQLite database; give it a path of its own");
  }

  const std::string& token = config.control.token_file;
  struct stat st {};
  int stat_error = token.empty() || ::stat(token.c_str(), &st) == 0 ? 0 : errno;
  if (token.empty()) {
    // No token: the listener is loopback or a socket (the config requires one otherwise).
  } else if (stat_error == ENOENT) {
    problem(config.control.token_file_pos, "the token file does not exist: " + token,
            "create it with a long random token, readable by its owner only: (umask 077; "
            "openssl rand -hex 32 > " +
                token + ")");
  } else if (stat_error != 0) {
    problem(config.control.token_file_pos,
            "the token file cannot be examined (" + std::string(std::strerror(stat_error)) +
                "): " + token,
            "the daemon reads it when it starts; run check as the user the daemon runs as");
  } else if (!S_ISREG(st.st_mode)) {
    problem(config.control.token_file_pos, "the token file is not a regular file: " + token,
            "it holds the bearer token that `setpoint ctl` sends");
  } else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    problem(
        config.control.token_file_pos,
        "the token file is open to group or others (mode " + std::string(mode) + "): " + token,
        "chmod 600 " + token + ": whoever reads the token can change knobs and stop the engine");
  }

  if (config.control.listen.rfind("unix:", 0) == 0) {
    std::string dir = fs::path(config.control.listen.substr(5)).parent_path().string();
    if (!fs::is_directory(dir, ec)) {
      problem(config.control.listen_pos, "the folder of the control socket does not exist: " + dir,
              "create it (mkdir -p " + dir + "), writable by the user setpoint runs as");
    }
  }
}

// One line of the output: a policy diagnostic or a config finding.
struct CheckEntry {
  const Diagnostic* diagnostic = nullptr;
  const CheckFinding* finding = nullptr;
  int rank = 1;  // the config's own findings come first, then the policy files in order
  std::string_view path;
  uint32_t offset = 0;
};

}  // namespace

int run_check(const CheckCommand& cmd) {
  if (cmd.config.empty() && cmd.paths.empty()) {
    std::cerr << "setpoint: check needs policy files or folders, or --config FILE\n";
    return 2;
  }
  std::vector<CheckFinding> findings;
  std::optional<DaemonConfig> config;
  std::shared_ptr<const SourceFile> config_file;
  std::vector<std::string> paths;
  if (!cmd.config.empty()) {
    std::string text, error;
    if (!read_file(cmd.config, kMaxConfigBytes, text, error)) {
      std::cerr << "setpoint: " << cmd.config << ": " << error << "\n";
      return 2;
    }
    if (text.size() > kMaxConfigBytes) {
      std::cerr << "setpoint: " << cmd.config << ": larger than 1MiB; is this the config?\n";
      return 2;
    }
    config_file = std::make_shared<const SourceFile>(cmd.config, text);
    std::vector<ConfigError> errors;
    config = read_daemon_config(text, cmd.config, errors);
    for (const ConfigError& e : errors)
      findings.push_back(at_config(config_file, e.pos, Severity::Error, e.message, e.hint));
    paths = config->policies;
    // The cross-checks would only echo the config's errors (a table in error is left out).
    if (!errors.empty()) config.reset();
  }
  paths.insert(paths.end(), cmd.paths.begin(), cmd.paths.end());
  PolicySet set;
  if (!paths.empty()) set = load_policy_set(paths);
  if (config) {
    cross_check(*config, config_file, set, findings);
    check_retention(*config, config_file->path(), set, findings);
    check_files(*config, config_file, findings);
  }

  std::vector<CheckEntry> entries;
  for (const Diagnostic& d : set.diagnostics.list()) {
    entries.push_back(
        {&d, nullptr, 1, d.file ? std::string_view(d.file->path()) : "", d.span.begin});
  }
  size_t errors = set.diagnostics.error_count(), warnings = set.diagnostics.warning_count();
  for (const CheckFinding& f : findings) {
    entries.push_back(
        {nullptr, &f, f.file == config_file || !f.file ? 0 : 1, f.path, f.span.begin});
    (f.severity == Severity::Error ? errors : warnings) += 1;
  }
  std::stable_sort(entries.begin(), entries.end(), [](const CheckEntry& a, const CheckEntry& b) {
    return std::tie(a.rank, a.path, a.offset) < std::tie(b.rank, b.path, b.offset);
  });

  if (cmd.format == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (const CheckEntry& e : entries) {
      if (e.diagnostic) {
        append_json(out, *e.diagnostic);
      } else {
        out.push_back(finding_json(*e.finding));
      }
    }
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    bool color = use_color(STDOUT_FILENO);
    for (const CheckEntry& e : entries) {
      std::cout << (e.diagnostic ? render_text(*e.diagnostic, color)
                                 : render_finding(*e.finding, color))
                << "\n";
    }
    size_t files = set.modules.size() + (config_file ? 1 : 0);
    std::cout << "checked " << files << " file" << (files == 1 ? "" : "s") << ": " << errors
              << " error" << (errors == 1 ? "" : "s") << ", " << warnings << " warning"
              << (warnings == 1 ? "" : "s") << "\n";
  }
  for (const FileError& e : set.file_errors)
    std::cerr << "setpoint: " << e.path << ": " << e.message << "\n";
  if (!set.file_errors.empty()) return 2;
  return errors > 0 ? 1 : 0;
}

}  // namespace setpoint
