// Reading setpoint.toml with TOML++: every key checked (its type, unit and range, and that its
// table has it), relative paths made absolute, and each problem reported where it is.
#include "runtime/daemon_config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <csignal>
#include <filesystem>

#include "grammar/literal.h"
#include "grammar/spelling.h"
#include "runtime/metrics_reader.h"
#include "runtime/policy_files.h"

namespace setpoint {
namespace {

namespace fs = std::filesystem;
using metrics_detail::quote;
using Keys = std::vector<std::string_view>;

constexpr double kMaxSeconds = 10.0 * 365 * 86400;  // longer is a mistake, and overflows ms
constexpr double kMaxBytes = double(uint64_t{1} << 40);
const char* const kDurationHint =
    "durations look like \"15s\", \"2m\" or \"1h30m\", or a number of seconds";
const char* const kSizeHint = "sizes look like \"64KiB\" or \"16MiB\", or a number of bytes";

// The words of a space-separated list (of a string literal: the views point into it).
Keys words(std::string_view s) {
  Keys out;
  for (size_t i = 0, j; i < s.size(); i = j + 1) {
    j = std::min(s.find(' ', i), s.size());
    out.push_back(s.substr(i, j - i));
  }
  return out;
}

const Keys kTopKeys = words(
    "policies state_file evaluation_interval shutdown_deadline max_series retention control push "
    "scrape query knob run");
const Keys kControlKeys = words("listen allow_remote token_file max_body");
const Keys kPushKeys = words("enabled max_body max_series");
const Keys kScrapeKeys = words("name url interval timeout jitter max_body max_series labels");
const Keys kQueryKeys = words("name url interval timeout max_body max_series headers");
const Keys kRetryKeys = words("attempts backoff max_backoff");
const Keys kHttpKeys =
    words("actuator method url body headers read_url read_json_pointer timeout retry");
const Keys kExecKeys = words("actuator argv read_argv timeout retry");
const Keys kFileKeys =
    words("actuator path content reload_argv reload_pid_file reload_signal timeout retry");
const Keys kReadKeys = words("read_url read_json_pointer read_argv");
const Keys kMethods = words("PUT POST PATCH GET");

struct DaemonConfigSignal {
  std::string_view name;
  int number;
};
const DaemonConfigSignal kSignals[] = {
    {"SIGHUP", SIGHUP},   {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGINT", SIGINT},
    {"SIGTERM", SIGTERM}, {"SIGQUIT", SIGQUIT}, {"SIGCONT", SIGCONT}, {"SIGWINCH", SIGWINCH}};

std::string number_text(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string type_name(toml::node_type t) {
  static const char* const names[] = {"nothing", "a table",   "a list", "a string", "an integer",
                                      "a float", "a boolean", "a date", "a time",   "a date-time"};
  size_t i = static_cast<size_t>(t);
  return i < std::size(names) ? names[i] : "nothing";
}

// "a, b and c"
std::string list_text(const Keys& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? " and " : ", ";
    out += words[i];
  }
  return out;
}

bool contains(const Keys& keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

// The names the policy language allows for knobs and actuators.
bool is_identifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// An HTTP token (RFC 9110): what a header name may hold.
bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool holds_value(std::string_view s) { return s.find("{value}") != std::string_view::npos; }

// File order, for anything with a ConfigPos `pos`.
bool before(const ConfigPos& a, const ConfigPos& b) {
  return std::pair(a.line, a.column) < std::pair(b.line, b.column);
}

ConfigPos pos_of(const toml::source_region& r) {
  return {r.begin.line, r.begin.column, r.end.line == r.begin.line ? r.end.column : 0u};
}

// ---------------------------------------------------------------------------------------------
// Typed values: each reader reports what is wrong with a value and returns false, leaving its
// output as it was (so the default stays).

class DaemonConfigValues {
 public:
  explicit DaemonConfigValues(fs::path base) : base_(std::move(base)) {}

  std::vector<ConfigError> errors;

  void error(ConfigPos at, std::string message, std::string hint = {}) {
    errors.push_back({at, std::move(message), std::move(hint)});
  }
  void error(const toml::source_region& at, std::string message, std::string hint = {}) {
    error(pos_of(at), std::move(message), std::move(hint));
  }

 protected:
  // Calls `read(key, node)` for each key of `t` among `keys`, and reports every other key.
  template <class Read>
  void each(const toml::table& t, std::string_view what, const Keys& keys, Read&& read) {
    for (auto&& [key, node] : t) {
      if (contains(keys, key.str())) {
        read(key, node);
      } else {
        unknown(key, what, keys);
      }
    }
  }

  void unknown(const toml::key& key, std::string_view what, const Keys& keys) {
    std::string hint = did_you_mean(key.str(), keys);
    if (hint.empty())
      hint =
          (what.empty() ? std::string("the top-level keys") : "the keys of " + std::string(what)) +
          " are " + list_text(keys);
    error(key.source(),
          "unknown key " + quote(key.str()) + (what.empty() ? "" : " in " + std::string(what)),
          hint);
  }

  bool wrong_type(const toml::key& key, const toml::node& node, std::string_view wanted,
                  std::string hint) {
    error(node.source(),
          quote(key.str()) + " must be " + std::string(wanted) + ", not " + type_name(node.type()),
          std::move(hint));
    return false;
  }

  const toml::table* table(const toml::key& key, const toml::node& node) {
    const toml::table* t = node.as_table();
    if (!t) wrong_type(key, node, "a table", "write it as [" + std::string(key.str()) + "]");
    return t;
  }

  bool text(const toml::key& key, const toml::node& node, std::string& out,
            bool may_be_empty = false) {
    const auto* s = node.as_string();
    if (!s)
      return wrong_type(key, node, "a string",
                        "quote it: " + std::string(key.str()) + " = \"...\"");
    if (s->get().empty() && !may_be_empty) {
      error(node.source(), quote(key.str()) + " is empty");
      return false;
    }
    out = s->get();
    return true;
  }

  std::string absolute(const std::string& p) const {
    return (base_ / p).lexically_normal().string();
  }

  bool path(const toml::key& key, const toml::node& node, std::string& out) {
    std::string p;
    if (!text(key, node, p)) return false;
    out = absolute(p);
    return true;
  }

  bool url(const toml::key& key, const toml::node& node, std::string& out) {
    std::string u;
    if (!text(key, node, u)) return false;
    if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
      error(node.source(),
            quote(key.str()) + " must start with http:// or https://, found " + quote(u),
            "write " + std::string(key.str()) + " = \"http://" + u.substr(0, 40) + "\"");
      return false;
    }
    if (std::any_of(u.begin(), u.end(), [](char c) { return c <= ' ' || c == 0x7f; })) {
      error(node.source(), quote(key.str()) + " holds a space or a control character",
            "percent-encode it: a space is %20");
      return false;
    }
    out = std::move(u);
    return true;
  }

  // A duration (in seconds) or a size (in bytes): a string with a unit, or a plain number.
  bool quantity(const toml::key& key, const toml::node& node, Unit unit, double& out,
                bool zero_ok = false) {
    std::string name(key.str());
    bool seconds = unit == Unit::Seconds;
    const char* what = seconds ? "a duration" : "a size";
    double v = 0;
    std::string shown;
    if (const auto* s = node.as_string()) {
      NumberLiteral n = decode_number(s->get());
      shown = quote(s->get());
      if (!n.ok || (n.unit != unit && !(seconds && n.unit == Unit::None && n.value == 0))) {
        error(node.source(), quote(name) + " is not " + what + ": " + shown,
              n.hint.rfind("write ", 0) == 0 ? n.hint
              : seconds                      ? kDurationHint
                                             : kSizeHint);
        return false;
      }
      v = n.value;
    } else if (const auto* i = node.as_integer()) {
      v = static_cast<double>(i->get());
      shown = std::to_string(i->get());
    } else if (const auto* f = node.as_floating_point(); f && seconds) {
      v = f->get();
      shown = number_text(v);
    } else {
      return wrong_type(key, node, what,
                        "write " + name +
                            (seconds ? " = \"15s\" (or a number of seconds)"
                                     : " = \"4MiB\" (or a number of bytes)"));
    }
    if (!seconds && !(v >= 1 && v <= kMaxBytes)) {
      error(node.source(), quote(name) + " must be from 1 byte to 1TiB, found " + shown);
      return false;
    }
    if (seconds && (!(v >= 0) || (v == 0 && !zero_ok))) {
      error(node.source(), quote(name) + " must be " + (zero_ok ? "0s or more" : "more than 0s") +
                               ", found " + shown);
      return false;
    }
    if (seconds && v > kMaxSeconds) {
      error(node.source(), quote(name) + " is longer than 10 years, found " + shown);
      return false;
    }
    out = v;
    return true;
  }
  bool duration(const toml::key& key, const toml::node& node, double& out, bool zero_ok) {
    return quantity(key, node, Unit::Seconds, out, zero_ok);
  }
  bool size(const toml::key& key, const toml::node& node, size_t& out) {
    double v = 0;
    if (!quantity(key, node, Unit::Bytes, v)) return false;
    out = static_cast<size_t>(std::llround(v));
    return true;
  }

  bool count(const toml::key& key, const toml::node& node, auto& out, int64_t max) {
    const auto* i = node.as_integer();
    if (!i) return wrong_type(key, node, "an integer", "write " + std::string(key.str()) + " = 10");
    if (i->get() < 1 || i->get() > max) {
      error(node.source(), quote(key.str()) + " must be from 1 to " + std::to_string(max) +
                               ", found " + std::to_string(i->get()));
      return false;
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(i->get());
    return true;
  }

  bool flag(const toml::key& key, const toml::node& node, bool& out) {
    const auto* b = node.as_boolean();
    if (!b)
      return wrong_type(key, node, "true or false", "write " + std::string(key.str()) + " = true");
    out = b->get();
    return true;
  }

  // A list of strings; `hint` says what a single string should have been.
  bool strings(const toml::key& key, const toml::node& node, std::vector<std::string>& out,
               const std::string& hint) {
    const toml::array* a = node.as_array();
    if (!a) return wrong_type(key, node, "a list of strings", hint);
    std::vector<std::string> list;
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      if (const auto* s = e.as_string()) {
        list.push_back(s->get());
      } else {
        error(e.source(),
              "element " + std::to_string(i + 1) + " of " + quote(key.str()) +
                  " must be a string, not " + type_name(e.type()),
              "quote it");
        return false;
      }
    }
    out = std::move(list);
    return true;
  }

  // A table of strings: labels or headers.
  bool string_table(const toml::key& key, const toml::node& node,
                    std::vector<std::pair<std::string, std::string>>& out, bool labels) {
    const toml::table* t = node.as_table();
    std::string example =
        labels ? "labels = { job = \"api\" }" : "headers = { \"X-Scope-OrgID\" = \"team-a\" }";
    if (!t) return wrong_type(key, node, "a table", "write " + example);
    bool ok = true;
    for (auto&& [name, value] : *t) {
      std::string n(name.str());
      const auto* s = value.as_string();
      if (labels && (!is_identifier(n) || n.rfind("__", 0) == 0)) {
        error(name.source(), quote(n) + " is not a label name",
              "a label name is letters, digits and \"_\", not starting with a digit or \"__\"");
        ok = false;
      } else if (!labels && !is_token(n)) {
        error(name.source(), quote(n) + " is not a header name",
              "a header name is letters, digits and -, as in Content-Type");
        ok = false;
      } else if (!s) {
        error(value.source(),
              "the value of " + quote(n) + " must be a string, not " + type_name(value.type()),
              "write " + example);
        ok = false;
      } else if (std::any_of(s->get().begin(), s->get().end(), [](char c) {
                   return (c >= 0 && c < ' ' && c != '\t') || c == 0x7f;
                 })) {
        error(value.source(), "the value of " + quote(n) + " holds a control character",
              "a line break would end the header and start another");
        ok = false;
      } else {
        out.emplace_back(n, s->get());
      }
    }
    return ok;
  }

  fs::path base_;
};

// ---------------------------------------------------------------------------------------------
// The sections of the file.

class DaemonConfigReader : public DaemonConfigValues {
 public:
  using DaemonConfigValues::DaemonConfigValues;

  void document(const toml::table& root, DaemonConfig& c) {
    bool has_policies = false;
    std::vector<std::pair<std::string, ConfigPos>> names;  // of scrapes and queries
    each(root, "", kTopKeys, [&](const toml::key& key, const toml::node& node) {
      std::string_view k = key.str();
      if (k == "policies") {
        has_policies = true;
        policies(key, node, c.policies);
      } else if (k == "state_file") {
        if (path(key, node, c.state_file)) c.state_file_pos = pos_of(node.source());
      } else if (k == "evaluation_interval") {
        duration(key, node, c.evaluation_interval_seconds, false);
      } else if (k == "shutdown_deadline") {
        duration(key, node, c.shutdown_deadline_seconds, true);
      } else if (k == "max_series") {
        count(key, node, c.max_series, 1'000'000'000);
      } else if (k == "retention") {
        duration(key, node, c.retention_seconds, false);
      } else if (k == "control") {
        if (const toml::table* t = table(key, node)) control(*t, c.control);
      } else if (k == "push") {
        if (const toml::table* t = table(key, node)) push(*t, c.push);
      } else if (k == "scrape" || k == "query") {
        sources(key, node, c, names);
      } else {
        actuators(key, node, k == "run" ? c.runs : c.actuators);
      }
    });
    if (!has_policies) {
      error(ConfigPos{1, 1, 0}, "the config names no policies",
            "add policies = [\"policies/\"]: files, or folders of *.setpoint files, relative to "
            "this file");
    }
    if (!root.contains("state_file")) c.state_file = absolute(c.state_file);
    std::stable_sort(names.begin(), names.end(),
                     [](const auto& a, const auto& b) { return before(a.second, b.second); });
    for (size_t i = 0; i < names.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (names[j].first != names[i].first) continue;
        error(names[i].second, "source name " + quote(names[i].first) + " is used twice",
              "the first is on line " + std::to_string(names[j].second.line) +
                  "; every [[scrape]] and [[query]] needs a name of its own, shown in /status");
        break;
      }
    }
    auto by_pos = [](const auto& a, const auto& b) { return before(a.pos, b.pos); };
    std::stable_sort(c.actuators.begin(), c.actuators.end(), by_pos);
    std::stable_sort(c.runs.begin(), c.runs.end(), by_pos);
  }

 private:
  void policies(const toml::key& key, const toml::node& node, std::vector<std::string>& out) {
    std::vector<std::string> list;
    if (const auto* one = node.as_string()) {
      list.push_back(one->get());  // one path, as policy tests allow
    } else if (!strings(key, node, list, "write policies = [\"policies/\"]")) {
      return;
    }
    if (list.empty()) {
      error(node.source(), "\"policies\" is empty",
            "name the policy files or folders: policies = [\"policies/\"]");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].empty()) {
        error(node.is_array() ? node.as_array()->get(i)->source() : node.source(),
              "a path in \"policies\" is empty");
      } else {
        out.push_back(absolute(list[i]));
      }
    }
  }

