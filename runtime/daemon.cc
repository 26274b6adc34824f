// The daemon's life: start (store, policies, restore, reconcile, sources, actuators, listener),
// the evaluation after every scrape and on a timer, carrying out the engine's events through
// the actuators, reloads that keep the running set on any error, and an orderly shutdown.
#include "runtime/daemon.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "interpreter/history_needed.h"
#include "runtime/config_finding.h"
#include "runtime/curl_multi.h"
#include "runtime/engine_state_json.h"
#include "runtime/event_json.h"
#include "runtime/exec_actuator.h"
#include "runtime/file_actuator.h"
#include "runtime/http_actuator.h"
#include "runtime/http_server.h"
#include "runtime/local_time.h"
#include "runtime/query_source.h"
#include "runtime/retrying_actuator.h"
#include "runtime/scrape_source.h"
#include "runtime/state_store.h"

namespace setpoint {
namespace {

int64_t ms(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1000)); }

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

// The bearer token: read from the configured file, which only its owner may read; without
// one, a fresh token is written beside the state file (mode 0600) and its path logged.
bool load_token(const DaemonConfig& config, std::string& token, std::string& error) {
  std::string path = config.control.token_file;
  if (path.empty()) {
    path = config.state_file + ".token";
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      std::random_device random;
      std::string fresh;
      static const char* alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
      for (int i = 0; i < 40; ++i) fresh += alphabet[random() % 36];
      FILE* f = fopen(path.c_str(), "wx");
      if (!f) {
        error = path + ": cannot create the control token: " + std::strerror(errno);
        return false;
      }
      chmod(path.c_str(), 0600);
      fputs(fresh.c_str(), f);
      fputc('\n', f);
      fclose(f);
      spdlog::info("control token written to {}", path);
    }
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    error = path + ": cannot read the control token: " + std::strerror(errno);
    return false;
  }
  if (st.st_mode & 077) {
    error = path + ": the control token must be readable by its owner only (chmod 600)";
    return false;
  }
  std::ifstream in(path);
  std::getline(in, token);
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) {
    error = path + ": the control token file is empty";
    return false;
  }
  return true;
}

std::string files_digest(const PolicySet& set) {
  std::string all;
  for (const Module& m : set.modules) {
    all += m.file->path();
    all += '\0';
    all += m.file->text();
    all += '\0';
  }
  return sha256_hex(all);
}

}  // namespace

Daemon::Daemon(DaemonConfig config, RunOptions options)
    : config_(std::move(config)), dry_run_(options.dry_run), options_(std::move(options)) {
  uv_loop_init(&loop_);
  loop_.data = this;
  push_health_.name = "push";
  push_health_.kind = "push";
}

Daemon::~Daemon() {
  sources_.clear();
  actuators_.clear();
  run_actuators_.clear();
  server_.reset();
  curl_.reset();
  uv_run(&loop_, UV_RUN_NOWAIT);
  uv_loop_close(&loop_);
}

std::vector<SourceHealth> Daemon::source_healths() const {
  std::vector<SourceHealth> out;
  for (const auto& s : sources_) out.push_back(s->health());
  if (config_.push.enabled) out.push_back(push_health_);
  return out;
}

// A sample stamped with the millisecond of an evaluation that ran before it arrived would be
// seen by a replay of the recording at that evaluation, and not by the daemon: such a sample
// takes the next millisecond instead.
int64_t Daemon::sample_ms() const { return std::max(now_ms(), last_eval_ms_ + 1); }

