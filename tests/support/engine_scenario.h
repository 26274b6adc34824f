// A policy set, a window store and an engine over them, for tests of the engine core: fill
// series with values, evaluate every 15 s and read the events as text.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "interpreter/engine.h"
#include "runtime/policy_loader.h"
#include "support/fixtures.h"

namespace setpoint::test {

constexpr int64_t kStep = 15'000;

// Policies and a store; `run` evaluates every 15 s from 0 to `until` and prints the events.
struct Scenario {
  Checked checked;
  Program program;
  WindowStore store;
  std::unique_ptr<Engine> engine;

  explicit Scenario(const std::string& policies, EngineOptions options = {})
      : checked(check_text(policies)) {
    for (const std::string& s : checked.summary()) INFO(s);
    REQUIRE_FALSE(checked.diagnostics.has_errors());
    check_policy_set(checked.modules, checked.diagnostics, &program);
    engine = std::make_unique<Engine>(checked.modules, checked.program, program, store, options);
  }
  // `value` from t0 (inclusive) to t1 (exclusive), every 15 s, for one series.
  void fill(const Labels& labels, int64_t t0_s, int64_t t1_s, double value) {
    uint32_t id = store.series(labels);
    for (int64_t t = t0_s * 1000; t < t1_s * 1000; t += kStep) store.sample(id, t, value);
  }
  std::string run(int64_t until_s, int64_t from_s = 0) {
    std::string out;
    for (int64_t t = from_s * 1000; t <= until_s * 1000; t += kStep) {
      for (const Event& e : engine->evaluate(t)) out += event_text(e) + "\n";
    }
    return out;
  }
};

inline Labels series(const std::string& name, Labels extra = {}) {
  extra.push_back({"__name__", name});
  normalize_labels(extra);
  return extra;
}

// `load` at `before` until t_s, then `after`, with a small repeating jitter, every 15 s.
inline void load_shift(Scenario& s, int64_t t_s, double before, double after,
                       int64_t until_s = 900) {
  uint32_t id = s.store.series(series("load"));
  for (int64_t t = 0, k = 0; t < until_s; t += 15, ++k) {
    double jitter = 0.01 * static_cast<double>(k % 5);
    s.store.sample(id, t * 1000, (t < t_s ? before : after) + jitter);
  }
}

}  // namespace setpoint::test
