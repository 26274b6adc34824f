// setpoint-demo-load: the live demo's open-loop load generator on libuv and libcurl. Requests
// start on schedule whatever the answers do; too many in flight are shed, never queued.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "examples/demo/load_profile.h"
#include "examples/demo/loopback_address.h"
#include "runtime/curl_multi.h"

namespace setpoint {

namespace {

constexpr uint64_t kTickMs = 5;
constexpr uint64_t kGraceMs = 2000;  // after the last phase, for answers in flight
constexpr double kRequestTimeoutSeconds = 2;
// CurlMulti opens at most 64 connections and queues transfers beyond them; an open-loop client
// must not queue, so it gets one CurlMulti per 64 requests it may have in flight.
constexpr size_t kConnectionsPerClient = 64;

struct DemoLoadLoop {
  uv_loop_t* loop = nullptr;
  std::vector<DemoPhase> phases;
  std::vector<DemoPhaseCounts> counts;
  std::vector<std::unique_ptr<CurlMulti>> clients;
  DemoKeyChooser keys;
  std::string url_prefix;  // "http://127.0.0.1:PORT/api/item?key=k"
  size_t concurrency = 512;
  size_t in_flight = 0;
  size_t phase = 0;
  uint64_t phase_start_ns = 0;
  uint64_t phase_started = 0;  // requests started or shed in this phase
  uv_timer_t tick{};
  uv_timer_t grace{};
  uv_signal_t sigterm{};
  uv_signal_t sigint{};
  bool schedule_done = false;
  bool ended = false;
  std::string summary_path;
  int status = 0;

