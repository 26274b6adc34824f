// Parsing load profiles, the open-loop schedule, key choice, and the per-phase summary in text
// and JSON.
#include "examples/demo/load_profile.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

namespace setpoint {

namespace {

std::string number_text(double value) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

bool parse_number(std::string_view text, double& value) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && std::isfinite(value);
}

bool parse_duration(std::string_view text, double& seconds) {
  double scale = 1;
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    scale = 0.001;
    text.remove_suffix(2);
  } else if (!text.empty() && text.back() == 's') {
    text.remove_suffix(1);
  } else if (!text.empty() && text.back() == 'm') {
    scale = 60;
    text.remove_suffix(1);
  } else {
    return false;
  }
  double value = 0;
  if (!parse_number(text, value) || !(value > 0)) return false;
  seconds = value * scale;
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  // The same on every platform, unlike std::uniform_int_distribution; for n up to 10^5 the
  // modulo's bias is below 10^-14.
  return rng() % n;
}

}  // namespace

bool demo_parse_profile(std::string_view text, double max_rate, std::vector<DemoPhase>& phases,
                        std::string& error) {
  phases.clear();
  double total = 0;
  while (true) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    std::string quoted = "\"" + std::string(item.substr(0, 80)) + "\"";
    size_t colon = item.find(':');
    size_t at = item.find('@');
    if (colon == std::string_view::npos || at == std::string_view::npos || at < colon) {
      error = "phase " + quoted + " is not name:duration@rate (\"surge:30s@400\")";
      return false;
    }
    DemoPhase phase;
    phase.name = std::string(item.substr(0, colon));
    if (!valid_name(phase.name)) {
      error = "phase " + quoted + ": a name is 1 to 32 of a-z, 0-9, _ and -";
      return false;
    }
    if (!parse_duration(item.substr(colon + 1, at - colon - 1), phase.duration_seconds)) {
      error = "phase " + quoted + ": the duration must be more than 0 with a unit: 500ms, 10s, 2m";
      return false;
    }
    if (!parse_number(item.substr(at + 1), phase.asked_rate) || phase.asked_rate < 0) {
      error = "phase " + quoted + ": the rate must be a number of requests per second, 0 or more";
      return false;
    }
    phase.rate = std::min(phase.asked_rate, max_rate);
    phase.hot_keys = phase.name == "hotkey";
    total += phase.duration_seconds;
    phases.push_back(std::move(phase));
    if (phases.size() > kDemoMaxPhases) {
      error = "more than " + std::to_string(kDemoMaxPhases) + " phases";
      return false;
    }
    if (total > kDemoMaxRunSeconds) {
      error = "the phases last more than 24h together";
      return false;
    }
    if (comma == std::string_view::npos) return true;
    text.remove_prefix(comma + 1);
  }
}

uint64_t demo_phase_due(const DemoPhase& phase, double elapsed_seconds) {
  if (!(elapsed_seconds > 0)) return 0;
  if (elapsed_seconds >= phase.duration_seconds) {
    return static_cast<uint64_t>(std::llround(phase.rate * phase.duration_seconds));
  }
  return static_cast<uint64_t>(std::floor(phase.rate * elapsed_seconds));
}

uint64_t DemoKeyChooser::next(bool hot_phase) {
  // One draw decides hot or not in every phase, so the key sequence keeps its shape.
  bool hot = uniform_below(rng_, 1000) < static_cast<uint64_t>(kDemoHotShare * 1000);
  if (hot_phase && hot) return uniform_below(rng_, kDemoHotKeys);
  return uniform_below(rng_, kDemoKeySpace);
}

std::string demo_seconds_text(double seconds) { return number_text(seconds) + "s"; }

std::string demo_phase_notice(const DemoPhase& phase) {
  return "phase " + phase.name + ": " + number_text(phase.rate) + " req/s for " +
         demo_seconds_text(phase.duration_seconds);
}

std::string demo_phase_summary(const DemoPhase& phase, const DemoPhaseCounts& c) {
  return phase.name + " " + demo_seconds_text(phase.duration_seconds) + ": sent " +
         std::to_string(c.sent) + ", 200 " + std::to_string(c.ok) + ", 503 " +
         std::to_string(c.unavailable) + ", 504 " + std::to_string(c.gateway_timeout) +
         ", errors " + std::to_string(c.errors) + ", shed " + std::to_string(c.shed);
}

std::string demo_summary_json(const std::vector<DemoPhase>& phases,
                              const std::vector<DemoPhaseCounts>& counts) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (size_t i = 0; i < phases.size() && i < counts.size(); ++i) {
    const DemoPhaseCounts& c = counts[i];
    list.push_back(nlohmann::ordered_json{{"name", phases[i].name},
                                          {"duration_seconds", phases[i].duration_seconds},
                                          {"rate", phases[i].rate},
                                          {"sent", c.sent},
                                          {"200", c.ok},
                                          {"503", c.unavailable},
                                          {"504", c.gateway_timeout},
                                          {"errors", c.errors},
                                          {"shed", c.shed}});
  }
  return nlohmann::ordered_json{{"phases", list}}.dump(2) + "\n";
}

}  // namespace setpoint
