#include "runtime/config_finding.h"

#include <algorithm>
#include <cmath>

#include "interpreter/history_needed.h"

namespace setpoint {

namespace {

size_t code_points(std::string_view s) {
  return std::count_if(s.begin(), s.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

}  // namespace

ConfigFinding at_policy(const Module& m, Span span, std::string message, std::string hint) {
  return {Severity::Error, m.file, m.file->path(), span, std::move(message), std::move(hint)};
}

std::string render_finding(const ConfigFinding& f, bool color) {
  const char* bold = color ? "\x1b[1m" : "";
  const char* reset = color ? "\x1b[0m" : "";
  const char* tint = !color ? "" : f.severity == Severity::Error ? "\x1b[1;31m" : "\x1b[1;35m";
  std::string where = f.path;
  if (f.file) {
    Position p = f.file->position(f.span.begin);
    where += ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
  }
  std::string out = std::string(bold) + where + ": " + reset + tint +
                    std::string(severity_name(f.severity)) + reset + bold + ": " + f.message +
                    reset + "\n";
  if (f.file) {
    Position start = f.file->position(f.span.begin);
    std::string shown(f.file->line_text(start.line));
    std::replace(shown.begin(), shown.end(), '\t', ' ');
    std::string number = std::to_string(start.line);
    uint32_t line_end = f.file->line_start(start.line) + static_cast<uint32_t>(shown.size());
    uint32_t end = std::min(std::max(f.span.end, f.span.begin), line_end);
    size_t width = end > f.span.begin ? code_points(f.file->slice({f.span.begin, end})) : 0;
    out += " " + number + " | " + shown + "\n";
    out += " " + std::string(number.size(), ' ') + " | " + std::string(start.column - 1, ' ') +
           std::string(std::max<size_t>(width, 1), '^') + "\n";
  }
  if (!f.hint.empty()) out += " = hint: " + f.hint + "\n";
  return out;
}

std::string duration_words(double seconds) {
  int64_t s = static_cast<int64_t>(std::ceil(seconds));
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60 || out.empty()) out += std::to_string(s % 60) + "s";
  return out;
}

std::optional<ConfigFinding> retention_finding(const DaemonConfig& config, const std::string& shown,
                                               const PolicySet& set) {
  HistoryNeed need = longest_history(set.modules, true);
  if (config.retention_seconds <= 0 || !need.module || need.seconds <= config.retention_seconds) {
    return std::nullopt;
  }
  return at_policy(*need.module, need.span,
                   "this reads " + duration_words(need.seconds) + " of history, but " + shown +
                       " keeps " + duration_words(config.retention_seconds) + " (retention)",
                   "set retention = \"" + duration_words(need.seconds) + "\" or more in " + shown +
                       ": the daemon forgets samples older than that");
}

}  // namespace setpoint