  void control(const toml::table& t, ControlConfig& c) {
    const toml::node* listen_node = nullptr;
    const toml::node* remote_node = nullptr;
    bool loopback = true;
    each(t, "[control]", kControlKeys, [&](const toml::key& key, const toml::node& node) {
      std::string_view k = key.str();
      if (k == "listen") {
        if (listen(key, node, c.listen, loopback)) listen_node = &node;
        c.listen_pos = pos_of(node.source());
      } else if (k == "allow_remote") {
        if (flag(key, node, c.allow_remote)) remote_node = &node;
      } else if (k == "token_file") {
        if (path(key, node, c.token_file)) c.token_file_pos = pos_of(node.source());
      } else {
        size(key, node, c.max_body_bytes);
      }
    });
    if (listen_node && !loopback && !c.allow_remote) {
      error(listen_node->source(), "\"listen\" is not a loopback address: " + quote(c.listen),
            "the control API changes knobs and stops the engine, so it stays on 127.0.0.1, [::1] "
            "or a unix socket; set allow_remote = true in [control], with a token_file, to expose "
            "it on purpose");
    }
    if (remote_node && c.allow_remote && c.token_file.empty()) {
      error(remote_node->source(), "allow_remote = true needs a token_file",
            "without a token, anyone who can reach the listener can change knobs: token_file = "
            "\"/etc/setpoint/token\"");
    }
  }

