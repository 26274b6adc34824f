// Graph-evaluation benchmark for issue 4's workload: metrics `a` and `b` for I instances (5,000),
// 100 samples each at a 15 s step, and P policies (1,000) of the form
//   trigger avg_over_time(a[5m]) > T and b < U for 2m
// each with its own T and U, every policy evaluated over every instance at every step.
// The yardstick is a hand-written single-threaded loop over the same data (prefix sums, one
// pass per policy and instance); every figure is printed as a ratio to it, and both must agree
// on how many policy instances hold at every step.
//
//   build/release/bench/bench_eval [policies] [instances]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "grammar/parser.h"
#include "interpreter/evaluator.h"
#include "runtime/policy_loader.h"

using namespace setpoint;

namespace {

constexpr int kSamples = 100;
constexpr int64_t kStepMs = 15'000;
constexpr int64_t kBaseMs = 1'700'000'000'000;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Deterministic values that move, so thresholds split the instances differently each step.
// Integer values and thresholds at x.37, which no average of up to 20 integers can equal, so
// rounding in the two ways of averaging never decides a comparison.
double value_a(int instance, int k) { return (instance * 37 + k * 11) % 1000; }
double value_b(int instance, int k) { return (instance * 53 + k * 7) % 1000; }
double threshold_t(int p) { return (p * 7919) % 1000 + 0.37; }
double threshold_u(int p) { return (p * 104729) % 1000 + 0.37; }

}  // namespace

int main(int argc, char** argv) {
  int policies = argc > 1 ? std::atoi(argv[1]) : 1000;
  int instances = argc > 2 ? std::atoi(argv[2]) : 5000;
  std::printf(
      "workload: %d policies x %d instances x %d steps = %.0f policy-instance evaluations\n",
      policies, instances, kSamples, 1.0 * policies * instances * kSamples);

  // The yardstick: prefix sums of a per instance, then one pass per policy and instance.
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
  std::vector<uint64_t> loop_true(kSamples, 0);
  std::vector<uint8_t> pending(static_cast<size_t>(policies) * instances, 0);  // steps held
  uint64_t loop_fired = 0;
  for (int k = 0; k < kSamples; ++k) {
    int first = std::max(0, k - window + 1);
    for (int p = 0; p < policies; ++p) {
      double T = threshold_t(p), U = threshold_u(p);
      for (int i = 0; i < instances; ++i) {
        const double* pre = &prefix[static_cast<size_t>(i) * (kSamples + 1)];
        double avg = (pre[k + 1] - pre[first]) / (k + 1 - first);
        bool holds = avg > T && b[static_cast<size_t>(i) * kSamples + k] < U;
        uint8_t& held = pending[static_cast<size_t>(p) * instances + i];
        held = holds ? static_cast<uint8_t>(std::min(held + 1, 255)) : 0;
        loop_true[k] += holds;
        loop_fired += held == 9;  // true at 9 evaluations spans 2m: the hold is over
      }
    }
  }
  double loop_seconds = now_seconds() - t0;
  std::printf("hand-written loop: %.3f s, %.2f ns per policy-instance evaluation\n", loop_seconds,
              loop_seconds * 1e9 / (1.0 * policies * instances * kSamples));

  // setpoint: ingest into the window store, compile the policies, evaluate the graph.
  t0 = now_seconds();
  WindowStore store;
  std::vector<uint32_t> ids_a(instances), ids_b(instances);
  for (int i = 0; i < instances; ++i) {
    std::string inst = "i" + std::to_string(i);
    ids_a[i] = store.series({{"__name__", "a"}, {"instance", inst}});
    ids_b[i] = store.series({{"__name__", "b"}, {"instance", inst}});
  }
  for (int k = 0; k < kSamples; ++k) {
    for (int i = 0; i < instances; ++i) {
      store.sample(ids_a[i], kBaseMs + k * kStepMs, value_a(i, k));
      store.sample(ids_b[i], kBaseMs + k * kStepMs, value_b(i, k));
    }
  }
  double ingest_seconds = now_seconds() - t0;

  std::string text;
  for (int p = 0; p < policies; ++p) {
    text += "policy p" + std::to_string(p) + " {\n  trigger avg_over_time(a[5m]) > " +
            std::to_string(threshold_t(p)) + " and b < " + std::to_string(threshold_u(p)) +
            " for 2m\n  action notify \"x\"\n}\n";
  }
  t0 = now_seconds();
  std::vector<Module> modules;
  Diagnostics diags;
  modules.push_back(
      parse_module(std::make_shared<const SourceFile>("bench.setpoint", text), diags));
  Program program;
  check_policy_set(modules, diags, &program);
  if (diags.has_errors()) {
    std::fprintf(stderr, "bench policies do not check\n");
    return 1;
  }
  double compile_seconds = now_seconds() - t0;

  t0 = now_seconds();
  Evaluator ev(modules, program, store);
  std::vector<uint64_t> graph_true(kSamples, 0);
  for (int k = 0; k < kSamples; ++k) {
    ev.at(kBaseMs + k * kStepMs);
    for (const PolicyPlan& plan : program.policies) {
      NodeId condition =
          boost::source(*boost::in_edges(plan.trigger, program.graph).first, program.graph);
      graph_true[k] += ev.value(condition).vector.size();
      ev.drop(condition);
    }
  }
  double eval_seconds = now_seconds() - t0;
  bool same = graph_true == loop_true;
  double evals = 1.0 * policies * instances * kSamples;
  std::printf("window store ingest: %.3f s for %d samples (%.1f M samples/s)\n", ingest_seconds,
              2 * instances * kSamples, 2.0 * instances * kSamples / ingest_seconds / 1e6);
  std::printf("parse + check + compile: %.3f s, %zu graph nodes\n", compile_seconds,
              boost::num_vertices(program.graph));
  std::printf("graph evaluation: %.3f s, %.2f ns per policy-instance evaluation, %.1fx the loop\n",
              eval_seconds, eval_seconds * 1e9 / evals, eval_seconds / loop_seconds);
  std::printf(
      "conditions true: %s the loop's at every step (%llu in all; holds completed by the "
      "loop: %llu)\n",
      same ? "identical to" : "DIFFERENT from",
      static_cast<unsigned long long>(
          std::accumulate(graph_true.begin(), graph_true.end(), uint64_t{0})),
      static_cast<unsigned long long>(loop_fired));
  std::printf("peak RSS: %.1f MB\n", peak_rss_kb() / 1024.0);
  return same ? 0 : 1;
}
