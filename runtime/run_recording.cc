// Writing the daemon's recording and reading its annotations back. See run_recording.h.
#include "runtime/run_recording.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "runtime/policy_loader.h"

namespace setpoint {
namespace {

// Label values as the exposition format escapes them: backslash, double quote, line feed.
void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest that reads back
    out.append(buf, end);
  }
}

std::string series_text(const Labels& labels) {
  std::string out;
  for (const Label& l : labels) {
    if (l.name == "__name__") out = l.value;
  }
  bool first = true;
  for (const Label& l : labels) {
    if (l.name == "__name__") continue;
    out += first ? "{" : ",";
    first = false;
    out += l.name;
    out += "=\"";
    append_escaped(out, l.value);
    out += '"';
  }
  if (!first) out += '}';
  return out;
}

}  // namespace

bool replayable(EventKind kind) {
  switch (kind) {
    case EventKind::ActionFailed:
    case EventKind::RollbackFailed:
    case EventKind::Paused:
    case EventKind::Resumed:
    case EventKind::Released:
    case EventKind::Rejected:
      return false;
    default:
      return true;
  }
}

std::string event_text_untimed(const Event& e) {
  std::string text = event_text(e);
  size_t space = text.find(' ');
  return space == std::string::npos ? text : text.substr(space + 1);
}

std::string policies_fingerprint(const PolicySet& set) {
  std::vector<std::string_view> texts;
  for (const Module& m : set.modules) texts.push_back(m.file->text());
  std::sort(texts.begin(), texts.end());
  uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bits
  for (std::string_view t : texts) {
    for (char c : t) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // a separator no text holds
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool write_run_recording(const std::string& path, const WindowStore& store,
                         const RunAnnotations& annotations, std::string& error) {
  std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) {
    error = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  std::string out = "# setpoint run recording: replay it with setpoint simulate --metrics\n";
  for (const std::string& n : annotations.notes) out += "# setpoint note " + n + "\n";
  if (!annotations.policies.empty()) out += "# setpoint policies " + annotations.policies + "\n";
  if (annotations.restored) out += "# setpoint restored\n";
  for (const RecordedKnob& k : annotations.knobs) {
    out += "# setpoint knob " + k.knob + " ";
    append_number(out, k.value);
    out += " " + std::to_string(k.t_ms) + "\n";
  }
  for (const auto& [t, text] : annotations.events) {
    out += "# setpoint event " + std::to_string(t) + " ";
    for (char c : text) out += c == '\n' ? ' ' : c;  // one line each
    out += "\n";
  }
  for (int64_t t : annotations.evaluations)
    out += "# setpoint evaluated " + std::to_string(t) + "\n";
  bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
  std::vector<Sample> samples;
  for (uint32_t id : store.all_series()) {
    store.range(id, INT64_MIN, INT64_MAX, samples);
    if (samples.empty()) continue;
    std::string name = series_text(store.labels(id));
    out.clear();
    for (const Sample& s : samples) {
      out += name;
      out += ' ';
      append_number(out, s.value);
      out += ' ';
      out += std::to_string(s.t_ms);
      out += '\n';
    }
    ok = ok && std::fwrite(out.data(), 1, out.size(), f) == out.size();
  }
  ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  int saved = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved = errno;
    error = "cannot write " + path + ": " + std::strerror(saved);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

RunAnnotations read_run_annotations(const std::string& path) {
  RunAnnotations a;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] != '#') break;  // the annotations head the file
    std::string_view rest(line);
    auto take = [&](std::string_view prefix) {
      if (!rest.starts_with(prefix)) return false;
      rest.remove_prefix(prefix.size());
      return true;
    };
    if (take("# setpoint evaluated ")) {
      int64_t t = 0;
      auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), t);
      if (ec == std::errc() && end == rest.data() + rest.size()) a.evaluations.push_back(t);
    } else if (take("# setpoint knob ")) {
      // NAME VALUE T_MS
      size_t a1 = rest.find(' ');
      size_t a2 = a1 == std::string_view::npos ? a1 : rest.find(' ', a1 + 1);
      if (a1 == 0 || a2 == std::string_view::npos) continue;
      std::string_view number = rest.substr(a1 + 1, a2 - a1 - 1), time = rest.substr(a2 + 1);
      RecordedKnob k;
      k.knob = std::string(rest.substr(0, a1));
      auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), k.value);
      auto [tend, tec] = std::from_chars(time.data(), time.data() + time.size(), k.t_ms);
      if (ec == std::errc() && end == number.data() + number.size() && tec == std::errc() &&
          tend == time.data() + time.size()) {
        a.knobs.push_back(std::move(k));
      }
    } else if (take("# setpoint event ")) {
      size_t space = rest.find(' ');
      int64_t t = 0;
      if (space == std::string_view::npos) continue;
      auto [end, ec] = std::from_chars(rest.data(), rest.data() + space, t);
      if (ec == std::errc() && end == rest.data() + space) {
        a.events.emplace_back(t, std::string(rest.substr(space + 1)));
      }
    } else if (take("# setpoint policies ")) {
      a.policies = std::string(rest);
    } else if (rest == "# setpoint restored") {
      a.restored = true;
    } else if (take("# setpoint note ")) {
      a.notes.emplace_back(rest);
    }
  }
  return a;
}

}  // namespace setpoint