  // "unix:PATH", or HOST:PORT with HOST an IPv4 address or [an IPv6 address].
  bool listen(const toml::key& key, const toml::node& node, std::string& out, bool& loopback) {
    std::string s;
    if (!text(key, node, s)) return false;
    const std::string usual =
        "write listen = \"127.0.0.1:9464\" or listen = \"unix:/run/setpoint/control.sock\"";
    if (s.rfind("unix:", 0) == 0) {
      if (s.size() == 5) {
        error(node.source(), "\"listen\" has no socket path: " + quote(s), usual);
        return false;
      }
      out = "unix:" + absolute(s.substr(5));
      loopback = true;
      return true;
    }
    size_t colon = s.rfind(':');
    if (colon == std::string::npos) {
      error(node.source(), "\"listen\" must be host:port or unix:/path, found " + quote(s), usual);
      return false;
    }
    std::string host = s.substr(0, colon), port = s.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
      error(node.source(), "\"listen\" has no valid port (0 to 65535): " + quote(s), usual);
      return false;
    }
    unsigned char addr[16];
    if (host.empty()) {
      error(node.source(), "\"listen\" has no host: " + quote(s),
            "an empty host would listen on every interface; " + usual);
      return false;
    }
    if (host.front() == '[') {
      std::string inner =
          host.size() > 2 && host.back() == ']' ? host.substr(1, host.size() - 2) : "";
      if (inet_pton(AF_INET6, inner.c_str(), addr) != 1) {
        error(node.source(), "\"listen\" has no valid IPv6 address: " + quote(s),
              "write listen = \"[::1]:9464\"");
        return false;
      }
      loopback = inner == "::1";
    } else if (host.find(':') != std::string::npos) {
      error(node.source(), "\"listen\" has an IPv6 address without brackets: " + quote(s),
            "write listen = \"[::1]:9464\"");
      return false;
    } else if (inet_pton(AF_INET, host.c_str(), addr) == 1) {
      loopback = addr[0] == 127;
    } else {
      // The listener binds an address; a name could resolve to anything, or to nothing.
      error(node.source(), "\"listen\" needs an IP address, not a name: " + quote(s),
            host == "localhost" ? "write listen = \"127.0.0.1:" + port + "\"" : usual);
      return false;
    }
    out = s;
    return true;
  }

