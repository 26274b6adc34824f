// Ingest benchmark for the window store: S series (default 10,000) each given N samples
// (default 100) at 15 s steps, through SampleSink as the readers call it. Target: 10 M samples/s.
//
//   build/release/bench/bench_ingest [SERIES] [SAMPLES]
//
// Prints samples/s (best and median of 5 runs, each into a fresh store), bytes per sample held,
// a steady state with 5 minutes of retention (the ring evicting as fast as it takes), the cost
// of range() reads, and the peak RSS.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "interpreter/window_store.h"

using namespace setpoint;

namespace {

constexpr int64_t kStepMs = 15'000;
constexpr int kRuns = 5;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

std::vector<Labels> make_labels(int series) {
  std::vector<Labels> all;
  all.reserve(static_cast<size_t>(series));
  for (int i = 0; i < series; ++i) {
    all.push_back({{"__name__", "http_requests_total"},
                   {"code", i % 5 == 0 ? "500" : "200"},
                   {"handler", "/v1/items/" + std::to_string(i % 10)},
                   {"instance", "host-" + std::to_string(i / 10) + ":9100"},
                   {"job", "api"},
                   {"method", i % 2 ? "GET" : "POST"}});
  }
  return all;
}

struct Run {
  double register_s = 0;
  double ingest_s = 0;
  size_t held = 0;
  size_t bytes = 0;
};

// Announces every series, then appends scrape by scrape: one sample to every series per
// 15 s step, the order a scraper or a metrics file delivers them in.
Run ingest(WindowStore& store, const std::vector<Labels>& labels, int samples, int64_t t0 = 0) {
  Run r;
  SampleSink& sink = store;
  std::vector<uint32_t> ids;
  ids.reserve(labels.size());
  auto start = std::chrono::steady_clock::now();
  for (const Labels& l : labels) ids.push_back(sink.series(l));
  r.register_s = seconds_since(start);
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < samples; ++i) {
    int64_t t = t0 + i * kStepMs;
    double base = static_cast<double>(i) * 1.5;
    for (uint32_t id : ids) sink.sample(id, t, base + id);
  }
  r.ingest_s = seconds_since(start);
  r.held = store.sample_count();
  r.bytes = store.sample_bytes();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int series = argc > 1 ? std::atoi(argv[1]) : 10'000;
  int samples = argc > 2 ? std::atoi(argv[2]) : 100;
  if (series <= 0 || samples <= 0) {
    std::fprintf(stderr, "usage: bench_ingest [SERIES] [SAMPLES]\n");
    return 2;
  }
  std::vector<Labels> labels = make_labels(series);
  double total = static_cast<double>(series) * samples;
  long rss_start = peak_rss_kib();

  std::vector<double> rates;
  Run last;
  for (int run = 0; run < kRuns; ++run) {
    WindowStore store;
    last = ingest(store, labels, samples);
    rates.push_back(total / last.ingest_s);
    if (store.counters().accepted != static_cast<uint64_t>(total)) {
      std::fprintf(stderr, "bench_ingest: %llu samples accepted, expected %.0f\n",
                   static_cast<unsigned long long>(store.counters().accepted), total);
      return 1;
    }
  }
  std::sort(rates.begin(), rates.end());
  double best = rates.back(), median = rates[rates.size() / 2];
  long rss_one = peak_rss_kib();

  std::printf("input           %d series x %d samples at 15 s = %.0f samples\n", series, samples,
              total);
  std::printf("register        %8.3f ms   %9.0f series/s\n", last.register_s * 1e3,
              series / last.register_s);
  std::printf(
      "ingest          best %6.1f M samples/s, median %6.1f M samples/s = %.2fx the 10 M/s"
      " target (%.1f ns per sample)\n",
      best / 1e6, median / 1e6, median / 10e6, 1e9 / median);
  std::printf(
      "held            %zu samples in %.1f MiB of buffers = %.1f bytes per sample "
      "(a sample is %zu bytes; the rest is vector growth)\n",
      last.held, static_cast<double>(last.bytes) / (1024 * 1024),
      static_cast<double>(last.bytes) / static_cast<double>(last.held), sizeof(Sample));

  // Steady state: 5 minutes of retention (20 samples a series), 10x the samples, so that most
  // appends also evict and the rings compact over and over.
  {
    WindowStore store(StoreLimits{.retention_ms = 5 * 60 * 1000});
    int steady = samples * 10;
    Run r = ingest(store, labels, steady);
    double n = static_cast<double>(series) * steady;
    std::printf(
        "steady state    %6.1f M samples/s with 5m retention (%d samples a series, %llu "
        "evicted, %.1f bytes per sample held)\n",
        n / r.ingest_s / 1e6, steady, static_cast<unsigned long long>(store.counters().evicted),
        static_cast<double>(r.bytes) / static_cast<double>(r.held));

    // What a [5m] range selector costs per series at the newest time.
    int64_t now = (steady - 1) * kStepMs;
    std::vector<Sample> out;
    size_t got = 0;
    auto start = std::chrono::steady_clock::now();
    for (uint32_t id = 0; id < static_cast<uint32_t>(series); ++id) {
      store.range(id, now - 5 * 60 * 1000, now, out);
      got += out.size();
    }
    double range_s = seconds_since(start);
    std::printf("range [5m]      %8.1f ns per series, %zu samples returned (%.1f a series)\n",
                range_s * 1e9 / series, got, static_cast<double>(got) / series);
  }

  long rss_end = peak_rss_kib();
  std::printf(
      "peak RSS        %8.1f MiB (%.1f MiB before the stores; %.1f MiB after the %d "
      "ingest runs)\n",
      rss_end / 1024.0, rss_start / 1024.0, rss_one / 1024.0, kRuns);
  return 0;
}
