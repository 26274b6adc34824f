// `setpoint test`: runs policy unit tests (docs/policy-tests.md) and prints each failing
// expectation beside what the policy actually did, then a count of passed and failed ones.
#include <charconv>
#include <cmath>
#include <iostream>

#include "cli/commands.h"
#include "runtime/policy_files.h"
#include "runtime/policy_test.h"

namespace setpoint {
namespace {

std::string number(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string instance_text(const Labels& labels) {
  return labels.empty() ? "" : labels_text(labels);
}

// What an event says, without its time: `policy{labels} applied cache_ttl 60 -> 120 (reason)`.
std::string event_desc(const Event& e) {
  std::string out = e.policy + instance_text(e.instance) + " " + event_kind_name(e.kind);
  if (!e.knob.empty()) out += " " + e.knob;
  if (!std::isnan(e.from)) out += " " + number(e.from);
  if (!std::isnan(e.to)) out += (std::isnan(e.from) ? " = " : " -> ") + number(e.to);
  if (!e.reason.empty()) out += " (" + e.reason + ")";
  return out;
}

std::string expected_desc(const ExpectedEvent& x) {
  std::string out =
      x.policy + (x.instance ? instance_text(*x.instance) : "") + " " + event_kind_name(x.kind);
  if (x.knob) out += " " + *x.knob;
  if (x.value) out += " -> " + number(*x.value);
  return out;
}

void print_failure(const std::string& path, const ExpectedEventResult& r) {
  const ExpectedEvent& x = *r.expectation;
  std::cout << path << ":" << x.line << ": FAIL " << (x.never ? "[[never]] " : "[[expect]] ")
            << x.policy << " " << event_kind_name(x.kind)
            << (x.never ? "" : " at " + offset_text(x.at_ms)) << "\n";
  // The times of both columns padded to one width, so the events line up.
  size_t width = x.never ? 5 : offset_text(x.at_ms).size();
  for (const Event& e : r.actual) width = std::max(width, offset_text(e.t_ms).size());
  auto pad = [&](std::string s) { return s + std::string(width - s.size() + 2, ' '); };
  std::cout << "  expected  " << pad(x.never ? "never" : offset_text(x.at_ms)) << expected_desc(x)
            << "\n";
  if (r.actual.empty()) {
    std::cout << "  actual    " << pad("-") << "(no events of " << x.policy << ")\n";
    return;
  }
  bool first = true;
  for (const Event& e : r.actual) {
    std::cout << (first ? "  actual    " : "            ") << pad(offset_text(e.t_ms))
              << event_desc(e) << "\n";
    first = false;
  }
}

// Runs one file; returns false on an error that is not a failed expectation.
bool run_file(const std::string& path, size_t& passed, size_t& failed) {
  std::string text, error;
  if (!read_file(path, 16 << 20, text, error)) {
    std::cerr << "setpoint: " << path << ": " << error << "\n";
    return false;
  }
  std::vector<std::string> errors;
  std::optional<PolicyTest> test = parse_policy_test(text, path, errors);
  for (const std::string& e : errors) std::cerr << e << "\n";
  if (!test) return false;

  PolicySet set;
  if (load_error_free(test->policies, set) != 0) return false;
  std::optional<EffectModel> model;
  if (!test->effects.empty()) {
    std::string effects;
    if (!read_file(test->effects, 1 << 20, effects, error)) {
      std::cerr << "setpoint: " << test->effects << ": " << error << "\n";
      return false;
    }
    model = EffectModel::parse(effects, test->effects, errors);
    for (const std::string& e : errors) std::cerr << e << "\n";
    if (!model) return false;
  }
  PolicyTestRun run = run_policy_test(*test, set, model ? &*model : nullptr, errors);
  for (const std::string& e : errors) std::cerr << e << "\n";
  if (!errors.empty()) return false;
  for (const ExpectedEventResult& r : run.results) {
    if (!r.passed) print_failure(path, r);
  }
  passed += run.results.size() - run.failed;
  failed += run.failed;
  if (run.failed == 0) {
    size_t n = run.results.size();
    std::cout << "ok " << path << " (" << n << " expectation" << (n == 1 ? "" : "s") << ")\n";
  }
  return true;
}

}  // namespace

int run_test(const TestCommand& cmd) {
  std::vector<std::string> errors;
  std::vector<std::string> files = expand_test_paths(cmd.paths, errors);
  for (const std::string& e : errors) std::cerr << "setpoint: " << e << "\n";
  bool ok = errors.empty();
  if (files.empty() && ok) {
    std::cerr << "setpoint: no test files (*test*.toml) found\n";
    ok = false;
  }
  size_t passed = 0, failed = 0;
  for (const std::string& f : files) ok &= run_file(f, passed, failed);
  std::cout << passed << " passed, " << failed << " failed\n";
  if (!ok) return 2;
  return failed ? 1 : 0;
}

}  // namespace setpoint