  void push(const toml::table& t, PushSourceConfig& p) {
    each(t, "[push]", kPushKeys, [&](const toml::key& key, const toml::node& node) {
      if (key.str() == "enabled") {
        flag(key, node, p.enabled);
      } else if (key.str() == "max_body") {
        size(key, node, p.max_body_bytes);
      } else {
        count(key, node, p.max_series, 100'000'000);
      }
    });
  }

  void sources(const toml::key& key, const toml::node& node, DaemonConfig& c,
               std::vector<std::pair<std::string, ConfigPos>>& names) {
    bool scrape = key.str() == "scrape";
    const toml::array* list = node.as_array();
    if (!list || !list->is_array_of_tables()) {
      wrong_type(key, node, "a list of tables",
                 "write each one as [[" + std::string(key.str()) + "]], with double brackets");
      return;
    }
    for (const toml::node& element : *list) {
      const toml::table& t = *element.as_table();
      std::string what = scrape ? "[[scrape]]" : "[[query]]";
      std::string name, u;
      ConfigPos name_pos = pos_of(t.source());
      double interval = 15, timeout = 10;
      const toml::node* timeout_node = nullptr;
      bool has_url = false;
      ScrapeSourceConfig sc;
      QuerySourceConfig qc;
      each(t, what, scrape ? kScrapeKeys : kQueryKeys,
           [&](const toml::key& k, const toml::node& n) {
             std::string_view s = k.str();
             if (s == "name") {
               if (text(k, n, name)) name_pos = pos_of(n.source());
             } else if (s == "url") {
               has_url = true;
               url(k, n, u);
             } else if (s == "interval") {
               duration(k, n, interval, false);
             } else if (s == "timeout") {
               if (duration(k, n, timeout, false)) timeout_node = &n;
             } else if (s == "jitter") {
               double j = 0;
               if (const auto* i = n.as_integer())
                 j = static_cast<double>(i->get());
               else if (const auto* f = n.as_floating_point())
                 j = f->get();
               else {
                 wrong_type(k, n, "a number", "write jitter = 0.1");
                 return;
               }
               if (!(j >= 0 && j <= 1)) {
                 error(n.source(), "\"jitter\" must be from 0 to 1, found " + number_text(j),
                       "a fraction of the interval: 0.1 starts each scrape up to 10% of it late");
               } else {
                 sc.jitter_fraction = j;
               }
             } else if (s == "max_body") {
               size(k, n, scrape ? sc.max_body_bytes : qc.max_body_bytes);
             } else if (s == "max_series") {
               count(k, n, scrape ? sc.max_series : qc.max_series, 100'000'000);
             } else if (s == "labels") {
               std::vector<std::pair<std::string, std::string>> labels;
               string_table(k, n, labels, true);
               sc.labels.insert(labels.begin(), labels.end());
             } else {
               string_table(k, n, qc.headers, false);
             }
           });
      if (!has_url) {
        error(t.source(), what + " has no \"url\"",
              scrape ? "say what to scrape: url = \"http://127.0.0.1:8080/metrics\""
                     : "say which Prometheus to ask: url = \"http://127.0.0.1:9090\"");
      }
      if (timeout_node && timeout > interval) {
        error(timeout_node->source(),
              "\"timeout\" (" + number_text(timeout) + "s) is longer than \"interval\" (" +
                  number_text(interval) + "s)",
              "each request must end before the next one starts");
      }
      if (!timeout_node) timeout = std::min(timeout, interval);
      if (name.empty()) name = u;
      names.emplace_back(name, name_pos);
      if (scrape) {
        sc.name = name, sc.url = u, sc.interval_seconds = interval, sc.timeout_seconds = timeout;
        sc.pos = pos_of(t.source());
        c.scrapes.push_back(std::move(sc));
      } else {
        qc.name = name, qc.url = u, qc.interval_seconds = interval, qc.timeout_seconds = timeout;
        qc.pos = pos_of(t.source());
        c.queries.push_back(std::move(qc));
      }
    }
  }

