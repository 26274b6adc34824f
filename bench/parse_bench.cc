// Reader benchmark: one recording of 10,000 series (metrics a and b for 5,000 instances) with
// 100 samples each at a 15 s step, 1,000,000 samples, generated in memory in every format.
//
//   build/release/bench/bench_parse [repeats] [format...]
//
// Each format is parsed into a sink that only counts and into one that stores every sample in
// a std::vector; the best of `repeats` runs (default 5) is printed. Rates are per second of the
// thread's CPU time, so that other processes on a shared machine do not count against the
// reader; wall time is printed too. The target for Prometheus text is 25 M samples/s on one core.
#include <time.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/metrics_reader.h"

using namespace setpoint;

namespace {

constexpr int kInstances = 5000;
constexpr int kSteps = 100;
constexpr int64_t kStartMs = 1700000000123;
constexpr int64_t kStepMs = 15000;
constexpr double kTargetPerSecond = 25e6;

void append_number(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_seconds(std::string& out, int64_t ms) {  // 1700000000.123
  out += std::to_string(ms / 1000);
  char frac[5];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms % 1000));
  out += frac;
}

// A gauge-like value with a few decimals, different for every series and step.
double value_of(int instance, int metric, int step) {
  return static_cast<double>((instance * 31 + metric * 7 + step * 17) % 100000) / 100.0;
}

// Scrape order: every series at one timestamp, then the next timestamp.
template <typename Line>
std::string generate(size_t bytes_per_line, Line line) {
  std::string out;
  out.reserve(bytes_per_line * kInstances * 2 * kSteps);
  for (int step = 0; step < kSteps; ++step) {
    int64_t t = kStartMs + step * kStepMs;
    for (int k = 0; k < kInstances; ++k) {
      for (int m = 0; m < 2; ++m) line(out, m == 0 ? "a" : "b", k, t, value_of(k, m, step));
    }
  }
  return out;
}

std::string prometheus_text(bool openmetrics) {
  std::string out =
      generate(48, [&](std::string& s, const char* metric, int k, int64_t t, double v) {
        s += metric;
        s += "{instance=\"i";
        s += std::to_string(k);
        s += "\"} ";
        append_number(s, v);
        s += ' ';
        if (openmetrics) {
          append_seconds(s, t);
        } else {
          s += std::to_string(t);
        }
        s += '\n';
      });
  if (openmetrics) out += "# EOF\n";
  return out;
}

std::string csv() {
  return "timestamp,metric,instance,value\n" +
         generate(40, [](std::string& s, const char* metric, int k, int64_t t, double v) {
           append_seconds(s, t);
           s += ',';
           s += metric;
           s += ",i";
           s += std::to_string(k);
           s += ',';
           append_number(s, v);
           s += '\n';
         });
}

std::string json_lines() {
  return generate(96, [](std::string& s, const char* metric, int k, int64_t t, double v) {
    s += "{\"labels\":{\"__name__\":\"";
    s += metric;
    s += "\",\"instance\":\"i";
    s += std::to_string(k);
    s += "\"},\"timestamp\":";
    append_seconds(s, t);
    s += ",\"value\":";
    append_number(s, v);
    s += "}\n";
  });
}

