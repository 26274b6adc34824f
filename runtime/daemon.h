// `setpoint run`: the long-lived process. A libuv loop drives the same engine core as
// `simulate` with the real clock; metric sources feed its window store, actuators carry out its
// decisions, the state store remembers them, and the control API lets an operator look and act.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "interpreter/engine.h"
#include "runtime/actuator.h"
#include "runtime/daemon_config.h"
#include "runtime/metric_source.h"
#include "runtime/policy_loader.h"
#include "runtime/run_output.h"

namespace setpoint {

class CurlMulti;
class HttpServer;
class HttpStream;
class StateStore;
struct StoredAction;
struct HttpRequest;
struct HttpReply;

// The daemon's own figures, exposed on GET /metrics.
struct DaemonCounters {
  uint64_t evaluations = 0;
  uint64_t samples_pushed = 0;
  uint64_t reloads = 0;
  uint64_t failed_reloads = 0;
  uint64_t store_errors = 0;
  std::map<std::string, uint64_t> actions;  // outcome -> count: applied, failed, rolled_back...
  // Evaluation time histogram: cumulative counts for these upper bounds, in seconds.
  static constexpr double kBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                        0.005,  0.01,    0.025,  0.05,  0.1};
  uint64_t eval_buckets[std::size(kBuckets)] = {};
  double eval_seconds_sum = 0;
};

// Validation outcomes as the engine's count_outcome() classifies them, told from its events
// (the engine keeps no running totals, only counts since the last confirmation): one outcome per
// validation however many `expect` verdicts it emitted. The rule is in control_api.cc and
// docs/daemon.md; the tests hold it to the engine's own counters.
class ValidationTally {
 public:
  enum Outcome : uint8_t { Confirmed, Failed, Error, Inconclusive };
  static constexpr const char* kNames[] = {"confirmed", "failed", "error", "inconclusive"};
  // The events of one call into the engine (an evaluation, a control call, a failed actuator),
  // in their order: a validation's verdicts are always among the events of one call. `open`:
  // the validations (by action) the engine holds after the call of policies without an
  // `expect`, which end confirmed without any event; needed when the call applied something or
  // tracking() holds, else null.
  void count(const std::vector<Event>& events, const std::vector<uint64_t>* open);
  // After the engine's state was restored (a start, a reload): what is open now, not counted.
  void sync(const std::vector<uint64_t>& open);
  bool tracking() const { return !silent_.empty(); }
  uint64_t total(Outcome o) const { return totals_[o]; }

 private:
  uint64_t totals_[4] = {};
  std::map<uint64_t, bool> silent_;  // open validations without an `expect` -> action undone
};

class Daemon {
 public:
  Daemon(DaemonConfig config, RunOptions options);
  ~Daemon();
  // Runs until SIGTERM or SIGINT (or stop()). Returns the process exit status.
  int run();
  void stop();  // as SIGTERM

 private:
  // A loaded, checked, compiled policy set and the engine over it: replaced whole on reload.
  struct Loaded {
    PolicySet set;
    std::string hash;  // SHA-256 of the files' names and contents
    std::unique_ptr<Engine> engine;
  };
  struct Pending {  // an actuator operation in flight
    uint64_t action = 0;
    std::string knob;
    bool rollback = false;
  };

  bool start(std::string& error);
  std::unique_ptr<Loaded> load(std::vector<std::string>& diagnostics);
  // What the window store keeps for these policies: the configured retention, or by default
  // what they read (1h when the run writes a recording or a report, which show that history).
  int64_t retention_ms(const PolicySet& set) const;
  int64_t report_ms() const;  // how long the report's events and evaluation times are kept
  void reload(const std::string& why);
  void evaluate();
  void handle(std::vector<Event> events);
  std::vector<uint64_t> silent_validations() const;           // for ValidationTally::count()
  bool apply(const Event& e, const std::string& unrecorded);  // whether an actuator started
  // What an event shows (live view, log, event stream) and what the state store keeps of it.
  void record(const Event& e, const std::string& text);
  bool store_event(const Event& e, const std::string& text);
  std::optional<StoredAction> intent(const Event& e);
  void store_error();  // counts and logs the store's last error
  void persist_state();
  std::optional<EngineState> stored_engine_state();
  void reconcile();
  void read_knobs();
  void begin_shutdown();
  void finish_shutdown();
  int64_t now_ms() const;
  int64_t sample_ms() const;  // the time a scraped or pushed sample without one is stamped with
  std::vector<SourceHealth> source_healths() const;

  // control_api.cc
  HttpReply route(const HttpRequest& request);
  HttpReply control(const HttpRequest& request);
  std::string status_json() const;
  std::string policies_json() const;
  std::string metrics_text() const;

  DaemonConfig config_;
  bool dry_run_ = false;
  RunOptions options_;
  std::unique_ptr<RunOutput> output_;  // live view, summary, recording, report
  uv_loop_t loop_{};
  std::unique_ptr<WindowStore> store_;
  std::unique_ptr<Loaded> loaded_;
  std::unique_ptr<StateStore> state_;
  std::unique_ptr<CurlMulti> curl_;
  std::unique_ptr<HttpServer> server_;
  std::vector<std::unique_ptr<MetricSource>> sources_;
  SourceHealth push_health_;
  std::map<std::string, std::unique_ptr<Actuator>, std::less<>> actuators_;      // [knob.NAME]
  std::map<std::string, std::unique_ptr<Actuator>, std::less<>> run_actuators_;  // [run.NAME]
  std::vector<Pending> pending_;
  std::vector<std::shared_ptr<HttpStream>> streams_;
  std::string token_;
  std::vector<std::string> reload_errors_;  // diagnostics of the last failed reload
  int64_t last_reload_ms_ = 0;
  int64_t last_persist_ms_ = 0;
  // Each policy's state as the store holds it (Engine::policy_digest), by policy index: only
  // the policies whose digest moved are written. Empty until the first write of a policy set,
  // which writes every policy.
  std::vector<std::vector<int64_t>> stored_digests_;
  int64_t last_eval_ms_ = 0;
  int64_t started_ms_ = 0;
  DaemonCounters counters_;
  ValidationTally validations_;  // for setpoint_validations_total
  bool stopping_ = false;
  bool warmed_up_ = false;  // every source has answered once since the start
  int exit_code_ = 0;
  uv_timer_t eval_timer_{};
  uv_timer_t shutdown_timer_{};
  uv_timer_t reload_timer_{};
  uv_timer_t duration_timer_{};  // --duration
  uv_timer_t persist_timer_{};   // the engine's state, written after an actuator's request left
  uv_signal_t sigterm_{}, sigint_{}, sighup_{};
  std::vector<std::unique_ptr<uv_fs_event_t>> watchers_;
};

}  // namespace setpoint
