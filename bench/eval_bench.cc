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
#include "workload.h"

using namespace setpoint;
using namespace setpoint::bench;

namespace {

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  int policies = argc > 1 ? std::atoi(argv[1]) : 1000;
  int instances = argc > 2 ? std::atoi(argv[2]) : 5000;
  std::printf(
      "workload: %d policies x %d instances x %d steps = %.0f policy-instance evaluations\n",
      policies, instances, kSamples, 1.0 * policies * instances * kSamples);

  LoopResult loop = hand_written_loop(policies, instances);
  const std::vector<uint64_t>& loop_true = loop.true_at_step;
  uint64_t loop_fired =
      std::accumulate(loop.fired_by_policy.begin(), loop.fired_by_policy.end(), uint64_t{0});
  double t0 = 0;
  double loop_seconds = loop.seconds;
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
  for (int p = 0; p < policies; ++p) text += policy_text(p);
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