std::string query_range() {
  std::string out = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[\n";
  for (int k = 0; k < kInstances; ++k) {
    for (int m = 0; m < 2; ++m) {
      if (k + m > 0) out += ",\n";
      out += "{\"metric\":{\"__name__\":\"";
      out += m == 0 ? "a" : "b";
      out += "\",\"instance\":\"i" + std::to_string(k) + "\"},\"values\":[";
      for (int step = 0; step < kSteps; ++step) {
        if (step > 0) out += ',';
        out += '[';
        append_seconds(out, kStartMs + step * kStepMs);
        out += ",\"";
        append_number(out, value_of(k, m, step));
        out += "\"]";
      }
      out += "]}";
    }
  }
  out += "\n]}}\n";
  return out;
}

struct CountingSink : SampleSink {
  uint32_t series_count = 0;
  size_t samples = 0;
  int64_t time_sum = 0;
  double value_sum = 0;
  uint32_t series(const Labels&) override { return series_count++; }
  void sample(uint32_t, int64_t t_ms, double value) override {
    ++samples;
    time_sum += t_ms;
    value_sum += value;
  }
};

struct VectorSink : SampleSink {
  struct Stored {
    uint32_t series;
    int64_t t_ms;
    double value;
  };
  uint32_t series_count = 0;
  std::vector<Stored> samples;
  uint32_t series(const Labels&) override { return series_count++; }
  void sample(uint32_t series, int64_t t_ms, double value) override {
    samples.push_back({series, t_ms, value});
  }
};

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Timing {
  double cpu = 1e300;
  double wall = 1e300;
};

// Best times of `repeats` reads, into a fresh sink each time.
template <typename Sink>
Timing best_of(const std::string& text, MetricsFormat format, int repeats, ReadReport& report) {
  Timing best;
  for (int i = 0; i < repeats; ++i) {
    Sink sink;
    auto wall = std::chrono::steady_clock::now();
    double cpu = cpu_seconds();
    report = read_metrics(text, format, "bench", sink);
    best.cpu = std::min(best.cpu, cpu_seconds() - cpu);
    best.wall = std::min(
        best.wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  auto wanted = [&](std::string_view name) {  // formats named after the repeats, else all
    if (argc <= 2) return true;
    for (int i = 2; i < argc; ++i) {
      if (name == argv[i]) return true;
    }
    return false;
  };
  struct Input {
    const char* name;
    MetricsFormat format;
    std::string text;
  };
  std::vector<Input> inputs;
  if (wanted("prom"))
    inputs.push_back({"prom", MetricsFormat::PrometheusText, prometheus_text(false)});
  if (wanted("openmetrics")) {
    inputs.push_back({"openmetrics", MetricsFormat::OpenMetrics, prometheus_text(true)});
  }
  if (wanted("csv")) inputs.push_back({"csv", MetricsFormat::Csv, csv()});
  if (wanted("jsonl")) inputs.push_back({"jsonl", MetricsFormat::JsonLines, json_lines()});
  if (wanted("query_range")) {
    inputs.push_back({"query_range", MetricsFormat::QueryRange, query_range()});
  }

  std::printf("%d series x %d samples = %d samples; best of %d runs\n\n", kInstances * 2, kSteps,
              kInstances * 2 * kSteps, repeats);
  std::printf("%-12s %-7s %7s %9s %9s %8s %12s %10s\n", "format", "sink", "MB", "cpu ms", "wall ms",
              "MB/s", "M samples/s", "vs 25 M/s");
  bool all_read = true;
  for (const Input& in : inputs) {
    for (int stored = 0; stored < 2; ++stored) {
      ReadReport report;
      Timing t = stored ? best_of<VectorSink>(in.text, in.format, repeats, report)
                        : best_of<CountingSink>(in.text, in.format, repeats, report);
      double mb = static_cast<double>(in.text.size()) / 1e6;
      double per_second = static_cast<double>(report.samples) / t.cpu;
      std::printf("%-12s %-7s %7.1f %9.1f %9.1f %8.0f %12.1f %9.2fx\n", in.name,
                  stored ? "vector" : "count", mb, t.cpu * 1e3, t.wall * 1e3, mb / t.cpu,
                  per_second / 1e6, per_second / kTargetPerSecond);
      if (report.samples != static_cast<size_t>(kInstances) * 2 * kSteps ||
          report.error_count != 0) {
        all_read = false;
        std::printf("  read %zu samples with %zu errors%s%s\n", report.samples, report.error_count,
                    report.errors.empty() ? "" : ", first: ",
                    report.errors.empty() ? "" : report.errors[0].c_str());
      }
    }
  }
  return all_read ? 0 : 1;
}