  void actuators(const toml::key& key, const toml::node& node, std::vector<ActuatorConfig>& out) {
    bool run = key.str() == "run";
    const toml::table* t = node.as_table();
    std::string example = run ? "[run.restart_workers]" : "[knob.cache_ttl]";
    if (!t) {
      wrong_type(key, node, "a table of tables", "write one table for each: " + example);
      return;
    }
    for (auto&& [name, value] : *t) {
      if (const toml::table* a = value.as_table()) {
        actuator(name, *a, run, out);
      } else {
        error(name.source(),
              quote(name.str()) + " in [" + std::string(key.str()) + "] must be a table, not " +
                  type_name(value.type()),
              "write one table for each: " + example);
      }
    }
  }

  void actuator(const toml::key& name, const toml::table& t, bool run,
                std::vector<ActuatorConfig>& out);
  bool retry(const toml::key& key, const toml::node& node, RetryConfig& r);
  void argv(const toml::key& key, const toml::node& node, std::vector<std::string>& out);
};

bool DaemonConfigReader::retry(const toml::key& key, const toml::node& node, RetryConfig& r) {
  const toml::table* t = node.as_table();
  if (!t) {
    return wrong_type(key, node, "a table",
                      "write retry = { attempts = 3, backoff = \"500ms\", max_backoff = \"10s\" }");
  }
  const toml::node* max_node = nullptr;
  each(*t, "retry", kRetryKeys, [&](const toml::key& k, const toml::node& n) {
    if (k.str() == "attempts") {
      count(k, n, r.attempts, 100);
    } else if (k.str() == "backoff") {
      duration(k, n, r.backoff_seconds, true);
    } else if (duration(k, n, r.max_backoff_seconds, true)) {
      max_node = &n;
    }
  });
  if (max_node && r.max_backoff_seconds < r.backoff_seconds) {
    error(max_node->source(),
          "\"max_backoff\" (" + number_text(r.max_backoff_seconds) +
              "s) is shorter than \"backoff\" (" + number_text(r.backoff_seconds) + "s)",
          "the backoff doubles after each failure up to max_backoff");
  }
  return true;
}

