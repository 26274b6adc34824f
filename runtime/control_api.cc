// The daemon's control API: what an operator (or `setpoint ctl`) can see and do. Reads are open
// on the loopback listener; every call that changes something needs the bearer token.
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/daemon.h"
#include "runtime/event_json.h"
#include "runtime/http_server.h"
#include "runtime/metrics_reader.h"
#include "runtime/state_store.h"

namespace setpoint {
namespace {

using nlohmann::json;

HttpReply reply(int status, json body) {
  HttpReply r;
  r.response.status = status;
  r.response.body = body.dump() + "\n";
  return r;
}

HttpReply error_reply(int status, const std::string& message) {
  return reply(status, json{{"error", message}});
}

json labels_json(const Labels& labels) {
  json o = json::object();
  for (const Label& l : labels) o[l.name] = l.value;
  return o;
}

json time_json(std::optional<int64_t> t) {
  if (!t || *t == std::numeric_limits<int64_t>::max()) return nullptr;
  return static_cast<double>(*t) / 1000.0;
}

// Pushed samples go into the window store, within the push source's series bound.
class PushSink : public SampleSink {
 public:
  PushSink(WindowStore& store, size_t max_series) : store_(store), max_series_(max_series) {}
  uint32_t series(const Labels& labels) override {
    if (++seen_ > max_series_) {
      ++rejected;
      return kRejectedSeries;
    }
    return store_.series(labels);
  }
  void sample(uint32_t series, int64_t t_ms, double value) override {
    if (store_.append(series, t_ms, value) == WindowStore::Append::Accepted) ++accepted;
  }
  uint64_t accepted = 0, rejected = 0;

