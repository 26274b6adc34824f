// EngineState <-> JSON with nlohmann::json. Labels are objects, doubles that may be NaN are
// written as null (JSON has no NaN), and a version field lets a later release migrate.
#include "runtime/engine_state_json.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

namespace setpoint {
namespace {

using nlohmann::json;
constexpr int kVersion = 1;

json labels_json(const Labels& labels) {
  json o = json::object();
  for (const Label& l : labels) o[l.name] = l.value;
  return o;
}

Labels labels_from(const json& o) {
  Labels out;
  for (const auto& [k, v] : o.items()) out.push_back({k, v.get<std::string>()});
  std::sort(out.begin(), out.end(), [](const Label& a, const Label& b) { return a.name < b.name; });
  return out;
}

json number(double v) { return std::isnan(v) ? json(nullptr) : json(v); }
double number_from(const json& v) { return v.is_null() ? NAN : v.get<double>(); }

json optional_time(const std::optional<int64_t>& t) { return t ? json(*t) : json(nullptr); }
std::optional<int64_t> optional_time_from(const json& v) {
  if (v.is_null()) return std::nullopt;
  return v.get<int64_t>();
}

json policy_json(const EngineState::PolicyState& p) {
  json instances = json::array();
  for (const EngineState::InstanceState& i : p.instances) {
    instances.push_back({{"labels", labels_json(i.labels)},
                         {"active_since", i.active_since},
                         {"firing", i.firing},
                         {"acted", i.acted}});
  }
  return {{"name", p.name},
          {"instances", instances},
          {"last_action", optional_time(p.last_action_ms)},
          {"action_times", p.action_times},
          {"consecutive_failures", p.consecutive_failures},
          {"consecutive_errors", p.consecutive_errors},
          {"inconclusive", p.inconclusive},
          {"quarantined", p.quarantined},
          {"quarantine_reason", p.quarantine_reason},
          {"paused", p.paused}};
}

// Throws (nlohmann::json's exceptions) on a missing field or a wrong type.
EngineState::PolicyState policy_from(const json& p) {
  EngineState::PolicyState ps;
  ps.name = p.at("name").get<std::string>();
  for (const json& i : p.at("instances")) {
    ps.instances.push_back({labels_from(i.at("labels")), i.at("active_since").get<int64_t>(),
                            i.at("firing").get<bool>(), i.at("acted").get<bool>()});
  }
  ps.last_action_ms = optional_time_from(p.at("last_action"));
  ps.action_times = p.at("action_times").get<std::vector<int64_t>>();
  ps.consecutive_failures = p.at("consecutive_failures").get<int>();
  // Added after the first release of this format: absent in older state, which had none.
  ps.consecutive_errors = p.value("consecutive_errors", 0);
  ps.inconclusive = p.value("inconclusive", 0);
  ps.quarantined = p.at("quarantined").get<bool>();
  ps.quarantine_reason = p.value("quarantine_reason", std::string());
  ps.paused = p.at("paused").get<bool>();
  return ps;
}

}  // namespace

std::string policy_state_to_json(const EngineState::PolicyState& state) {
  return policy_json(state).dump();
}

std::optional<EngineState::PolicyState> policy_state_from_json(const std::string& text,
                                                               std::string& error) {
  try {
    return policy_from(json::parse(text));
  } catch (const std::exception& e) {
    error = std::string("policy state: ") + e.what();
    return std::nullopt;
  }
}

std::string engine_state_to_json(const EngineState& s) {
  json j;
  j["version"] = kVersion;
  json policies = json::array();
  for (const EngineState::PolicyState& p : s.policies) policies.push_back(policy_json(p));
  j["policies"] = policies;
  json actions = json::array();
  for (const EngineState::Action& a : s.actions) {
    actions.push_back({{"id", a.id},
                       {"policy", a.policy},
                       {"instance", labels_json(a.instance)},
                       {"t", a.t_ms},
                       {"knob", a.knob},
                       {"before", number(a.before)},
                       {"after", number(a.after)},
                       {"undone", a.undone}});
  }
  j["actions"] = actions;
  json validations = json::array();
  for (const EngineState::ValidationState& v : s.validations) {
    json baselines = json::array();
    for (const auto& values : v.expect_baselines) {
      json one = json::array();
      for (double x : values) one.push_back(number(x));
      baselines.push_back(one);
    }
    json rollback = json::array();
    for (const auto& per_series : v.rollback_baselines) {
      json one = json::array();
      for (const auto& [l, x] : per_series)
        one.push_back({{"labels", labels_json(l)}, {"value", number(x)}});
      rollback.push_back(one);
    }
    validations.push_back({{"action", v.action},
                           {"policy", v.policy},
                           {"instance", labels_json(v.instance)},
                           {"applied", v.applied_ms},
                           {"since", v.since_ms},
                           {"settle", v.settle_ms},
                           {"end", v.end_ms},
                           {"knobs", v.knobs},
                           {"expect_baselines", baselines},
                           {"expect_baseline_series", v.expect_baseline_series},
                           {"rollback_baselines", rollback},
                           {"error", v.error}});
  }
  j["validations"] = validations;
  json recoveries = json::array();
  for (const EngineState::RecoveryState& r : s.recoveries) {
    json baselines = json::array();
    for (const auto& values : r.expect_baselines) {
      json one = json::array();
      for (double x : values) one.push_back(number(x));
      baselines.push_back(one);
    }
    recoveries.push_back({{"action", r.action},
                          {"policy", r.policy},
                          {"instance", labels_json(r.instance)},
                          {"rolled_back", r.rolled_back_ms},
                          {"settle", r.settle_ms},
                          {"end", r.end_ms},
                          {"knobs", r.knobs},
                          {"expect_baselines", baselines},
                          {"expect_baseline_series", r.expect_baseline_series}});
  }
  j["recoveries"] = recoveries;
  json proposals = json::array();
  for (const EngineState::Proposal& p : s.proposals) {
    json steps = json::array();
    for (const auto& [knob, value] : p.steps)
      steps.push_back({{"knob", knob}, {"value", number(value)}});
    proposals.push_back({{"id", p.id},
                         {"policy", p.policy},
                         {"instance", labels_json(p.instance)},
                         {"t", p.t_ms},
                         {"since", p.since_ms},
                         {"steps", steps}});
  }
  j["proposals"] = proposals;
  json histories = json::array();
  for (const EngineState::KnobHistoryState& h : s.knob_histories) {
    json recommendations = json::array(), changes = json::array();
    for (const DampingRecommendation& r : h.recommendations)
      recommendations.push_back({{"t", r.t_ms}, {"value", number(r.value)}});
    for (const DampingChange& c : h.changes)
      changes.push_back({{"t", c.t_ms}, {"delta", number(c.delta)}, {"action", c.action}});
    histories.push_back(
        {{"knob", h.knob}, {"recommendations", recommendations}, {"changes", changes}});
  }
  j["knob_histories"] = histories;
  json knobs = json::object();
  for (const auto& [k, v] : s.knobs) knobs[k] = number(v);
  j["knobs"] = knobs;
  j["paused_until"] = optional_time(s.paused_until);
  j["pause_reason"] = s.pause_reason;
  j["last_eval"] = optional_time(s.last_eval_ms);
  j["next_action"] = s.next_action;
  return j.dump();
}

std::optional<EngineState> engine_state_from_json(const std::string& text, std::string& error) {
  try {
    json j = json::parse(text);
    if (j.value("version", 0) != kVersion) {
      error = "engine state version " + std::to_string(j.value("version", 0)) + " is not " +
              std::to_string(kVersion);
      return std::nullopt;
    }
    EngineState s;
    for (const json& p : j.at("policies")) s.policies.push_back(policy_from(p));
    for (const json& a : j.at("actions")) {
      s.actions.push_back({a.at("id").get<uint64_t>(), a.at("policy").get<std::string>(),
                           labels_from(a.at("instance")), a.at("t").get<int64_t>(),
                           a.at("knob").get<std::string>(), number_from(a.at("before")),
                           number_from(a.at("after")), a.at("undone").get<bool>()});
    }
    for (const json& v : j.at("validations")) {
      EngineState::ValidationState vs;
      vs.action = v.at("action").get<uint64_t>();
      vs.policy = v.at("policy").get<std::string>();
      vs.instance = labels_from(v.at("instance"));
      vs.applied_ms = v.at("applied").get<int64_t>();
      vs.since_ms = v.at("since").get<int64_t>();
      vs.settle_ms = v.at("settle").get<int64_t>();
      vs.end_ms = v.at("end").get<int64_t>();
      vs.knobs = v.at("knobs").get<std::vector<std::string>>();
      for (const json& one : v.at("expect_baselines")) {
        std::vector<double> values;
        for (const json& x : one) values.push_back(number_from(x));
        vs.expect_baselines.push_back(std::move(values));
      }
      vs.expect_baseline_series = v.at("expect_baseline_series").get<std::vector<size_t>>();
      for (const json& one : v.at("rollback_baselines")) {
        std::vector<std::pair<Labels, double>> values;
        for (const json& x : one)
          values.emplace_back(labels_from(x.at("labels")), number_from(x.at("value")));
        vs.rollback_baselines.push_back(std::move(values));
      }
      vs.error = v.value("error", std::string());
      if (vs.expect_baseline_series.size() != vs.expect_baselines.size()) {
        error = "a validation's baselines do not match their series counts";
        return std::nullopt;
      }
      s.validations.push_back(std::move(vs));
    }
    // Added after the first release of this format: older state had no recovery checks.
    for (const json& r : j.value("recoveries", json::array())) {
      EngineState::RecoveryState rs;
      rs.action = r.at("action").get<uint64_t>();
      rs.policy = r.at("policy").get<std::string>();
      rs.instance = labels_from(r.at("instance"));
      rs.rolled_back_ms = r.at("rolled_back").get<int64_t>();
      rs.settle_ms = r.at("settle").get<int64_t>();
      rs.end_ms = r.at("end").get<int64_t>();
      rs.knobs = r.at("knobs").get<std::vector<std::string>>();
      for (const json& one : r.at("expect_baselines")) {
        std::vector<double> values;
        for (const json& x : one) values.push_back(number_from(x));
        rs.expect_baselines.push_back(std::move(values));
      }
      rs.expect_baseline_series = r.at("expect_baseline_series").get<std::vector<size_t>>();
      if (rs.expect_baseline_series.size() != rs.expect_baselines.size()) {
        error = "a recovery check's baselines do not match their series counts";
        return std::nullopt;
      }
      s.recoveries.push_back(std::move(rs));
    }
    for (const json& p : j.at("proposals")) {
      EngineState::Proposal pr;
      pr.id = p.at("id").get<uint64_t>();
      pr.policy = p.at("policy").get<std::string>();
      pr.instance = labels_from(p.at("instance"));
      pr.t_ms = p.at("t").get<int64_t>();
      pr.since_ms = p.at("since").get<int64_t>();
      for (const json& st : p.at("steps"))
        pr.steps.emplace_back(st.at("knob").get<std::string>(), number_from(st.at("value")));
      s.proposals.push_back(std::move(pr));
    }
    for (const json& h : j.value("knob_histories", json::array())) {
      EngineState::KnobHistoryState hs;
      hs.knob = h.at("knob").get<std::string>();
      for (const json& r : h.at("recommendations")) {
        double value = number_from(r.at("value"));
        if (!std::isnan(value)) hs.recommendations.push_back({r.at("t").get<int64_t>(), value});
      }
      for (const json& c : h.at("changes")) {
        double delta = number_from(c.at("delta"));
        if (!std::isnan(delta))
          hs.changes.push_back({c.at("t").get<int64_t>(), delta, c.at("action").get<uint64_t>()});
      }
      s.knob_histories.push_back(std::move(hs));
    }
    for (const auto& [k, v] : j.at("knobs").items()) {
      double value = number_from(v);
      if (!std::isnan(value)) s.knobs[k] = value;
    }
    s.paused_until = optional_time_from(j.at("paused_until"));
    s.pause_reason = j.at("pause_reason").get<std::string>();
    s.last_eval_ms = optional_time_from(j.at("last_eval"));
    s.next_action = j.at("next_action").get<uint64_t>();
    return s;
  } catch (const std::exception& e) {
    error = std::string("engine state: ") + e.what();
    return std::nullopt;
  }
}

std::optional<EngineState> engine_state_from_json(
    const std::string& shared, const std::vector<std::pair<std::string, std::string>>& rows,
    std::string& error) {
  std::optional<EngineState> s = engine_state_from_json(shared, error);
  if (!s) return std::nullopt;
  std::map<std::string, size_t, std::less<>> by_name;
  for (size_t i = 0; i < s->policies.size(); ++i) by_name[s->policies[i].name] = i;
  for (const auto& [name, text] : rows) {
    std::optional<EngineState::PolicyState> ps = policy_state_from_json(text, error);
    if (!ps) return std::nullopt;
    if (ps->name != name) {
      error = "policy state: the row of " + name + " holds the state of " + ps->name;
      return std::nullopt;
    }
    auto [it, added] = by_name.try_emplace(ps->name, s->policies.size());
    if (added) {
      s->policies.push_back(std::move(*ps));
    } else {
      s->policies[it->second] = std::move(*ps);
    }
  }
  return s;
}

}  // namespace setpoint