void DaemonConfigReader::argv(const toml::key& key, const toml::node& node,
                              std::vector<std::string>& out) {
  std::string hint = "argv is a list; setpoint never runs a shell";
  if (const auto* s = node.as_string()) {
    // Suggest the list, unless the string leans on the shell (pipes, quotes, variables...).
    const std::string& cmd = s->get();
    if (cmd.find_first_of("|&;<>()$`\\\"'*?~#") == std::string::npos) {
      std::string list;
      size_t i = 0;
      while ((i = cmd.find_first_not_of(" \t", i)) != std::string::npos) {
        size_t j = std::min(cmd.find_first_of(" \t", i), cmd.size());
        list += (list.empty() ? "\"" : ", \"") + cmd.substr(i, j - i) + "\"";
        i = j;
      }
      if (!list.empty()) hint += ": write " + std::string(key.str()) + " = [" + list + "]";
    }
  }
  std::vector<std::string> list;
  if (!strings(key, node, list, hint)) return;
  if (list.empty() || list[0].empty()) {
    error(node.source(), quote(key.str()) + " has no program",
          "name the program, then its arguments: " + std::string(key.str()) +
              " = [\"/usr/local/bin/set-workers\", \"{value}\"]");
    return;
  }
  // A bare name is looked up in PATH; a relative path is relative to the config, like the rest.
  if (list[0].find('/') != std::string::npos) list[0] = absolute(list[0]);
  out = std::move(list);
}