int64_t Daemon::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<Daemon::Loaded> Daemon::load(std::vector<std::string>& diagnostics) {
  auto loaded = std::make_unique<Loaded>();
  loaded->set = load_policy_set(config_.policies);
  for (const FileError& e : loaded->set.file_errors)
    diagnostics.push_back(e.path + ": " + e.message);
  for (const Diagnostic& d : loaded->set.diagnostics.list()) {
    if (d.severity != Severity::Error) continue;
    diagnostics.push_back(render_text(d));
  }
  if (!diagnostics.empty() || !loaded->set.is_compiled) {
    if (diagnostics.empty()) diagnostics.push_back("the policies did not compile");
    return nullptr;
  }
  // A store that forgets what a policy reads would feed it a partial window as if it were whole.
  if (std::optional<ConfigFinding> f = retention_finding(config_, config_.path, loaded->set)) {
    diagnostics.push_back(render_finding(*f, false));
    return nullptr;
  }
  loaded->hash = files_digest(loaded->set);
  EngineOptions options;
  options.local_time = system_local_time;
  options.dry_run = dry_run_;
  loaded->engine = std::make_unique<Engine>(loaded->set.modules, loaded->set.program,
                                            loaded->set.compiled, *store_, options);
  return loaded;
}

int64_t Daemon::retention_ms(const PolicySet& set) const {
  if (config_.retention_seconds > 0) return ms(config_.retention_seconds);
  if (!options_.record_path.empty() || !options_.report_path.empty()) return report_ms();
  // At least 1 ms (0 keeps everything): an instant selector reads the newest sample only.
  return std::max<int64_t>(1, ms(longest_history(set.modules, true).seconds));
}

// The events and evaluation times the report draws are small: an hour of them unless set.
int64_t Daemon::report_ms() const {
  return config_.retention_seconds > 0 ? ms(config_.retention_seconds) : ms(3600);
}

