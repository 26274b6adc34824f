// The replay benchmark of issue 5: issue 4's workload (bench/workload.h) end to end, from a
// Prometheus text file to the summary, through the real `setpoint simulate` binary, against
// the hand-written loop on the same work; the fired counts of every policy must be the same.
// Then a daemon-shaped tick in process: 10,000 new samples and 1,000 policies over 10 series
// each, the engine's time per evaluation as percentiles.
//
//   build/release/bench/bench_replay [policies] [instances]
//   build/release/bench/bench_replay tick
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/parser.h"
#include "interpreter/engine.h"
#include "runtime/policy_loader.h"
#include "workload.h"

using namespace setpoint;
using namespace setpoint::bench;

namespace {

struct ChildRun {
  int status = -1;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  long peak_rss_kb = 0;
};

ChildRun run_child(const std::vector<std::string>& argv, const std::string& out_path) {
  ChildRun r;
  double t0 = now_seconds();
  pid_t pid = fork();
  if (pid == 0) {
    FILE* out = std::fopen(out_path.c_str(), "w");
    if (out) dup2(fileno(out), STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  rusage u{};
  int status = 0;
  wait4(pid, &status, 0, &u);
  r.wall_seconds = now_seconds() - t0;
  r.cpu_seconds =
      u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
  r.peak_rss_kb = u.ru_maxrss;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string sibling_binary(const char* argv0) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string path = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string(argv0);
  return path.substr(0, path.rfind('/')) + "/../setpoint";
}

// The summary's rows: policy name -> fired.
std::map<std::string, uint64_t> fired_from_summary(const std::string& path) {
  std::map<std::string, uint64_t> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string name;
    uint64_t fired = 0;
    if (words >> name >> fired && name.size() > 1 && name[0] == 'p') out[name] = fired;
  }
  return out;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    std::string candidate = d + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// `promtool test rules` on a slice of the same workload, as equivalent alerting rules with the
// same series in promtool's notation, extrapolated linearly in policy-instances to the whole.
// promtool evaluates every rule at every step up to the test's last eval_time.
void promtool_slice(const std::string& dir, double setpoint_seconds, int policies, int instances) {
  std::string promtool = find_in_path("promtool");
  if (promtool.empty()) {
    std::printf("promtool: not installed (Debian package prometheus), not compared\n");
    return;
  }
  const int slice_policies = std::min(policies, 10), slice_instances = std::min(instances, 500);
  {
    std::ofstream rules(dir + "/rules.yml");
    rules << "groups:\n  - name: bench\n    interval: 15s\n    rules:\n";
    for (int p = 0; p < slice_policies; ++p) {
      rules << "      - alert: p" << p << "\n        expr: avg_over_time(a[5m]) > "
            << std::to_string(threshold_t(p)) << " and b < " << std::to_string(threshold_u(p))
            << "\n        for: 2m\n";
    }
    std::ofstream test(dir + "/test.yml");
    test << "rule_files:\n  - rules.yml\nevaluation_interval: 15s\ntests:\n  - interval: 15s\n"
            "    input_series:\n";
    for (int i = 0; i < slice_instances; ++i) {
      for (char metric : {'a', 'b'}) {
        test << "      - series: '" << metric << "{instance=\"i" << i << "\"}'\n        values: '";
        for (int k = 0; k < kSamples; ++k) {
          test << (k ? " " : "") << (metric == 'a' ? value_a(i, k) : value_b(i, k));
        }
        test << "'\n";
      }
    }
    // The last step, so that every step is evaluated; whatever fires there is reported as a
    // mismatch, which costs promtool nothing next to the evaluation.
    test << "    alert_rule_test:\n      - eval_time: " << (kSamples - 1) * kStepMs / 1000
         << "s\n        alertname: p0\n        exp_alerts: []\n";
  }
  ChildRun run = run_child({promtool, "test", "rules", dir + "/test.yml"}, dir + "/promtool.txt");
  double slice = static_cast<double>(slice_policies) * slice_instances;
  double whole = static_cast<double>(policies) * instances;
  double extrapolated = run.wall_seconds * whole / slice;
  std::printf(
      "promtool test rules: %.3f s on a slice of %d policies x %d instances (exit %d); x%.0f "
      "-> %.0f s for the workload = %.0fx setpoint simulate's %.3f s (target > 1000x)\n",
      run.wall_seconds, slice_policies, slice_instances, run.status, whole / slice, extrapolated,
      extrapolated / setpoint_seconds, setpoint_seconds);
  for (const char* f : {"/rules.yml", "/test.yml", "/promtool.txt"}) std::remove((dir + f).c_str());
}

// 10,000 series in 1,000 groups of 10; policy g watches its own group. Each tick brings one
// sample for every series; the engine evaluates every policy.
void daemon_tick() {
  constexpr int kGroups = 1000, kPerGroup = 10, kTicks = 300;
  // The store keeps what `simulate` keeps (the daemon's retention must cover as much): 5
  // minutes here. Until it is full its buffers grow, all 10,000 at the same ticks; the ticks
  // measured are those after it, a daemon's steady state.
  constexpr int kWarmUp = 360;
  StoreLimits limits;
  limits.retention_ms = 300'000;
  WindowStore store(limits);
  std::vector<uint32_t> ids;
  for (int g = 0; g < kGroups; ++g) {
    for (int i = 0; i < kPerGroup; ++i) {
      ids.push_back(store.series({{"__name__", "latency"},
                                  {"group", "g" + std::to_string(g)},
                                  {"instance", std::to_string(i)}}));
    }
  }
  std::string text;
  for (int g = 0; g < kGroups; ++g) {
    text += "policy p" + std::to_string(g) + " {\n  trigger avg_over_time(latency{group=\"g" +
            std::to_string(g) + "\"}[1m]) > " + std::to_string(threshold_t(g)) +
            " for 30s\n  action notify \"x\"\n}\n";
  }
  std::vector<Module> modules;
  Diagnostics diags;
  modules.push_back(parse_module(std::make_shared<const SourceFile>("tick.setpoint", text), diags));
  Program program;
  CheckedProgram checked = check_policy_set(modules, diags, &program);
  if (diags.has_errors()) {
    std::fprintf(stderr, "tick policies do not check\n");
    std::exit(1);
  }
  Engine engine(modules, checked, program, store);
  std::vector<double> engine_ms, ingest_ms, warm_up_ms;
  size_t events = 0;
  for (int k = 0; k < kWarmUp + kTicks; ++k) {
    int64_t t = kBaseMs + k * 1000;
    double t0 = now_seconds();
    for (size_t s = 0; s < ids.size(); ++s) {
      store.sample(ids[s], t, value_a(static_cast<int>(s), k));
    }
    double t1 = now_seconds();
    size_t tick_events = engine.evaluate(t).size();
    double t2 = now_seconds();
    if (k < kWarmUp) {
      warm_up_ms.push_back((t2 - t1) * 1e3);
      continue;
    }
    events += tick_events;
    ingest_ms.push_back((t1 - t0) * 1e3);
    engine_ms.push_back((t2 - t1) * 1e3);
  }
  std::printf(
      "daemon-shaped tick: 10000 samples, 1000 policies over 10 series each, %d ticks after %d "
      "while the store filled its 5 minutes (engine p50 %.3f ms p99 %.3f ms), %zu events\n",
      kTicks, kWarmUp, percentile(warm_up_ms, 0.5), percentile(warm_up_ms, 0.99), events);
  std::printf("  engine  p50 %.3f ms  p99 %.3f ms  max %.3f ms = p99 %.2fx the 1 ms target\n",
              percentile(engine_ms, 0.5), percentile(engine_ms, 0.99), percentile(engine_ms, 1),
              percentile(engine_ms, 0.99) / 1.0);
  std::printf("  ingest  p50 %.3f ms  p99 %.3f ms (10000 samples into the window store)\n",
              percentile(ingest_ms, 0.5), percentile(ingest_ms, 0.99));
}

}  // namespace

int main(int argc, char** argv) {
  // `bench_replay tick`: the daemon-shaped tick alone, to profile it.
  if (argc > 1 && std::string(argv[1]) == "tick") {
    daemon_tick();
    return 0;
  }
  int policies = argc > 1 ? std::atoi(argv[1]) : 1000;
  int instances = argc > 2 ? std::atoi(argv[2]) : 5000;
  std::string setpoint = sibling_binary(argv[0]);
  char dir_template[] = "/tmp/setpoint-bench-replay-XXXXXX";
  if (!mkdtemp(dir_template)) {
    std::perror("mkdtemp");
    return 1;
  }
  std::string dir = dir_template;
  std::printf("workload: %d policies x %d instances x %d steps, %d samples in a Prometheus file\n",
              policies, instances, kSamples, 2 * instances * kSamples);

  // The recording: every sample with its timestamp, step by step, as a scrape log would be.
  {
    std::ofstream m(dir + "/metrics.prom");
    for (int k = 0; k < kSamples; ++k) {
      int64_t t = kBaseMs + k * kStepMs;
      for (int i = 0; i < instances; ++i) {
        m << "a{instance=\"i" << i << "\"} " << value_a(i, k) << " " << t << "\n";
        m << "b{instance=\"i" << i << "\"} " << value_b(i, k) << " " << t << "\n";
      }
    }
    std::ofstream p(dir + "/policies.setpoint");
    for (int i = 0; i < policies; ++i) p << policy_text(i);
  }

  LoopResult loop = hand_written_loop(policies, instances);
  uint64_t loop_fired =
      std::accumulate(loop.fired_by_policy.begin(), loop.fired_by_policy.end(), uint64_t{0});
  std::printf("hand-written loop: %.3f s (data in memory, no parsing, no events)\n", loop.seconds);

  ChildRun sim =
      run_child({setpoint, "simulate", "--policies", dir + "/policies.setpoint", "--metrics",
                 dir + "/metrics.prom", "--step", "15s", "--format", "summary"},
                dir + "/summary.txt");
  std::map<std::string, uint64_t> fired = fired_from_summary(dir + "/summary.txt");
  bool same = sim.status == 0 && fired.size() == static_cast<size_t>(policies);
  uint64_t sim_fired = 0;
  for (int p = 0; p < policies; ++p) {
    uint64_t f = fired["p" + std::to_string(p)];
    sim_fired += f;
    same &= f == loop.fired_by_policy[p];
  }
  std::printf(
      "setpoint simulate --format summary: %.3f s wall, %.3f s CPU = %.2fx the loop (target "
      "<= 1.0)\n",
      sim.wall_seconds, sim.cpu_seconds, sim.wall_seconds / loop.seconds);
  std::printf("  peak RSS %.1f MB = %.2fx the 64 MB target\n", sim.peak_rss_kb / 1024.0,
              sim.peak_rss_kb / 1024.0 / 64);
  std::printf("  firings: %s the loop's for every policy (%llu in all; the loop: %llu)\n",
              same ? "identical to" : "DIFFERENT from", static_cast<unsigned long long>(sim_fired),
              static_cast<unsigned long long>(loop_fired));
  // SETPOINT_BENCH_KEEP=1 leaves the workload where it is, to profile `simulate` over it.
  if (std::getenv("SETPOINT_BENCH_KEEP")) {
    std::printf("  workload kept in %s\n", dir.c_str());
    return same ? 0 : 1;
  }
  std::remove((dir + "/metrics.prom").c_str());
  std::remove((dir + "/policies.setpoint").c_str());
  std::remove((dir + "/summary.txt").c_str());

  promtool_slice(dir, sim.wall_seconds, policies, instances);
  rmdir(dir.c_str());

  daemon_tick();
  return same ? 0 : 1;
}
