// `setpoint ctl COMMAND...`: the command-line client of a running daemon's control API. It
// finds the daemon and its token through the same setpoint.toml, or --address and --token-file.
#include <curl/curl.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "runtime/daemon_config.h"
#include "runtime/report.h"

namespace setpoint {
namespace {

using nlohmann::json;

struct Call {
  std::string method = "GET";
  std::string path;
  json body;
  bool stream = false;
};

size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t print_through(char* data, size_t size, size_t n, void*) {
  std::cout.write(data, static_cast<std::streamsize>(size * n));
  std::cout.flush();
  return size * n;
}

// "30m", "2h", "90s", "45" (seconds) -> seconds; negative when not a duration.
double duration_seconds(const std::string& text) {
  if (text.empty()) return -1;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  std::string unit(end);
  if (unit.empty() || unit == "s") return v;
  if (unit == "m") return v * 60;
  if (unit == "h") return v * 3600;
  if (unit == "d") return v * 86400;
  return -1;
}

bool parse_call(const std::vector<std::string>& w, Call& c, std::string& error) {
  const std::string& verb = w[0];
  auto arg = [&](size_t i) { return i < w.size() ? w[i] : std::string(); };
  auto number_id = [&](json& body) {
    char* end = nullptr;
    unsigned long long id = std::strtoull(arg(1).c_str(), &end, 10);
    if (arg(1).empty() || *end) {
      error = verb + " takes an action or proposal number";
      return false;
    }
    body = {{"id", id}};
    return true;
  };
  if (verb == "status" || verb == "policies" || verb == "actions") {
    c.path = "/api/v1/" + verb;
  } else if (verb == "history") {
    c.path = "/api/v1/history" + (arg(1).empty() ? "" : "?limit=" + arg(1));
  } else if (verb == "metrics") {
    c.path = "/metrics";
  } else if (verb == "report") {
    c.path = "/api/v1/report";
  } else if (verb == "events") {
    c.path = "/api/v1/events";
    c.stream = true;
  } else if (verb == "pause" || verb == "resume" || verb == "release") {
    c.method = "POST";
    c.path = "/api/v1/" + verb;
    c.body = json::object();
    if (!arg(1).empty()) c.body["policy"] = arg(1);
    if (verb == "release" && arg(1).empty()) {
      error = "release takes the name of a quarantined policy";
      return false;
    }
    if (verb == "pause" && !arg(2).empty()) {
      double s = duration_seconds(arg(2));
      if (s <= 0) {
        error = "pause POLICY DURATION: the duration is like 30m or 2h";
        return false;
      }
      c.body["for"] = s;
    }
  } else if (verb == "approve" || verb == "reject" || verb == "rollback") {
    c.method = "POST";
    c.path = "/api/v1/" + verb;
    if (!number_id(c.body)) return false;
  } else if (verb == "emergency-stop") {
    c.method = "POST";
    c.path = "/api/v1/emergency-stop";
    c.body = json::object();
    if (!arg(1).empty()) {
      double s = duration_seconds(arg(1));
      if (s < 0) {
        error = "emergency-stop [SINCE]: roll back the actions of the last SINCE, like 30m";
        return false;
      }
      c.body["since"] = static_cast<double>(std::time(nullptr)) - s;
    }
  } else if (verb == "reload") {
    c.method = "POST";
    c.path = "/api/v1/reload";
    c.body = json::object();
  } else {
    error = "unknown command '" + verb + "'";
    return false;
  }
  return true;
}

// 30 rather than 30.0: knob values as an operator writes them.
std::string number_text(const json& v) {
  if (!v.is_number()) return v.dump();
  double d = v.get<double>();
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", d);
  return buffer;
}

void print_text(const std::string& verb, const json& j) {
  if (verb == "status" && j.is_object()) {
    std::cout << "policy set " << j.value("policy_set", "").substr(0, 12) << ": "
              << j.value("policies", 0) << " policies"
              << (j.value("dry_run", false) ? " (dry run)" : "") << "\n";
    std::cout << "paused: "
              << (j.value("paused", false) ? "yes, by " + j.value("pause_reason", std::string())
                                           : "no")
              << "\n";
    std::cout << "series: " << j.value("series", 0)
              << ", actions in flight: " << j.value("actions_in_flight", 0) << "\n";
    for (const json& s : j["sources"]) {
      std::cout << "source " << s.value("name", "") << " (" << s.value("kind", "") << "): "
                << (s.value("up", false) ? "up" : "down: " + s.value("last_error", std::string()))
                << ", " << s.value("samples", 0) << " samples\n";
    }
    for (const auto& [k, v] : j["knobs"].items())
      std::cout << "knob " << k << " = " << number_text(v) << "\n";
    for (const json& v : j["validations"]) {
      std::cout << "validating action " << v.value("action", 0) << " of " << v.value("policy", "")
                << "\n";
    }
    for (const json& p : j["proposals"]) {
      std::cout << "proposal " << p.value("id", 0) << " of " << p.value("policy", "") << ": set "
                << p["set"].dump() << "\n";
    }
    for (const json& e : j["reload_errors"])
      std::cout << "reload error: " << e.get<std::string>() << "\n";
    return;
  }
  if (verb == "policies" && j.is_array()) {
    for (const json& p : j) {
      std::cout << p.value("name", "") << " [" << p.value("mode", "") << "]"
                << (p.value("paused", false) ? " paused" : "")
                << (p.value("quarantined", false) ? " quarantined" : "");
      for (const json& i : p["instances"])
        std::cout << " " << i["labels"].dump() << "=" << i.value("state", "");
      std::cout << "\n";
    }
    return;
  }
  std::cout << j.dump(2) << "\n";
}

}  // namespace

int run_ctl(const CtlCommand& cmd) {
  std::string address = cmd.address, token_file = cmd.token_file;
  if (!cmd.config.empty()) {
    std::vector<std::string> errors;
    std::optional<DaemonConfig> config = load_daemon_config(cmd.config, errors);
    if (!config) {
      for (const std::string& e : errors) std::cerr << e << "\n";
      return 2;
    }
    if (address.empty()) address = config->control.listen;
    if (token_file.empty()) {
      token_file = config->control.token_file.empty() ? config->state_file + ".token"
                                                      : config->control.token_file;
    }
  }
  if (address.empty()) {
    std::cerr << "setpoint: ctl needs --config setpoint.toml, or --address\n";
    return 2;
  }
  Call call;
  std::string error;
  if (!parse_call(cmd.words, call, error)) {
    std::cerr << "setpoint: ctl: " << error << "\n";
    return 2;
  }
  if (!cmd.output.empty() && cmd.words[0] != "report") {
    std::cerr << "setpoint: ctl: -o FILE is for report only\n";
    return 2;
  }
  std::string token;
  if (call.method == "POST") {
    std::ifstream in(token_file);
    std::getline(in, token);
    if (token.empty()) {
      std::cerr << "setpoint: " << (token_file.empty() ? "no token file" : token_file)
                << ": cannot read the control token\n";
      return 2;
    }
  }

  CURL* curl = curl_easy_init();
  std::string url;
  if (address.rfind("unix:", 0) == 0) {
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, address.substr(5).c_str());
    url = "http://localhost" + call.path;
  } else {
    url = "http://" + address + call.path;
  }
  std::string response, body = call.body.is_null() ? "" : call.body.dump();
  curl_slist* headers = nullptr;
  std::string auth = "Authorization: Bearer " + token;
  if (!token.empty()) headers = curl_slist_append(headers, auth.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // The daemon is local: a proxy from the environment (http_proxy) must never see its token.
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
  if (!call.stream) curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  if (call.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, call.stream ? print_through : collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    std::cerr << "setpoint: " << address << ": " << curl_easy_strerror(rc) << "\n";
    return 2;
  }
  if (call.stream) return 0;
  if (cmd.words[0] == "metrics") {
    std::cout << response;
    return status == 200 ? 0 : 1;
  }
  json j = json::parse(response, nullptr, false);
  if (cmd.words[0] == "report" && status == 200) {
    if (cmd.output.empty() || cmd.output == "-") {
      std::cout << response << std::flush;
      return 0;
    }
    // As `run --report` writes it: atomically, so a reader never sees half a page.
    if (!write_report_file(cmd.output, response, error)) {
      std::cerr << "setpoint: " << error << "\n";
      return 2;
    }
    return 0;
  }
  if (status >= 400) {
    std::cerr << "setpoint: " << (j.is_object() ? j.value("error", response) : response) << "\n";
    if (j.is_object() && j.contains("diagnostics"))
      for (const json& d : j["diagnostics"]) std::cerr << d.get<std::string>() << "\n";
    return 1;
  }
  if (cmd.format == "json" || j.is_discarded()) {
    std::cout << response;
    return 0;
  }
  print_text(cmd.words[0], j);
  return 0;
}

}  // namespace setpoint