bool Daemon::start(std::string& error) {
  started_ms_ = now_ms();
  StoreLimits limits;
  limits.max_series = config_.max_series;
  store_ = std::make_unique<WindowStore>(limits);  // its retention once the policies are known

  state_ = StateStore::open(config_.state_file, error);
  if (!state_) return false;

  std::vector<std::string> diagnostics;
  loaded_ = load(diagnostics);
  if (!loaded_) {
    error = "the policies have errors:";
    for (const std::string& d : diagnostics) error += "\n" + d;
    return false;
  }
  store_->set_retention(retention_ms(loaded_->set));
  if (!load_token(config_, token_, error)) return false;
  options_.policy_paths = config_.policies;
  if (!config_.queries.empty()) {
    options_.inexact_replay =
        "a query source's samples keep Prometheus' timestamps, so an evaluation near the end "
        "of a poll may differ";
  } else if (config_.scrapes.size() + (config_.push.enabled ? 1 : 0) > 1) {
    options_.inexact_replay =
        "with several sources, an evaluation may come while another source's scrape is in "
        "flight";
  }
  output_ =
      std::make_unique<RunOutput>(options_, started_ms_, static_cast<double>(report_ms()) / 1000);

  // What the last run left: its state, then the knobs as they were last set.
  bool restored = false;
  if (std::optional<EngineState> saved = stored_engine_state()) {
    loaded_->engine->restore(*saved, now_ms());
    restored = true;
    spdlog::info("restored the engine state of the last run");
  }
  for (const auto& [knob, value] : state_->knobs()) {
    loaded_->engine->set_knob(knob, value);
    output_->knob_set(knob, value, now_ms());
  }
  if (std::optional<std::string> last = state_->current_policy_set();
      !last || *last != loaded_->hash) {
    std::string files = "[]";
    state_->put_policy_set(loaded_->hash, files, now_ms());
  }
  state_->append_audit(now_ms(), "start",
                       nlohmann::json{{"policy_set", loaded_->hash}, {"dry_run", dry_run_}}.dump());

  curl_ = std::make_unique<CurlMulti>(&loop_);
  // Knobs and `action run` targets are separate tables ([knob.NAME], [run.NAME]): a run event
  // names its target in the knob field, so it is looked up among the runs only.
  auto make = [this](const ActuatorConfig& a) -> std::unique_ptr<Actuator> {
    std::unique_ptr<Actuator> inner;
    switch (a.kind) {
      case ActuatorConfig::Kind::Exec:
        inner = std::make_unique<ExecActuator>(&loop_, a);
        break;
      case ActuatorConfig::Kind::File:
        inner = std::make_unique<FileActuator>(&loop_, a);
        break;
      case ActuatorConfig::Kind::Http:
        inner = std::make_unique<HttpActuator>(*curl_, a);
        break;
    }
    return std::make_unique<RetryingActuator>(&loop_, std::move(inner), a.retry);
  };
  for (const ActuatorConfig& a : config_.actuators) actuators_[a.knob] = make(a);
  for (const ActuatorConfig& a : config_.runs) run_actuators_[a.knob] = make(a);
  validations_.sync(silent_validations());
  reconcile();
  read_knobs();
  output_->start(loaded_->engine->state(), restored);

  HttpServerOptions http;
  http.listen = config_.control.listen;
  http.max_body_bytes = std::max(config_.control.max_body_bytes, config_.push.max_body_bytes);
  server_ =
      std::make_unique<HttpServer>(&loop_, http, [this](const HttpRequest& r) { return route(r); });
  if (!server_->start(error)) return false;
  spdlog::info("control API on {}", server_->address());

  auto scraped = [this](int64_t) { evaluate(); };
  auto clock = [this] { return sample_ms(); };
  for (const ScrapeSourceConfig& s : config_.scrapes) {
    sources_.push_back(std::make_unique<ScrapeSource>(&loop_, *curl_, s, *store_, clock, scraped));
  }
  if (!config_.queries.empty()) {
    std::vector<std::string> selectors;
    const Program& program = loaded_->set.compiled;
    for (auto [v, end] = boost::vertices(program.graph); v != end; ++v) {
      const GraphNode& g = program.graph[*v];
      if (g.kind != NodeKind::Selector) continue;
      std::string text(loaded_->set.modules[g.module].file->slice(g.span));
      if (std::find(selectors.begin(), selectors.end(), text) == selectors.end())
        selectors.push_back(text);
    }
    for (const QuerySourceConfig& q : config_.queries) {
      sources_.push_back(
          std::make_unique<QuerySource>(&loop_, *curl_, q, *store_, clock, scraped, selectors));
    }
  }
  for (auto& s : sources_) s->start();

  uv_timer_init(&loop_, &eval_timer_);
  eval_timer_.data = this;
  uint64_t every = static_cast<uint64_t>(ms(config_.evaluation_interval_seconds));
  uv_timer_start(
      &eval_timer_,
      [](uv_timer_t* t) {
        auto* d = static_cast<Daemon*>(t->data);
        // A source's attempt in flight evaluates when it ends, with its samples in the store.
        for (const auto& s : d->sources_) {
          if (s->busy()) return;
        }
        d->evaluate();
      },
      every, every);
  uv_timer_init(&loop_, &shutdown_timer_);
  shutdown_timer_.data = this;
  uv_timer_init(&loop_, &reload_timer_);
  reload_timer_.data = this;
  uv_timer_init(&loop_, &duration_timer_);
  duration_timer_.data = this;
  uv_timer_init(&loop_, &persist_timer_);
  persist_timer_.data = this;
  if (options_.duration_seconds > 0) {
    spdlog::info("stopping after {}s (--duration)", options_.duration_seconds);
    uv_timer_start(
        &duration_timer_, [](uv_timer_t* t) { static_cast<Daemon*>(t->data)->begin_shutdown(); },
        static_cast<uint64_t>(ms(options_.duration_seconds)), 0);
  }

  auto on_signal = [](uv_signal_t* s, int signum) {
    auto* d = static_cast<Daemon*>(s->data);
    if (signum == SIGHUP) {
      d->reload("SIGHUP");
    } else {
      d->begin_shutdown();
    }
  };
  for (auto [handle, signum] :
       {std::pair{&sigterm_, SIGTERM}, {&sigint_, SIGINT}, {&sighup_, SIGHUP}}) {
    uv_signal_init(&loop_, handle);
    handle->data = this;
    uv_signal_start(handle, on_signal, signum);
  }
  // A change to a policy file reloads, once the writes have settled for 200 ms.
  for (const Module& m : loaded_->set.modules) {
    auto w = std::make_unique<uv_fs_event_t>();
    uv_fs_event_init(&loop_, w.get());
    w->data = this;
    int rc = uv_fs_event_start(
        w.get(),
        [](uv_fs_event_t* h, const char*, int, int) {
          auto* d = static_cast<Daemon*>(h->data);
          uv_timer_start(
              &d->reload_timer_,
              [](uv_timer_t* t) { static_cast<Daemon*>(t->data)->reload("a policy file changed"); },
              200, 0);
        },
        m.file->path().c_str(), 0);
    if (rc == 0)
      watchers_.push_back(std::move(w));
    else
      uv_close(reinterpret_cast<uv_handle_t*>(w.release()),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_fs_event_t*>(h); });
  }
  spdlog::info("setpoint running: {} policies, {} sources, {} actuators{}",
               loaded_->set.compiled.policies.size(), sources_.size(), actuators_.size(),
               dry_run_ ? " (dry run: no actuator is touched)" : "");
  return true;
}