void DaemonConfigReader::actuator(const toml::key& name, const toml::table& t, bool run,
                                  std::vector<ActuatorConfig>& out) {
  std::string section = run ? "run" : "knob";
  std::string what = "[" + section + "." + std::string(name.str()) + "]";
  ActuatorConfig a;
  a.knob = name.str();
  a.pos = pos_of(name.source());
  if (!is_identifier(a.knob)) {
    error(name.source(),
          quote(a.knob) + " is not a " + (run ? "name `action run` can use" : "knob name"),
          "names are letters, digits and \"_\", as in the policies: [" + section + ".cache_ttl]");
  }
  auto kind_it = t.find("actuator");
  const toml::key* kind_key = kind_it == t.end() ? nullptr : &kind_it->first;
  std::string kind;
  if (!kind_key) {
    error(name.source(), what + " has no \"actuator\"",
          std::string(run ? "say what it runs" : "say how to set the knob") +
              ": actuator = \"http\", \"exec\" or \"file\"");
    return;
  }
  if (!text(*kind_key, kind_it->second, kind)) return;
  const Keys* keys = nullptr;
  const char* article = "an";
  if (kind == "http") {
    a.kind = ActuatorConfig::Kind::Http, keys = &kHttpKeys;
  } else if (kind == "exec") {
    a.kind = ActuatorConfig::Kind::Exec, keys = &kExecKeys;
  } else if (kind == "file") {
    a.kind = ActuatorConfig::Kind::File, keys = &kFileKeys, article = "a";
  } else {
    std::string hint = did_you_mean(kind, {"http", "exec", "file"});
    error(kind_it->second.source(),
          "\"actuator\" must be \"http\", \"exec\" or \"file\", found " + quote(kind),
          hint.empty() ? "http sends a request, exec runs a program, file writes a file" : hint);
    return;
  }
  Keys allowed;
  for (std::string_view k : *keys)
    if (!run || !contains(kReadKeys, k)) allowed.push_back(k);
  if (run) a.http.body.clear(), a.file.content.clear();  // a run action has no value to send
  std::string kind_text = std::string(article) + " " + kind + " actuator";
  bool has_required = false;
  size_t errors_before = errors.size();  // a key that failed to read says enough
  const toml::node* signal_node = nullptr;
  const toml::node* pid_node = nullptr;
  const toml::node* pointer_node = nullptr;
  for (auto&& [key, node] : t) {
    std::string_view k = key.str();
    if (k == "actuator") continue;
    if (!contains(allowed, k)) {
      bool elsewhere = contains(kHttpKeys, k) || contains(kExecKeys, k) || contains(kFileKeys, k);
      if (!elsewhere) {
        unknown(key, what, allowed);
      } else if (run && contains(kReadKeys, k)) {
        error(key.source(), quote(k) + " is not a key of a [run.*] table",
              "an actuator that `action run` runs has no value to read back");
      } else {
        error(key.source(), quote(k) + " is not a key of " + kind_text,
              kind_text + " takes " + list_text(allowed));
      }
      continue;
    }
    std::vector<std::string> texts;  // what {value} may appear in
    if (k == "timeout") {
      duration(key, node, a.timeout_seconds, false);
    } else if (k == "retry") {
      retry(key, node, a.retry);
    } else if (k == "method") {
      std::string m;
      if (!text(key, node, m)) continue;
      if (contains(kMethods, m)) {
        a.http.method = m;
        continue;
      }
      std::string upper = m;
      for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      error(node.source(), "\"method\" must be PUT, POST, PATCH or GET, found " + quote(m),
            contains(kMethods, upper) ? "write it in capitals: \"" + upper + "\"" : "");
    } else if (k == "url" || k == "read_url") {
      has_required |= k == "url";
      if (url(key, node, k == "url" ? a.http.url : a.http.read_url) && k == "url")
        texts.push_back(a.http.url);
    } else if (k == "body") {
      if (text(key, node, a.http.body, true)) texts.push_back(a.http.body);
    } else if (k == "headers") {
      string_table(key, node, a.http.headers, false);
    } else if (k == "read_json_pointer") {
      if (text(key, node, a.http.read_json_pointer, true)) pointer_node = &node;
      if (!a.http.read_json_pointer.empty() && a.http.read_json_pointer[0] != '/') {
        error(
            node.source(),
            "\"read_json_pointer\" must start with \"/\", found " + quote(a.http.read_json_pointer),
            "it is a JSON pointer (RFC 6901): \"/value\" or \"/data/ttl\"");
      }
    } else if (k == "argv" || k == "read_argv" || k == "reload_argv") {
      std::vector<std::string>& list = k == "argv"        ? a.exec.argv
                                       : k == "read_argv" ? a.exec.read_argv
                                                          : a.file.reload_argv;
      has_required |= k == "argv";
      argv(key, node, list);
      if (k == "argv") texts = list;
    } else if (k == "path") {
      has_required = true;
      path(key, node, a.file.path);
    } else if (k == "content") {
      if (text(key, node, a.file.content, true)) texts.push_back(a.file.content);
    } else if (k == "reload_pid_file") {
      if (path(key, node, a.file.reload_pid_file)) pid_node = &node;
    } else if (k == "reload_signal") {
      std::string s;
      if (!text(key, node, s)) continue;
      signal_node = &node;
      auto sig = std::find_if(std::begin(kSignals), std::end(kSignals),
                              [&](const auto& x) { return x.name == s; });
      if (sig == std::end(kSignals)) {
        error(node.source(), "\"reload_signal\" is not a signal setpoint sends: " + quote(s),
              "use SIGHUP, SIGUSR1, SIGUSR2, SIGINT, SIGTERM, SIGQUIT, SIGCONT or SIGWINCH");
      } else {
        a.file.reload_signal = sig->number;
      }
    }
    if (run && std::any_of(texts.begin(), texts.end(), holds_value)) {
      error(node.source(), quote(k) + " holds {value}, but `action run` passes no value",
            "a [run.*] table does the same thing each time: remove {value}");
    }
  }
  if (!has_required) {
    const char* need = a.kind == ActuatorConfig::Kind::Http   ? "\"url\""
                       : a.kind == ActuatorConfig::Kind::Exec ? "\"argv\""
                                                              : "\"path\"";
    const char* hint =
        a.kind == ActuatorConfig::Kind::Http
            ? "say where to send the request: url = \"http://127.0.0.1:8080/admin/knobs/cache_ttl\""
        : a.kind == ActuatorConfig::Kind::Exec
            ? "say what to run, as a list: argv = [\"/usr/local/bin/set-workers\", \"{value}\"]"
            : "say which file to write: path = \"/etc/myapp/gc_percent\"";
    error(name.source(), what + " has no " + need, hint);
  } else if (!run && errors.size() == errors_before) {
    bool sent = a.kind == ActuatorConfig::Kind::Http
                    ? holds_value(a.http.url) || holds_value(a.http.body)
                : a.kind == ActuatorConfig::Kind::Exec
                    ? std::any_of(a.exec.argv.begin(), a.exec.argv.end(), holds_value)
                    : holds_value(a.file.content);
    if (!sent) {
      const char* where = a.kind == ActuatorConfig::Kind::Http
                              ? "neither \"url\" nor \"body\" holds"
                          : a.kind == ActuatorConfig::Kind::Exec ? "no element of \"argv\" holds"
                                                                 : "\"content\" does not hold";
      error(name.source(), what + " never passes the knob's value: " + where + " {value}",
            "{value} is replaced by the new value, as in body = '{\"value\": {value}}'");
    }
  }
  if (pointer_node && a.http.read_url.empty()) {
    error(pointer_node->source(), "\"read_json_pointer\" needs a \"read_url\"",
          "it says where the value is in the response to a GET of read_url");
  }
  if (signal_node && !pid_node) {
    error(signal_node->source(), "\"reload_signal\" needs a \"reload_pid_file\"",
          "the signal goes to the process whose pid the file holds");
  }
  if (pid_node && a.file.reload_signal == 0) a.file.reload_signal = SIGHUP;
  out.push_back(std::move(a));
}

}  // namespace