 private:
  WindowStore& store_;
  size_t max_series_;
  size_t seen_ = 0;
};

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool is_verdict(EventKind k) {
  return k == EventKind::Confirmed || k == EventKind::Regressed || k == EventKind::Inconclusive;
}

// The reason check_validations() gives a rollback it makes because a rollback condition held.
constexpr std::string_view kRollbackCondition = "rollback condition held: ";

}  // namespace

// The engine reports a verdict per `expect` and counts one outcome per validation; its events
// carry no outcome of their own, so it is told from them as count_outcome() is called:
// - a run of verdict events (confirmed, regressed, inconclusive) of one action is one
//   validation: failed if one regressed; else an error if an inconclusive one says that its
//   expectation could not be measured (Event::error); else inconclusive if one is; else
//   confirmed;
// - a run of rolled_back events "rollback condition held: ..." of one policy and instance is one
//   validation that failed (the engine undoes every knob of the action, then counts once);
// - action_failed: the engine counts an actuator that could not apply a change as an error of
//   its policy (`quarantine after N errors`), and so does this;
// - a validation of a policy without an `expect` (rollback conditions only) ends confirmed
//   with no event at all: it is confirmed when it leaves the engine's open validations in a
//   call without an action_failed, its action not rolled back (which the engine does not
//   count) and no verdict event of its own (an error, counted above).
// Rollbacks for any other reason (a regression, `on inconclusive rollback`, a quarantine, an
// operator, an emergency) follow an outcome already counted, or are none.
void ValidationTally::count(const std::vector<Event>& events, const std::vector<uint64_t>* open) {
  bool action_failed = false;
  std::set<uint64_t> undone, judged;  // actions rolled back; actions with a verdict event
  for (size_t i = 0; i < events.size();) {
    const Event& e = events[i];
    size_t next = i + 1;
    if (is_verdict(e.kind)) {
      bool regressed = false, error = false, inconclusive = false;
      judged.insert(e.action);
      for (next = i; next < events.size() && is_verdict(events[next].kind) &&
                     events[next].action == e.action && events[next].policy == e.policy;
           ++next) {
        const Event& v = events[next];
        regressed |= v.kind == EventKind::Regressed;
        if (v.kind == EventKind::Inconclusive) (v.error ? error : inconclusive) = true;
      }
      ++totals_[regressed ? Failed : error ? Error : inconclusive ? Inconclusive : Confirmed];
    } else if (e.kind == EventKind::RolledBack && starts_with(e.reason, kRollbackCondition)) {
      while (next < events.size() && events[next].kind == EventKind::RolledBack &&
             events[next].reason == e.reason && events[next].policy == e.policy &&
             events[next].instance == e.instance) {
        undone.insert(events[next].action);
        ++next;
      }
      undone.insert(e.action);
      ++totals_[Failed];
    } else if (e.kind == EventKind::RolledBack) {
      undone.insert(e.action);
    } else if (e.kind == EventKind::ActionFailed) {
      action_failed = true;
      ++totals_[Error];
    }
    i = next;
  }
  if (!open) return;
  for (auto it = silent_.begin(); it != silent_.end();) {
    auto& [action, rolled_back] = *it;
    rolled_back |= undone.count(action) > 0;
    if (std::find(open->begin(), open->end(), action) != open->end()) {
      ++it;
      continue;
    }
    if (!action_failed && !rolled_back && !judged.count(action)) ++totals_[Confirmed];
    it = silent_.erase(it);
  }
  for (uint64_t action : *open) silent_.emplace(action, undone.count(action) > 0);
}

void ValidationTally::sync(const std::vector<uint64_t>& open) {
  std::map<uint64_t, bool> still;  // a rollback seen before a reload still holds after it
  for (uint64_t action : open) {
    auto known = silent_.find(action);
    still.emplace(action, known != silent_.end() && known->second);
  }
  silent_ = std::move(still);
}

HttpReply Daemon::route(const HttpRequest& request) {
  const std::string& path = request.path;
  if (request.method == "GET") {
    if (path == "/metrics") {
      HttpReply r;
      r.response.content_type = "text/plain; version=0.0.4";
      r.response.body = metrics_text();
      return r;
    }
    if (path == "/api/v1/status") {
      HttpReply r;
      r.response.body = status_json() + "\n";
      return r;
    }
    if (path == "/api/v1/report") {
      // Built on the loop from what the daemon holds now, as --report builds it at exit.
      HttpReply r;
      r.response.content_type = "text/html; charset=utf-8";
      r.response.headers.emplace_back("Cache-Control", "no-store");
      r.response.body = output_->report_html(loaded_->set, *store_, now_ms(), true);
      return r;
    }
    if (path == "/api/v1/policies") {
      HttpReply r;
      r.response.body = policies_json() + "\n";
      return r;
    }
    if (path == "/api/v1/history") {
      uint64_t after = 0;
      size_t limit = 100;
      if (auto a = request.query_param("after")) after = std::strtoull(a->c_str(), nullptr, 10);
      if (auto l = request.query_param("limit"))
        limit = std::clamp<size_t>(std::strtoull(l->c_str(), nullptr, 10), 1, 1000);
      json records = json::array();
      for (const AuditRecord& a : state_->audit(after, limit)) {
        json body = json::parse(a.body, nullptr, false);
        records.push_back({{"seq", a.seq},
                           {"time", static_cast<double>(a.t_ms) / 1000.0},
                           {"kind", a.kind},
                           {"body", body.is_discarded() ? json(a.body) : body},
                           {"hash", a.hash}});
      }
      return reply(200, records);
    }
    if (path == "/api/v1/actions") {
      json actions = json::array();
      for (const StoredAction& a : state_->actions(200)) {
        actions.push_back({{"id", a.id},
                           {"time", static_cast<double>(a.t_ms) / 1000.0},
                           {"policy", a.policy},
                           {"instance", a.instance},
                           {"knob", a.knob},
                           {"before", std::isnan(a.before) ? json(nullptr) : json(a.before)},
                           {"after", std::isnan(a.after) ? json(nullptr) : json(a.after)},
                           {"status", a.status},
                           {"error", a.error}});
      }
      return reply(200, actions);
    }
    if (path == "/api/v1/events") {
      HttpReply r;
      r.response.content_type = "text/event-stream";
      r.response.headers.emplace_back("Cache-Control", "no-store");
      r.stream = [this](std::shared_ptr<HttpStream> s) {
        constexpr size_t kMaxStreams = 16;
        if (streams_.size() >= kMaxStreams) {
          s->send("event: error\ndata: {\"error\":\"too many event streams\"}\n\n");
          s->close();
          return;
        }
        s->send(": setpoint event stream\n\n");
        streams_.push_back(std::move(s));
      };
      return r;
    }
    return error_reply(404, "no such endpoint: GET " + path);
  }
  if (request.method != "POST") return error_reply(405, "use GET or POST");

  // Everything below changes something: the bearer token, compared in constant time.
  const std::string* auth = request.header("authorization");
  std::string expected = "Bearer " + token_;
  if (!auth || auth->size() != expected.size() ||
      CRYPTO_memcmp(auth->data(), expected.data(), expected.size()) != 0) {
    HttpReply r = error_reply(401, "a valid bearer token is required");
    r.response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  if (path == "/api/v1/push") {
    if (!config_.push.enabled) return error_reply(404, "the push source is not enabled");
    if (request.body.size() > config_.push.max_body_bytes)
      return error_reply(413, "the body is larger than the push source's max_body");
    PushSink sink(*store_, config_.push.max_series);
    ReadOptions options;
    options.default_t_ms = sample_ms();
    ReadReport report =
        read_metrics(request.body, MetricsFormat::PrometheusText, "push", sink, options);
    push_health_.attempts++;
    push_health_.last_attempt_ms = push_health_.last_success_ms = now_ms();
    push_health_.up = true;
    push_health_.samples += sink.accepted;
    push_health_.skipped_lines += report.skipped;
    push_health_.rejected_series += sink.rejected;
    counters_.samples_pushed += sink.accepted;
    evaluate();
    return reply(200, json{{"accepted", sink.accepted},
                           {"skipped_lines", report.skipped},
                           {"rejected_series", sink.rejected},
                           {"errors", report.errors}});
  }
  return control(request);
}

HttpReply Daemon::control(const HttpRequest& request) {
  json body = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return error_reply(400, "the body is not a JSON object");
  auto text = [&](const char* key) {
    return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : "";
  };
  auto id = [&]() -> uint64_t {
    return body.contains("id") && body["id"].is_number_unsigned() ? body["id"].get<uint64_t>() : 0;
  };
  const std::string& path = request.path;
  int64_t t = now_ms();
  Engine& engine = *loaded_->engine;
  std::string error;
  std::vector<Event> events;
  if (path == "/api/v1/reload") {
    reload("control API");
    if (!reload_errors_.empty())
      return reply(422,
                   json{{"error", "the policies have errors"}, {"diagnostics", reload_errors_}});
    return reply(200, json{{"policy_set", loaded_->hash}});
  }
  if (path == "/api/v1/pause") {
    std::optional<int64_t> until;
    if (body.contains("for") && body["for"].is_number()) {
      until = t + static_cast<int64_t>(body["for"].get<double>() * 1000);
    }
    events = engine.pause(text("policy"), t, until, &error);
  } else if (path == "/api/v1/resume") {
    events = engine.resume(text("policy"), t, &error);
  } else if (path == "/api/v1/release") {
    events = engine.release(text("policy"), t, &error);
  } else if (path == "/api/v1/approve") {
    events = engine.approve(id(), t, &error);
  } else if (path == "/api/v1/reject") {
    events = engine.reject(id(), t, &error);
  } else if (path == "/api/v1/rollback") {
    events = engine.rollback(id(), t, &error);
  } else if (path == "/api/v1/emergency-stop") {
    int64_t since = 0;  // default: every action this daemon remembers
    if (body.contains("since") && body["since"].is_number()) {
      since = static_cast<int64_t>(body["since"].get<double>() * 1000);
    }
    events = engine.emergency_stop(since, t);
  } else {
    return error_reply(404, "no such endpoint: POST " + path);
  }
  if (!error.empty()) return error_reply(error.rfind("no ", 0) == 0 ? 404 : 409, error);
  json out = json::array();
  for (const Event& e : events) out.push_back(event_json(e));
  if (!state_->append_audit(t, "control",
                            json{{"path", path}, {"body", body}, {"peer", request.peer}}.dump())) {
    ++counters_.store_errors;
    spdlog::error("state store: {}", state_->last_error());
  }
  handle(std::move(events));
  return reply(200, json{{"events", out}});
}

std::string Daemon::status_json() const {
  EngineState s = loaded_->engine->state();
  json sources = json::array();
  auto health = [](const SourceHealth& h) {
    return json{{"name", h.name},
                {"kind", h.kind},
                {"up", h.up},
                {"last_error", h.last_error},
                {"last_attempt", static_cast<double>(h.last_attempt_ms) / 1000.0},
                {"last_success", static_cast<double>(h.last_success_ms) / 1000.0},
                {"attempts", h.attempts},
                {"failures", h.failures},
                {"samples", h.samples},
                {"skipped_lines", h.skipped_lines},
                {"rejected_series", h.rejected_series}};
  };
  for (const auto& src : sources_) sources.push_back(health(src->health()));
  if (config_.push.enabled) sources.push_back(health(push_health_));
  json knobs = json::object();
  for (const auto& [k, v] : s.knobs) knobs[k] = v;
  json validations = json::array();
  for (const auto& v : s.validations) {
    validations.push_back({{"action", v.action},
                           {"policy", v.policy},
                           {"instance", labels_json(v.instance)},
                           {"applied", v.applied_ms / 1000.0},
                           {"verdict_at", v.end_ms / 1000.0}});
  }
  json proposals = json::array();
  for (const auto& p : s.proposals) {
    json steps = json::object();
    for (const auto& [k, v] : p.steps) steps[k] = v;
    proposals.push_back({{"id", p.id},
                         {"policy", p.policy},
                         {"instance", labels_json(p.instance)},
                         {"time", p.t_ms / 1000.0},
                         {"set", steps}});
  }
  return json{{"policy_set", loaded_->hash},
              {"policies", loaded_->set.compiled.policies.size()},
              {"dry_run", dry_run_},
              {"paused_until", time_json(s.paused_until)},
              {"paused", s.paused_until.has_value()},
              {"pause_reason", s.pause_reason},
              {"started", started_ms_ / 1000.0},
              {"series", store_->series_count()},
              {"samples", store_->sample_count()},
              {"sources", sources},
              {"knobs", knobs},
              {"validations", validations},
              {"proposals", proposals},
              {"actions_in_flight", pending_.size()},
              {"last_reload", last_reload_ms_ / 1000.0},
              {"reload_errors", reload_errors_},
              {"store_errors", counters_.store_errors},
              {"stopping", stopping_}}
      .dump();
}

std::string Daemon::policies_json() const {
  EngineState s = loaded_->engine->state();
  json out = json::array();
  for (size_t p = 0; p < s.policies.size(); ++p) {
    const EngineState::PolicyState& ps = s.policies[p];
    const PolicyRules& r = loaded_->engine->rules(p);
    json instances = json::array();
    for (const auto& i : ps.instances) {
      instances.push_back({{"labels", labels_json(i.labels)},
                           {"state", i.firing ? (i.acted ? "acted" : "firing") : "pending"},
                           {"since", i.active_since / 1000.0}});
    }
    const char* mode = r.mode == Mode::Auto      ? "auto"
                       : r.mode == Mode::Propose ? "propose"
                                                 : "dry-run";
    out.push_back({{"name", ps.name},
                   {"mode", mode},
                   {"paused", ps.paused},
                   {"quarantined", ps.quarantined},
                   {"consecutive_failures", ps.consecutive_failures},
                   {"last_action", time_json(ps.last_action_ms)},
                   {"instances", instances}});
  }
  return out.dump();
}

std::string Daemon::metrics_text() const {
  std::string out;
  auto line = [&](const std::string& name, const std::string& labels, double value) {
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number + "\n";
  };
  out += "# HELP setpoint_evaluation_seconds Time the engine core takes for one evaluation.\n";
  out += "# TYPE setpoint_evaluation_seconds histogram\n";
  for (size_t i = 0; i < std::size(DaemonCounters::kBuckets); ++i) {
    char le[32];
    std::snprintf(le, sizeof le, "%g", DaemonCounters::kBuckets[i]);
    line("setpoint_evaluation_seconds_bucket", "le=\"" + std::string(le) + "\"",
         static_cast<double>(counters_.eval_buckets[i]));
  }
  line("setpoint_evaluation_seconds_bucket", "le=\"+Inf\"",
       static_cast<double>(counters_.evaluations));
  line("setpoint_evaluation_seconds_sum", "", counters_.eval_seconds_sum);
  line("setpoint_evaluation_seconds_count", "", static_cast<double>(counters_.evaluations));
  out += "# HELP setpoint_samples_ingested_total Samples accepted into the window store.\n";
  out += "# TYPE setpoint_samples_ingested_total counter\n";
  line("setpoint_samples_ingested_total", "", static_cast<double>(store_->counters().accepted));
  out += "# HELP setpoint_samples_refused_total Samples the window store refused, by reason.\n";
  out += "# TYPE setpoint_samples_refused_total counter\n";
  const StoreCounters& c = store_->counters();
  line("setpoint_samples_refused_total", "reason=\"out_of_order\"",
       static_cast<double>(c.out_of_order));
  line("setpoint_samples_refused_total", "reason=\"duplicate\"", static_cast<double>(c.duplicate));
  line("setpoint_samples_refused_total", "reason=\"series_limit\"",
       static_cast<double>(c.rejected_series));
  out += "# HELP setpoint_series Series held in the window store.\n# TYPE setpoint_series gauge\n";
  line("setpoint_series", "", static_cast<double>(store_->series_count()));
  out += "# HELP setpoint_source_up Whether a metric source's last attempt succeeded.\n";
  out += "# TYPE setpoint_source_up gauge\n";
  std::vector<const SourceHealth*> health;
  for (const auto& s : sources_) health.push_back(&s->health());
  if (config_.push.enabled) health.push_back(&push_health_);
  for (const SourceHealth* h : health) {
    line("setpoint_source_up", "source=\"" + h->name + "\",kind=\"" + h->kind + "\"",
         h->up ? 1 : 0);
  }
  out += "# HELP setpoint_source_failures_total Failed attempts of a metric source.\n";
  out += "# TYPE setpoint_source_failures_total counter\n";
  for (const SourceHealth* h : health) {
    line("setpoint_source_failures_total", "source=\"" + h->name + "\"",
         static_cast<double>(h->failures));
  }
  out +=
      "# HELP setpoint_source_skipped_lines_total Malformed lines a source counted and skipped.\n";
  out += "# TYPE setpoint_source_skipped_lines_total counter\n";
  for (const SourceHealth* h : health) {
    line("setpoint_source_skipped_lines_total", "source=\"" + h->name + "\"",
         static_cast<double>(h->skipped_lines));
  }
  out += "# HELP setpoint_actions_total Actuator operations by outcome.\n";
  out += "# TYPE setpoint_actions_total counter\n";
  for (const auto& [outcome, n] : counters_.actions) {
    line("setpoint_actions_total", "outcome=\"" + outcome + "\"", static_cast<double>(n));
  }
  out +=
      "# HELP setpoint_reloads_total Policy reloads, by result.\n# TYPE setpoint_reloads_total "
      "counter\n";
  line("setpoint_reloads_total", "result=\"ok\"", static_cast<double>(counters_.reloads));
  line("setpoint_reloads_total", "result=\"failed\"",
       static_cast<double>(counters_.failed_reloads));
  out +=
      "# HELP setpoint_validations_total Validation outcomes, one per validation, as the "
      "quarantine limits count them.\n# TYPE setpoint_validations_total counter\n";
  for (uint8_t o = 0; o < std::size(ValidationTally::kNames); ++o) {
    line("setpoint_validations_total",
         "outcome=\"" + std::string(ValidationTally::kNames[o]) + "\"",
         static_cast<double>(validations_.total(static_cast<ValidationTally::Outcome>(o))));
  }
  size_t quarantined = 0;
  for (const EngineState::PolicyState& p : loaded_->engine->state().policies)
    quarantined += p.quarantined;
  out += "# HELP setpoint_policies_quarantined Policies quarantined now.\n";
  out += "# TYPE setpoint_policies_quarantined gauge\n";
  line("setpoint_policies_quarantined", "", static_cast<double>(quarantined));
  out += "# HELP setpoint_store_errors_total Writes to the state store that failed.\n";
  out += "# TYPE setpoint_store_errors_total counter\n";
  line("setpoint_store_errors_total", "", static_cast<double>(counters_.store_errors));
  return out;
}

}  // namespace setpoint