// Actions a crash caught half-way: the knob says whether they happened. None is applied again.
void Daemon::reconcile() {
  for (const StoredAction& a : state_->unfinished_actions()) {
    auto it = actuators_.find(a.knob);
    bool rollback = a.status == "rolling_back";
    double target = rollback ? a.before : a.after;
    auto settle = [this, a, rollback, target](const ActuatorResult& r) {
      StoredAction done = a;
      done.updated_ms = now_ms();
      Engine& engine = *loaded_->engine;
      if (r.ok && r.value && *r.value == target) {
        done.status = rollback ? "rolled_back" : "applied";
        engine.set_knob(a.knob, target);
        output_->knob_set(a.knob, target, done.updated_ms);
        state_->put_knob(a.knob, target, done.updated_ms);
      } else if (r.ok && r.value) {
        done.status = rollback ? "rollback_failed" : "failed";
        done.error = "interrupted by a restart before it took effect";
        engine.set_knob(a.knob, *r.value);
        output_->knob_set(a.knob, *r.value, done.updated_ms);
        state_->put_knob(a.knob, *r.value, done.updated_ms);
        handle(rollback ? engine.rollback_failed(a.id, done.updated_ms, done.error)
                        : engine.action_failed(a.id, done.updated_ms, done.error));
        if (rollback) engine.set_knob(a.knob, *r.value);
      } else {
        done.status = rollback ? "rollback_failed" : "failed";
        done.error = "interrupted by a restart; the knob could not be read: " + r.error;
        handle(rollback ? engine.rollback_failed(a.id, done.updated_ms, done.error)
                        : engine.action_failed(a.id, done.updated_ms, done.error));
        engine.forget_knob(a.knob);
      }
      spdlog::info("reconciled action {} on {}: {}", a.id, a.knob, done.status);
      state_->put_action(done);
      state_->append_audit(done.updated_ms, "reconcile",
                           nlohmann::json{{"action", a.id}, {"status", done.status}}.dump());
    };
    if (it == actuators_.end() || !it->second->can_read()) {
      ActuatorResult none;
      none.error = it == actuators_.end() ? "no actuator" : "its actuator cannot read";
      settle(none);
    } else {
      it->second->read(settle);
    }
  }
}

void Daemon::read_knobs() {
  for (auto& [knob, actuator] : actuators_) {
    if (!actuator->can_read()) continue;
    std::string name = knob;
    actuator->read([this, name](const ActuatorResult& r) {
      if (r.ok && r.value) {
        loaded_->engine->set_knob(name, *r.value);
        if (output_) output_->knob_set(name, *r.value, now_ms());
        spdlog::debug("knob {} reads {}", name, *r.value);
      } else {
        spdlog::warn("knob {}: cannot read its value: {}", name, r.error);
      }
    });
  }
}