std::string config_error_text(std::string_view file, const ConfigError& e) {
  std::string out(file.empty() ? "<input>" : file);
  if (e.pos.line > 0) out += ":" + std::to_string(e.pos.line) + ":" + std::to_string(e.pos.column);
  out += ": " + e.message;
  if (!e.hint.empty()) out += "; hint: " + e.hint;
  return out;
}

DaemonConfig read_daemon_config(std::string_view text, const std::string& path,
                                std::vector<ConfigError>& errors) {
  std::error_code ec;
  fs::path file = path.empty() ? fs::path("setpoint.toml") : fs::path(path);
  fs::path absolute = fs::absolute(file, ec).lexically_normal();
  DaemonConfigReader reader(absolute.parent_path());
  DaemonConfig config;
  config.path = absolute.string();
  try {
    toml::table root = toml::parse(text, std::string_view(path));
    reader.document(root, config);
  } catch (const toml::parse_error& e) {
    reader.error(e.source(), "invalid TOML: " + std::string(e.description()));
  }
  std::stable_sort(reader.errors.begin(), reader.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) { return before(a.pos, b.pos); });
  errors.insert(errors.end(), reader.errors.begin(), reader.errors.end());
  return config;
}

std::optional<DaemonConfig> parse_daemon_config(std::string_view text, const std::string& path,
                                                std::vector<std::string>& errors) {
  std::vector<ConfigError> found;
  DaemonConfig config = read_daemon_config(text, path, found);
  for (const ConfigError& e : found) errors.push_back(config_error_text(path, e));
  if (!found.empty()) return std::nullopt;
  return config;
}

std::optional<DaemonConfig> load_daemon_config(const std::string& path,
                                               std::vector<std::string>& errors) {
  std::string text, error;
  if (!read_file(path, kMaxConfigBytes, text, error)) {
    errors.push_back(path + ": " + error);
    return std::nullopt;
  }
  if (text.size() > kMaxConfigBytes) {
    errors.push_back(path + ": larger than 1MiB; is this the config?");
    return std::nullopt;
  }
  return parse_daemon_config(text, path, errors);
}

}  // namespace setpoint
