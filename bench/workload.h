// Issue 4's benchmark workload, shared by bench_eval and bench_replay: metrics `a` and `b` for
// I instances, 100 samples each at a 15 s step, and P policies
//   trigger avg_over_time(a[5m]) > T and b < U for 2m
// each with its own T and U. The yardstick is a hand-written single-threaded loop over the
// same data (prefix sums, one pass per policy and instance).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace setpoint::bench {

constexpr int kSamples = 100;
constexpr int64_t kStepMs = 15'000;
constexpr int64_t kBaseMs = 1'700'000'000'000;

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Deterministic values that move, so thresholds split the instances differently each step.
// Integer values and thresholds at x.37, which no average of up to 20 integers can equal, so
// rounding in the two ways of averaging never decides a comparison.
inline double value_a(int instance, int k) { return (instance * 37 + k * 11) % 1000; }
inline double value_b(int instance, int k) { return (instance * 53 + k * 7) % 1000; }
inline double threshold_t(int p) { return (p * 7919) % 1000 + 0.37; }
inline double threshold_u(int p) { return (p * 104729) % 1000 + 0.37; }

inline std::string policy_text(int p) {
  return "policy p" + std::to_string(p) + " {\n  trigger avg_over_time(a[5m]) > " +
         std::to_string(threshold_t(p)) + " and b < " + std::to_string(threshold_u(p)) +
         " for 2m\n  action notify \"x\"\n}\n";
}

struct LoopResult {
  double seconds = 0;
  std::vector<uint64_t> true_at_step;     // policy instances whose condition holds, per step
  std::vector<uint64_t> fired_by_policy;  // holds that completed their 2m, per policy
};

inline LoopResult hand_written_loop(int policies, int instances) {
  LoopResult r;
  double t0 = now_seconds();
  std::vector<double> a(static_cast<size_t>(instances) * kSamples), b(a.size());
  for (int i = 0; i < instances; ++i) {
    for (int k = 0; k < kSamples; ++k) {
      a[static_cast<size_t>(i) * kSamples + k] = value_a(i, k);
      b[static_cast<size_t>(i) * kSamples + k] = value_b(i, k);
    }
  }
  std::vector<double> prefix(static_cast<size_t>(instances) * (kSamples + 1));
  for (int i = 0; i < instances; ++i) {
    double* p = &prefix[static_cast<size_t>(i) * (kSamples + 1)];
    p[0] = 0;
    for (int k = 0; k < kSamples; ++k) p[k + 1] = p[k] + a[static_cast<size_t>(i) * kSamples + k];
  }
  // [5m] at step k holds samples k-19..k (20 samples in (t-5m, t] at a 15 s step).
  const int window = 20;
  r.true_at_step.assign(kSamples, 0);
  r.fired_by_policy.assign(policies, 0);
  std::vector<uint8_t> pending(static_cast<size_t>(policies) * instances, 0);  // steps held
  for (int k = 0; k < kSamples; ++k) {
    int first = std::max(0, k - window + 1);
    for (int p = 0; p < policies; ++p) {
      double T = threshold_t(p), U = threshold_u(p);
      // Local counters: stores through the uint8_t holds may alias anything, so counters in
      // memory would be reloaded at every instance.
      uint64_t fired = 0, holding = 0;
      const double* bk = &b[k];
      for (int i = 0; i < instances; ++i) {
        const double* pre = &prefix[static_cast<size_t>(i) * (kSamples + 1)];
        double avg = (pre[k + 1] - pre[first]) / (k + 1 - first);
        bool holds = avg > T && bk[static_cast<size_t>(i) * kSamples] < U;
        uint8_t& held = pending[static_cast<size_t>(p) * instances + i];
        held = holds ? static_cast<uint8_t>(std::min(held + 1, 255)) : 0;
        holding += holds;
        fired += held == 9;  // true at 9 evaluations spans 2m: the hold is over
      }
      r.true_at_step[k] += holding;
      r.fired_by_policy[p] += fired;
    }
  }
  r.seconds = now_seconds() - t0;
  return r;
}

}  // namespace setpoint::bench