void Daemon::evaluate() {
  if (stopping_ || !loaded_) return;
  // The window store starts empty: until every source has answered once, every trigger would
  // read as missing data and reset the holds and firings restored from the last run.
  if (!warmed_up_) {
    bool ready = true;
    for (const auto& src : sources_) ready &= src->health().attempts > 0;
    if (sources_.empty()) ready = !config_.push.enabled || push_health_.attempts > 0;
    if (!ready) return;
    warmed_up_ = true;
    spdlog::info("every source has answered once: evaluating");
  }
  auto begin = std::chrono::steady_clock::now();
  int64_t t = now_ms();
  last_eval_ms_ = t;
  std::vector<Event> events = loaded_->engine->evaluate(t);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  ++counters_.evaluations;
  counters_.eval_seconds_sum += seconds;
  for (size_t i = 0; i < std::size(DaemonCounters::kBuckets); ++i) {
    if (seconds <= DaemonCounters::kBuckets[i]) ++counters_.eval_buckets[i];
  }
  output_->evaluated(t);
  bool changed = !events.empty();  // handle() then writes the state
  handle(std::move(events));
  if (!changed && t - last_persist_ms_ >= 30'000) persist_state();
  if (output_->live_due(t)) output_->show(loaded_->engine->state(), source_healths(), t);
}

void Daemon::handle(std::vector<Event> events) {
  bool applied = std::any_of(events.begin(), events.end(),
                             [](const Event& e) { return e.kind == EventKind::Applied; });
  if (applied || validations_.tracking()) {
    std::vector<uint64_t> open = silent_validations();
    validations_.count(events, &open);
  } else {
    validations_.count(events, nullptr);
  }
  // The records of one evaluation, and what each action is about to do, are written in one
  // transaction before any actuator starts: one fsync for them all (synchronous = FULL), where
  // a write each took one apiece, 3 and more ahead of every action.
  std::vector<std::string> texts;
  std::vector<std::optional<StoredAction>> intents;
  for (const Event& e : events) {
    texts.push_back(event_json(e).dump());
    record(e, texts.back());
    intents.push_back(intent(e));
  }
  auto write = [&](size_t i) {
    bool ok = store_event(events[i], texts[i]);
    return (!intents[i] || state_->put_action(*intents[i])) && ok;
  };
  std::vector<std::string> unrecorded(events.size());
  bool written = !events.empty() && state_->begin();
  for (size_t i = 0; written && i < events.size(); ++i) written = write(i);
  if (written) written = state_->commit();
  if (!written && !events.empty()) {
    // One at a time again, as each write is its own transaction: a record the store refuses
    // then costs only itself, as it did before they were grouped.
    state_->rollback();
    for (size_t i = 0; i < events.size(); ++i) {
      if (!store_event(events[i], texts[i])) store_error();
      if (intents[i] && !state_->put_action(*intents[i])) {
        store_error();
        // Unrecorded, a change would be unknown to the restart after a crash, so nothing
        // would settle it and it could be made twice: it is not made. A rollback still runs,
        // since it restores the value the knob had.
        if (events[i].kind != EventKind::RolledBack)
          unrecorded[i] = "not carried out: " + state_->last_error();
      }
    }
  }
  bool started = false;
  for (size_t i = 0; i < events.size(); ++i) started |= apply(events[i], unrecorded[i]);
  if (events.empty()) return;
  if (!started) {
    persist_state();
    return;
  }
  // An actuator's request leaves at the loop's next turn (CurlMulti's 0 ms timer): the
  // engine's state, an fsync more, is written on a timer of its own started after it, so the
  // request goes first. A crash between them is the one the action's own record covers.
  uv_timer_start(
      &persist_timer_, [](uv_timer_t* t) { static_cast<Daemon*>(t->data)->persist_state(); }, 0, 0);
}

void Daemon::store_error() {
  ++counters_.store_errors;
  spdlog::error("state store: {}", state_->last_error());
}

// The validations open now of policies without an `expect`: the engine ends them (confirmed)
// without an event, so only their leaving the open set tells it.
std::vector<uint64_t> Daemon::silent_validations() const {
  std::vector<uint64_t> out;
  const Engine& engine = *loaded_->engine;
  for (auto [action, p] : engine.validating()) {
    if (engine.rules(p).expects.empty()) out.push_back(action);
  }
  return out;
}

void Daemon::record(const Event& e, const std::string& text) {
  if (output_) output_->event(e);
  if (e.kind == EventKind::Pending || e.kind == EventKind::Resolved) {
    spdlog::debug("{}", event_text(e));
  } else {
    spdlog::info("{}", event_text(e));
  }
  std::string frame = "event: " + std::string(event_kind_name(e.kind)) + "\ndata: " + text + "\n\n";
  std::erase_if(streams_, [&](const std::shared_ptr<HttpStream>& s) { return !s->send(frame); });
}

bool Daemon::store_event(const Event& e, const std::string& text) {
  if (!state_->append_audit(e.t_ms, "event", text)) return false;
  // A recovery check after a rollback is stored with the action's verdicts, as their sequel;
  // like them it is informational: apply() calls no actuator for it.
  if (e.kind == EventKind::Confirmed || e.kind == EventKind::Inconclusive ||
      e.kind == EventKind::Regressed || e.kind == EventKind::Recovered ||
      e.kind == EventKind::NotRecovered || e.kind == EventKind::RecoveryUnknown) {
    return state_->put_validation(e.action, e.t_ms, e.policy, event_kind_name(e.kind), text);
  }
  return true;
}

// The record of a change written before its actuator runs: after a crash the restart knows
// what was under way. None for events that change nothing, and in a dry run.
std::optional<StoredAction> Daemon::intent(const Event& e) {
  bool rollback = e.kind == EventKind::RolledBack;
  if ((e.kind != EventKind::Applied && !rollback) || dry_run_) return std::nullopt;
  StoredAction a;
  if (rollback) {
    if (std::optional<StoredAction> known = state_->action(e.action)) a = *known;
  }
  a.id = e.action;
  a.t_ms = rollback && a.t_ms ? a.t_ms : e.t_ms;
  a.policy = e.policy;
  if (!rollback) a.instance = labels_text(e.instance);
  a.knob = e.knob;
  a.before = rollback ? e.to : e.from;
  a.after = rollback ? e.from : e.to;
  a.status = rollback ? "rolling_back" : "applying";
  a.updated_ms = now_ms();
  return a;
}

// Starts the actuator of an action, a rollback or a `run`, its intent already written (handle);
// `unrecorded` says why a change whose record could not be written is not made.
bool Daemon::apply(const Event& e, const std::string& unrecorded) {
  bool rollback = e.kind == EventKind::RolledBack;
  if (e.kind != EventKind::Applied && !rollback && e.kind != EventKind::RunActuator) return false;
  if (dry_run_)
    return false;  // the engine itself turns actions into would_apply; rollbacks too stop here
  auto& table = e.kind == EventKind::RunActuator ? run_actuators_ : actuators_;
  auto it = table.find(e.knob);
  auto finish = [this, e, rollback](const ActuatorResult& r) {
    std::erase_if(pending_, [&](const Pending& p) {
      return p.action == e.action && p.knob == e.knob && p.rollback == rollback;
    });
    int64_t t = now_ms();
    Engine& engine = *loaded_->engine;
    auto stored = [this](bool ok) {  // an outcome the store refused is counted and logged
      if (ok) return;
      ++counters_.store_errors;
      spdlog::error("state store: {}", state_->last_error());
    };
    if (e.kind == EventKind::RunActuator) {
      ++counters_.actions[r.ok ? "run" : "run_failed"];
      if (!r.ok) spdlog::warn("actuator {} failed: {}", e.knob, r.error);
      stored(state_->append_audit(
          t, "run", nlohmann::json{{"actuator", e.knob}, {"ok", r.ok}, {"error", r.error}}.dump()));
      return;
    }
    std::optional<StoredAction> a = state_->action(e.action);
    StoredAction done = a.value_or(StoredAction{});
    if (!a) {  // its first record failed to be written: write it whole now
      done.id = e.action;
      done.t_ms = e.t_ms;
      done.policy = e.policy;
      done.knob = e.knob;
      done.before = rollback ? e.to : e.from;
      done.after = rollback ? e.from : e.to;
    }
    done.updated_ms = t;
    if (r.ok) {
      done.status = rollback ? "rolled_back" : "applied";
      ++counters_.actions[done.status];
      stored(state_->put_knob(e.knob, e.to, t));
    } else {
      done.status = rollback ? "rollback_failed" : "failed";
      done.error = r.error;
      ++counters_.actions[done.status];
    }
    stored(state_->put_action(done));
    stored(state_->append_audit(t, rollback ? "rollback_result" : "action_result",
                                nlohmann::json{{"action", e.action},
                                               {"knob", e.knob},
                                               {"ok", r.ok},
                                               {"error", r.error},
                                               {"attempts", r.attempts},
                                               {"seconds", r.seconds},
                                               {"output", r.output}}
                                    .dump()));
    if (!r.ok) {
      handle(rollback ? engine.rollback_failed(e.action, t, r.error)
                      : engine.action_failed(e.action, t, r.error));
    }
    if (stopping_ && pending_.empty()) finish_shutdown();
  };
  if (it == table.end() || !unrecorded.empty()) {
    ActuatorResult r;
    r.error = unrecorded.empty() ? "no actuator is configured for " + e.knob : unrecorded;
    // Reported from the loop, as an actuator would, never from inside the engine's events.
    auto* req = new uv_idle_t;
    struct Later {
      std::function<void()> run;
    };
    req->data = new Later{[finish, r] { finish(r); }};
    uv_idle_init(&loop_, req);
    uv_idle_start(req, [](uv_idle_t* h) {
      auto* later = static_cast<Later*>(h->data);
      later->run();
      delete later;
      uv_idle_stop(h);
      uv_close(reinterpret_cast<uv_handle_t*>(h),
               [](uv_handle_t* x) { delete reinterpret_cast<uv_idle_t*>(x); });
    });
    pending_.push_back({e.action, e.knob, rollback});
    return false;
  }
  pending_.push_back({e.action, e.knob, rollback});
  it->second->apply(e.to, finish);
  return true;
}

std::optional<EngineState> Daemon::stored_engine_state() {
  std::optional<std::string> json = state_->engine_state();
  if (!json) return std::nullopt;
  std::string why;
  std::optional<EngineState> saved = engine_state_from_json(*json, state_->policy_states(), why);
  if (!saved) spdlog::warn("the stored engine state cannot be used ({}); starting afresh", why);
  return saved;
}

// One transaction: the rows of the policies whose state moved since the last write (all of them
// after a start or a reload, when the rows of policies no longer loaded go), then the rest.
void Daemon::persist_state() {
  if (!state_ || !loaded_) return;
  last_persist_ms_ = now_ms();
  const Engine& engine = *loaded_->engine;
  bool all = stored_digests_.size() != engine.policy_count();
  std::vector<std::pair<size_t, std::vector<int64_t>>> written;
  std::vector<int64_t> digest;
  bool ok = state_->begin() && (!all || state_->clear_policy_states());
  for (size_t p = 0; ok && p < engine.policy_count(); ++p) {
    engine.policy_digest(p, digest);
    if (!all && digest == stored_digests_[p]) continue;
    EngineState::PolicyState ps = engine.policy_state(p);
    ok = state_->put_policy_state(ps.name, policy_state_to_json(ps), last_persist_ms_);
    written.emplace_back(p, std::move(digest));
  }
  ok =
      ok && state_->put_engine_state(engine_state_to_json(engine.shared_state()), last_persist_ms_);
  if (ok) ok = state_->commit();
  if (!ok) {
    std::string error = state_->last_error();  // rollback() clears it
    state_->rollback();                        // the group a failed write left open
    stored_digests_.clear();  // what the store holds is unknown now: write everything next time
    ++counters_.store_errors;
    spdlog::error("state store: {}", error);
    return;
  }
  if (all) stored_digests_.assign(engine.policy_count(), {});
  for (auto& [p, d] : written) stored_digests_[p] = std::move(d);
}

// A reload checks the new set completely before it replaces the running one; on any error the
// running set stays, and the diagnostics are logged and shown in status.
void Daemon::reload(const std::string& why) {
  if (stopping_) return;
  last_reload_ms_ = now_ms();
  std::vector<std::string> diagnostics;
  std::unique_ptr<Loaded> next = load(diagnostics);
  if (!next) {
    ++counters_.failed_reloads;
    reload_errors_ = diagnostics;
    spdlog::error("reload ({}) failed; the running policies stay:", why);
    for (const std::string& d : diagnostics) spdlog::error("  {}", d);
    state_->append_audit(last_reload_ms_, "reload_failed",
                         nlohmann::json{{"why", why}, {"diagnostics", diagnostics}}.dump());
    return;
  }
  ++counters_.reloads;
  reload_errors_.clear();
  if (next->hash == loaded_->hash) {
    spdlog::info("reload ({}): the policies are unchanged", why);
    return;
  }
  next->engine->restore(loaded_->engine->state(), last_reload_ms_);
  loaded_ = std::move(next);
  store_->set_retention(retention_ms(loaded_->set));
  stored_digests_.clear();  // other policies, other indices: the next write writes them all
  validations_.sync(silent_validations());  // a policy left out took its validations along
  state_->put_policy_set(loaded_->hash, "[]", last_reload_ms_);
  state_->append_audit(last_reload_ms_, "reload",
                       nlohmann::json{{"why", why}, {"policy_set", loaded_->hash}}.dump());
  persist_state();
  spdlog::info("reloaded ({}): {} policies", why, loaded_->set.compiled.policies.size());
}

void Daemon::stop() { begin_shutdown(); }

// No new action starts; those in flight get until the deadline, then are cancelled.
void Daemon::begin_shutdown() {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("stopping: {} actuator operation(s) in flight", pending_.size());
  uv_timer_stop(&eval_timer_);
  for (auto& s : sources_) s->stop();
  if (pending_.empty()) {
    finish_shutdown();
    return;
  }
  uv_timer_start(
      &shutdown_timer_,
      [](uv_timer_t* t) {
        auto* d = static_cast<Daemon*>(t->data);
        spdlog::warn("shutdown deadline passed: cancelling {} operation(s)", d->pending_.size());
        for (auto& [knob, a] : d->actuators_) a->cancel();
        for (auto& [name, a] : d->run_actuators_) a->cancel();
        d->finish_shutdown();
      },
      static_cast<uint64_t>(ms(config_.shutdown_deadline_seconds)), 0);
}

void Daemon::finish_shutdown() {
  if (!stopping_ || uv_is_closing(reinterpret_cast<uv_handle_t*>(&eval_timer_))) return;
  persist_state();
  state_->append_audit(now_ms(), "stop", "{}");
  if (output_ && loaded_) output_->finish(loaded_->set, *store_, now_ms());
  for (auto& s : streams_) s->close();
  streams_.clear();
  if (server_) server_->stop();
  for (auto& [knob, a] : actuators_) a->cancel();
  for (auto& [name, a] : run_actuators_) a->cancel();
  if (curl_) curl_->close({});
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&eval_timer_),
        reinterpret_cast<uv_handle_t*>(&shutdown_timer_),
        reinterpret_cast<uv_handle_t*>(&reload_timer_),
        reinterpret_cast<uv_handle_t*>(&duration_timer_),
        reinterpret_cast<uv_handle_t*>(&persist_timer_), reinterpret_cast<uv_handle_t*>(&sigterm_),
        reinterpret_cast<uv_handle_t*>(&sigint_), reinterpret_cast<uv_handle_t*>(&sighup_)}) {
    uv_close(h, nullptr);
  }
  for (auto& w : watchers_) {
    uv_close(reinterpret_cast<uv_handle_t*>(w.release()),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_fs_event_t*>(h); });
  }
  watchers_.clear();
}

int Daemon::run() {
  std::string error;
  if (!start(error)) {
    spdlog::error("{}", error);
    std::fprintf(stderr, "setpoint: %s\n", error.c_str());
    return 2;
  }
  evaluate();
  uv_run(&loop_, UV_RUN_DEFAULT);
  spdlog::info("stopped");
  return exit_code_;
}

}  // namespace setpoint
