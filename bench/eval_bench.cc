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
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "grammar/parser.h"
#include "interpreter/evaluator.h"
#include "interpreter/range_functions.h"
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

// min/max/quantile_over_time of `a` over every instance at every step: the evaluator slides
// each window in order, against scanning (and for the quantile sorting) each window afresh at
// each step, which is what it did before and what a one-off evaluation still does.
void ordered_windows(const WindowStore& store, const std::vector<uint32_t>& ids) {
  struct Case {
    const char* expr;
    const char* name;
    int64_t range_ms;
    std::vector<double> args;
  };
  const Case cases[] = {
      {"max_over_time(a[5m])", "max_over_time", 300'000, {}},
      {"quantile_over_time(0.9, a[5m])", "quantile_over_time", 300'000, {0.9}},
      {"max_over_time(a[25m])", "max_over_time", 1'500'000, {}},
      {"quantile_over_time(0.9, a[25m])", "quantile_over_time", 1'500'000, {0.9}},
  };
  for (const Case& c : cases) {
    std::vector<Module> modules;
    Diagnostics diags;
    modules.push_back(parse_module(
        std::make_shared<const SourceFile>("bench", std::string("let e = ") + c.expr + "\n"),
        diags));
    CheckedProgram checked = check_policy_set(modules, diags);
    NodeId root = kNoNode;
    Program program =
        compile_expression(modules, checked, 0, modules[0].items[0].expr, &root, diags);

    double t0 = now_seconds();
    double scan_total = 0;
    std::vector<Sample> scratch;
    for (int k = 0; k < kSamples; ++k) {
      int64_t t = kBaseMs + k * kStepMs;
      for (uint32_t id : ids) {
        std::span<const Sample> window = store.range_view(id, t - c.range_ms, t, scratch);
        if (window.empty()) continue;
        scan_total += *range_function_at(c.name, window, t - c.range_ms, t, t, c.args);
      }
    }
    double scan_seconds = now_seconds() - t0;

    t0 = now_seconds();
    double slide_total = 0;
    Evaluator ev(modules, program, store);
    for (int k = 0; k < kSamples; ++k) {
      ev.at(kBaseMs + k * kStepMs);
      for (const VectorSample& v : ev.value(root).vector) slide_total += v.value;
    }
    double slide_seconds = now_seconds() - t0;
    double windows = 1.0 * kSamples * static_cast<double>(ids.size());
    std::printf("%s: sliding %.1f ns per window, scanning %.1f ns, %.2fx (answers %s)\n", c.expr,
                slide_seconds * 1e9 / windows, scan_seconds * 1e9 / windows,
                slide_seconds / scan_seconds, slide_total == scan_total ? "identical" : "DIFFER");
  }
}

// Incremental evaluation where it pays: ten scrape targets (jobs) of 500 instances each, each
// scraped every 15 s at its own phase, and an evaluation whenever a scrape lands (every 1.5 s),
// as the daemon evaluates after each scrape. 100 policies per job compare that job's
//   avg_over_time(a{job="jK"}[5m]) > T and b{job="jK"} < U
// so a scrape changes one job's windows of twenty. The same run with incremental evaluation off
// gives the ratio; both must find the same conditions true at every evaluation.
void staggered_scrapes() {
  constexpr int kJobs = 10, kPerJob = 500, kPoliciesPerJob = 100, kRounds = 100;
  constexpr int64_t kPhaseMs = kStepMs / kJobs;
  std::string text;
  for (int j = 0; j < kJobs; ++j) {
    for (int q = 0; q < kPoliciesPerJob; ++q) {
      int p = j * kPoliciesPerJob + q;
      std::string job = "{job=\"j" + std::to_string(j) + "\"}";
      text += "policy p" + std::to_string(p) + " {\n  trigger avg_over_time(a" + job + "[5m]) > " +
              std::to_string(threshold_t(p)) + " and b" + job + " < " +
              std::to_string(threshold_u(p)) + "\n  action notify \"x\"\n}\n";
    }
  }
  std::vector<Module> modules;
  Diagnostics diags;
  modules.push_back(
      parse_module(std::make_shared<const SourceFile>("staggered.setpoint", text), diags));
  Program program;
  check_policy_set(modules, diags, &program);
  if (diags.has_errors()) {
    std::fprintf(stderr, "staggered policies do not check\n");
    std::exit(1);
  }
  std::vector<NodeId> conditions;
  for (const PolicyPlan& plan : program.policies) {
    conditions.push_back(
        boost::source(*boost::in_edges(plan.trigger, program.graph).first, program.graph));
  }
  struct Run {
    double seconds = 0;
    uint64_t computed = 0;
    std::vector<uint64_t> true_at;
  };
  auto run = [&](bool incremental) {
    WindowStore store;
    std::vector<uint32_t> a(kJobs * kPerJob), b(a.size());
    for (int i = 0; i < kJobs * kPerJob; ++i) {
      Labels job = {{"instance", "i" + std::to_string(i)},
                    {"job", "j" + std::to_string(i / kPerJob)}};
      Labels la = job, lb = job;
      la.push_back({"__name__", "a"});
      lb.push_back({"__name__", "b"});
      normalize_labels(la);
      normalize_labels(lb);
      a[i] = store.series(la);
      b[i] = store.series(lb);
    }
    EvalOptions options;
    options.incremental = incremental;
    Evaluator ev(modules, program, store, options);
    std::vector<uint64_t> keep;
    Run r;
    for (int k = 0; k < kRounds; ++k) {
      for (int j = 0; j < kJobs; ++j) {
        int64_t t = kBaseMs + k * kStepMs + j * kPhaseMs;
        for (int i = j * kPerJob; i < (j + 1) * kPerJob; ++i) {  // the scrape lands
          store.sample(a[i], t, value_a(i, k));
          store.sample(b[i], t, value_b(i, k));
        }
        double t0 = now_seconds();
        ev.at(t);
        uint64_t holding = 0;
        for (NodeId c : conditions) {
          Evaluator::Truth truth;
          if (ev.truth(c, keep, truth)) {
            for (uint64_t w : keep) holding += static_cast<uint64_t>(std::popcount(w));
          } else {
            holding += ev.value(c).vector.size();
            ev.drop(c);
          }
        }
        r.seconds += now_seconds() - t0;
        r.true_at.push_back(holding);
      }
    }
    r.computed = ev.computed_nodes();
    return r;
  };
  Run full = run(false), incremental = run(true);
  double evaluations = 1.0 * kRounds * kJobs;
  std::printf(
      "staggered scrapes (%d jobs x %d instances, %d policies, an evaluation per scrape): "
      "incremental %.1f us per evaluation, %.0f nodes computed; everything afresh %.1f us, %.0f "
      "nodes; %.2fx (conditions true %s)\n",
      kJobs, kPerJob, kJobs * kPoliciesPerJob, incremental.seconds * 1e6 / evaluations,
      static_cast<double>(incremental.computed) / evaluations, full.seconds * 1e6 / evaluations,
      static_cast<double>(full.computed) / evaluations, incremental.seconds / full.seconds,
      incremental.true_at == full.true_at ? "identical" : "DIFFERENT");
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
  ordered_windows(store, ids_a);
  staggered_scrapes();
  return same ? 0 : 1;
}