  explicit DemoLoadLoop(uint64_t seed) : keys(seed) {}
  void start();
  void on_tick();
  void start_one();
  void schedule_finished();
  void end();
};

void print_line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void DemoLoadLoop::start() {
  phase_start_ns = uv_hrtime();
  print_line(demo_phase_notice(phases[0]));
  uv_timer_start(
      &tick, [](uv_timer_t* t) { static_cast<DemoLoadLoop*>(t->data)->on_tick(); }, 0, kTickMs);
}

void DemoLoadLoop::on_tick() {
  uint64_t now = uv_hrtime();
  while (phase < phases.size()) {
    const DemoPhase& p = phases[phase];
    double elapsed = static_cast<double>(now - phase_start_ns) / 1e9;
    uint64_t due = demo_phase_due(p, elapsed);
    while (phase_started < due && !ended) start_one();
    if (ended) return;
    if (elapsed < p.duration_seconds) return;
    // The next phase starts where this one was due to end, not at this tick, so a late tick
    // never stretches the run.
    phase_start_ns += static_cast<uint64_t>(p.duration_seconds * 1e9);
    phase_started = 0;
    if (++phase < phases.size()) print_line(demo_phase_notice(phases[phase]));
  }
  schedule_finished();
}

void DemoLoadLoop::start_one() {
  ++phase_started;
  DemoPhaseCounts& c = counts[phase];
  if (in_flight >= concurrency) {
    ++c.shed;
    return;
  }
  ++c.sent;
  ++in_flight;
  HttpClientRequest request;
  request.url = url_prefix + std::to_string(keys.next(phases[phase].hot_keys));
  request.timeout_seconds = kRequestTimeoutSeconds;
  request.max_body_bytes = 64 * 1024;
  request.truncate_body = true;
  CurlMulti* least = clients.front().get();
  for (auto& client : clients) {
    if (client->in_flight() < least->in_flight()) least = client.get();
  }
  size_t index = phase;
  least->request(std::move(request), [this, index](const HttpClientResponse& r) {
    DemoPhaseCounts& counted = counts[index];
    --in_flight;
    if (r.ok && r.status == 200) {
      ++counted.ok;
    } else if (r.ok && r.status == 503) {
      ++counted.unavailable;
    } else if (r.ok && r.status == 504) {
      ++counted.gateway_timeout;
    } else {
      ++counted.errors;
    }
    if (schedule_done && in_flight == 0) end();
  });
}

void DemoLoadLoop::schedule_finished() {
  if (schedule_done) return;
  schedule_done = true;
  uv_timer_stop(&tick);
  if (in_flight == 0) {
    end();
    return;
  }
  uv_timer_start(
      &grace, [](uv_timer_t* t) { static_cast<DemoLoadLoop*>(t->data)->end(); }, kGraceMs, 0);
}

bool write_summary(const std::string& path, const std::string& text) {
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return false;
  }
  return std::rename(temp.c_str(), path.c_str()) == 0;
}

void DemoLoadLoop::end() {
  if (ended) return;
  ended = true;
  // Transfers still in flight are cancelled here: each `done` runs, counted as an error, before
  // close() returns, so the summary below adds up.
  for (auto& client : clients) client->close();
  for (auto* handle :
       {reinterpret_cast<uv_handle_t*>(&tick), reinterpret_cast<uv_handle_t*>(&grace),
        reinterpret_cast<uv_handle_t*>(&sigterm), reinterpret_cast<uv_handle_t*>(&sigint)}) {
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  }
  for (size_t i = 0; i < phases.size(); ++i) print_line(demo_phase_summary(phases[i], counts[i]));
  if (!summary_path.empty() && !write_summary(summary_path, demo_summary_json(phases, counts))) {
    std::fprintf(stderr, "setpoint-demo-load: cannot write %s\n", summary_path.c_str());
    status = 1;
  }
}

void raise_descriptor_limit(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
}

int run(int argc, char** argv) {
  CLI::App app{"The live demo's open-loop load generator"};
  std::string target;
  std::string profile(kDemoDefaultProfile);
  double max_rate = 2000;
  size_t concurrency = 512;
  uint64_t seed = 1;
  std::string summary_path;
  app.add_option("--target", target, "the service, host:port on loopback")->required();
  app.add_option("--profile", profile, "phases: name:duration@rate, comma-separated")
      ->capture_default_str();
  app.add_option("--max-rate", max_rate, "the highest rate of any phase, requests per second")
      ->check(CLI::Range(1.0, 100000.0))
      ->capture_default_str();
  app.add_option("--concurrency", concurrency, "requests in flight before new ones are shed")
      ->check(CLI::Range(size_t{1}, size_t{4096}))
      ->capture_default_str();
  app.add_option("--seed", seed, "seed of the key choice")->capture_default_str();
  app.add_option("--summary-json", summary_path, "where to write the per-phase counts as JSON");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  DemoLoopbackAddress address;
  std::string error;
  if (!demo_parse_loopback(target, false, address, error)) {
    std::fprintf(stderr, "setpoint-demo-load: --target %s\n", error.c_str());
    return 2;
  }
  auto load = std::make_unique<DemoLoadLoop>(seed);
  if (!demo_parse_profile(profile, max_rate, load->phases, error)) {
    std::fprintf(stderr, "setpoint-demo-load: --profile: %s\n", error.c_str());
    return 2;
  }
  for (const DemoPhase& p : load->phases) {
    if (p.asked_rate > p.rate) {
      std::fprintf(stderr, "setpoint-demo-load: phase %s: %g req/s bounded to --max-rate %g\n",
                   p.name.c_str(), p.asked_rate, p.rate);
    }
  }
  raise_descriptor_limit(concurrency + 256);

  uv_loop_t loop;
  uv_loop_init(&loop);
  DemoLoadLoop* l = load.get();
  l->loop = &loop;
  l->counts.resize(l->phases.size());
  l->concurrency = concurrency;
  l->summary_path = summary_path;
  l->url_prefix = "http://" + address.url_authority() + "/api/item?key=k";
  size_t clients = (concurrency + kConnectionsPerClient - 1) / kConnectionsPerClient;
  for (size_t i = 0; i < clients; ++i) l->clients.push_back(std::make_unique<CurlMulti>(&loop));
  for (uv_timer_t* t : {&l->tick, &l->grace}) {
    uv_timer_init(&loop, t);
    t->data = l;
  }
  for (uv_signal_t* sig : {&l->sigterm, &l->sigint}) {
    uv_signal_init(&loop, sig);
    sig->data = l;
  }
  auto on_signal = [](uv_signal_t* sig, int) { static_cast<DemoLoadLoop*>(sig->data)->end(); };
  uv_signal_start(&l->sigterm, on_signal, SIGTERM);
  uv_signal_start(&l->sigint, on_signal, SIGINT);
  l->start();
  uv_run(&loop, UV_RUN_DEFAULT);
  int status = l->status;
  load.reset();
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) {
    std::fprintf(stderr, "setpoint-demo-load: a handle was left open\n");
    return 1;
  }
  return status;
}

}  // namespace

}  // namespace setpoint

int main(int argc, char** argv) { return setpoint::run(argc, argv); }
