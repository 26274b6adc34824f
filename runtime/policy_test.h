// Unit tests for policies, as `promtool test rules` has for alerting rules: a TOML file of input
// series (promtool's notation) and expected events, read here and run through the engine core.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "interpreter/engine_event.h"
#include "runtime/effect_model.h"
#include "runtime/policy_loader.h"
#include "runtime/series_notation.h"

namespace setpoint {

// One [[expect]] (an event at a time) or [[never]] (an event at no time) table.
struct ExpectedEvent {
  bool never = false;
  int64_t at_ms = 0;  // from the start of the run; unused for [[never]]
  std::string policy;
  EventKind kind = EventKind::Applied;
  std::optional<std::string> knob;
  std::optional<double> value;                  // the event's `to`: the knob's new value
  std::optional<Labels> instance;               // the trigger's label set, exactly (normalized)
  uint32_t line = 0, column = 0;                // of the table's header, for messages
  uint32_t policy_line = 0, policy_column = 0;  // of the policy's name
};

// A test file, its paths resolved against the file's directory.
struct PolicyTest {
  std::string path;
  std::vector<std::string> policies;
  std::string effects;  // empty: no effect model
  int64_t interval_ms = 60'000;
  std::optional<int64_t> duration_ms;  // default: the longest series
  std::vector<std::pair<std::string, double>> knobs;
  std::vector<SeriesDesc> series;
  std::vector<ExpectedEvent> expectations;
};

// Parses a test file. Every error (TOML syntax, unknown keys, wrong types, bad series, values
// or durations) is appended to `errors` as "file:line:col: message; hint: ...", in the file's
// order; nullopt when there is any.
std::optional<PolicyTest> parse_policy_test(std::string_view toml, const std::string& path,
                                            std::vector<std::string>& errors);

// Files are taken as given; directories are searched recursively for regular files whose name
// contains "test" and ends in ".toml". Sorted, free of duplicates.
std::vector<std::string> expand_test_paths(const std::vector<std::string>& paths,
                                           std::vector<std::string>& errors);

struct ExpectedEventResult {
  const ExpectedEvent* expectation = nullptr;
  bool passed = false;
  // When it failed: the policy's events within two intervals of `at` (all of them if none are;
  // for [[never]], the offending ones).
  std::vector<Event> actual;
};

struct PolicyTestRun {
  std::vector<Event> events;  // everything the engine said, in order
  std::vector<ExpectedEventResult> results;
  size_t failed = 0;
};

// Does the event meet the expectation, time aside?
bool matches(const ExpectedEvent& e, const Event& event);

// Runs the test against a loaded, error-free policy set (and an effect model, if any). The
// series are fed from time 0 at the test's interval and the engine evaluates at 0, interval,
// ... up to the duration. Errors that depend on the policies (an unknown policy or knob) are
// appended to `errors` as file:line:col and the run is empty.
PolicyTestRun run_policy_test(const PolicyTest& test, const PolicySet& set, EffectModel* model,
                              std::vector<std::string>& errors);

// "5m", "1h2m15s", "750ms", "0s": a time from the start of a run.
std::string offset_text(int64_t ms);

}  // namespace setpoint
