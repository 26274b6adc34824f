// The daemon end to end: the real `setpoint run` scrapes an in-process exporter of N series for
// P policies; prints its CPU, memory and scrape-to-action latency against the targets.
//
//   bench_daemon [--series 10000] [--policies 1000] [--seconds 60] [--scrape-interval 1s]
//                [--retention D] [--quiet-seconds 15] [--keep]
//
// Latency runs from the arrival at the exporter of the scrape request whose answer flips a probe
// series (the body is built beforehand, so serving it costs a move) to the arrival of the
// actuator's call, both on this process's monotonic clock. That span holds the body's transfer,
// which is part of the scrape itself, and everything the daemon does after it, so it can only
// overstate the daemon's share; the transfer alone is timed apart and printed beside it.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/http_server.h"

using namespace setpoint;
using nlohmann::json;

namespace {

constexpr int kMetrics = 100;         // metric names the series are spread over (at most)
constexpr int kPoliciesPerKnob = 10;  // background policies share a knob, at distinct priorities
constexpr size_t kMinFlips = 50;
const char* const kProbeKnobs[2] = {"probe_a", "probe_b"};

std::atomic<bool> interrupted{false};

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
double ms_since(int64_t from_ns, int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e6;
}
void sleep_ms(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// "1s", "500ms", "2m", "1h" or a bare number of seconds, in milliseconds; nullopt if malformed.
std::optional<int64_t> duration_ms(const std::string& text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  std::string unit(end, text.data() + text.size());
  const std::map<std::string, double> scale = {
      {"", 1e3}, {"ms", 1}, {"s", 1e3}, {"m", 6e4}, {"h", 3.6e6}};
  if (ec != std::errc() || v <= 0 || !scale.count(unit)) return std::nullopt;
  return static_cast<int64_t>(std::llround(v * scale.at(unit)));
}

struct BenchOptions {
  int series = 10000, policies = 1000, seconds = 60, quiet_seconds = 15;
  int64_t interval_ms = 1000;
  // "": the daemon's default, what the policies read (here 2m, the longest `within`)
  std::string retention;
  bool keep = false;
};

bool parse_options(int argc, char** argv, BenchOptions& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i], v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--keep") {
      o.keep = true;
      continue;
    }
    int* number = a == "--series"          ? &o.series
                  : a == "--policies"      ? &o.policies
                  : a == "--seconds"       ? &o.seconds
                  : a == "--quiet-seconds" ? &o.quiet_seconds
                                           : nullptr;
    if (number) {
      *number = std::atoi(v.c_str());
    } else if (a == "--scrape-interval" && duration_ms(v)) {
      o.interval_ms = *duration_ms(v);
    } else if (a == "--retention" && duration_ms(v)) {
      o.retention = v;
    } else {
      return false;
    }
    ++i;
  }
  return o.series >= 20 && o.series <= 1'000'000 && o.policies >= 3 && o.policies <= 100'000 &&
         o.seconds >= 1 && o.quiet_seconds >= 0 && o.interval_ms >= 10;
}

// The N series: up to kMetrics names (even ones counters, odd ones gauges), each with label sets
// service="s<j%10>", instance="i<j/10>".
struct BenchLayout {
  int metrics = 0;
  std::vector<int> sets;  // label sets per metric
  explicit BenchLayout(int series) : metrics(std::min(kMetrics, series / 10)) {
    for (int m = 0; m < metrics; ++m) sets.push_back(series / metrics + (m < series % metrics));
  }
  static std::string name(int m) {
    return m % 2 == 0 ? "bench_c" + std::to_string(m) + "_total" : "bench_g" + std::to_string(m);
  }
};

// A served scrape that flips a probe knob's series on (at the request's arrival), or an
// actuator's PUT on /knob/NAME (at its arrival).
struct ExporterMark {
  std::string knob;
  int64_t ns = 0;
  bool flip = false;
};

// /metrics, /probe (the same body, to time a transfer alone) and /knob/NAME (the actuators'
// endpoint: GET reads, PUT sets and is recorded), on a libuv loop of its own thread, so that
// none of the exporter's work counts against the daemon's CPU time.
class BenchExporter {
 public:
  BenchExporter(const BenchLayout& layout, int64_t interval_ms)
      : layout_(layout), interval_ms_(interval_ms) {}

  void set_knob(const std::string& name, double value) { knobs_[name] = value; }  // before start

  bool start(std::string& error) {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_async_, [](uv_async_t* a) {
      auto* self = static_cast<BenchExporter*>(a->data);
      self->close_handles();
      self->server_->stop();
    });
    stop_async_.data = this;
    uv_timer_init(&loop_, &build_timer_);
    build_timer_.data = this;
    next_ = build();
    server_ = std::make_unique<HttpServer>(&loop_, HttpServerOptions{},
                                           [this](const HttpRequest& r) { return handle(r); });
    if (server_->start(error)) {
      thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
      return true;
    }
    close_handles();
    finish();
    return false;
  }
  void stop() {
    if (!thread_.joinable()) return;
    uv_async_send(&stop_async_);
    thread_.join();
    finish();
  }
  int port() const { return server_->port(); }
  std::vector<ExporterMark> marks() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return marks_;
  }
  std::atomic<bool> flipping{false};  // set by the main thread; the rest by the loop's
  std::atomic<size_t> body_bytes{0};
  std::atomic<uint64_t> scrapes{0}, late_bodies{0};
  std::atomic<int64_t> probe_ns{0};  // when the last /probe body was ready to go

 private:
  void close_handles() {
    uv_close(reinterpret_cast<uv_handle_t*>(&build_timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
  }
  void finish() {
    server_.reset();
    uv_run(&loop_, UV_RUN_NOWAIT);  // the server's last close callbacks
    uv_loop_close(&loop_);
  }

  // Values move every scrape: counters grow by 1..10 a scrape, gauges wander in [0, 100).
  std::string build() {
    uint64_t n = built_++;
    next_flip_ = flipping ? static_cast<int>(flip_count_++ % 2) : -1;
    std::string text;
    text.reserve(body_bytes + 4096);
    char num[32];
    for (int m = 0; m < layout_.metrics; ++m) {
      std::string name = BenchLayout::name(m);
      text += "# TYPE " + name + (m % 2 == 0 ? " counter\n" : " gauge\n");
      for (int j = 0; j < layout_.sets[m]; ++j) {
        uint64_t v = m % 2 == 0 ? n * (1 + (m * 7 + j) % 10) + j : (m * 31 + j * 17 + n * 13) % 100;
        text += name + "{service=\"s" + std::to_string(j % 10) + "\",instance=\"i" +
                std::to_string(j / 10) + "\"} ";
        text.append(num, std::to_chars(num, num + sizeof num, v).ptr);
        text += '\n';
      }
    }
    text += std::string("# TYPE bench_probe gauge\nbench_probe{which=\"a\"} ") +
            (next_flip_ == 0 ? "1" : "0") + "\nbench_probe{which=\"b\"} " +
            (next_flip_ == 1 ? "1" : "0") + "\n";
    body_bytes = text.size();
    return text;
  }

  HttpReply handle(const HttpRequest& r) {
    int64_t now = mono_ns();
    HttpReply reply;
    reply.response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    std::string knob = r.path.rfind("/knob/", 0) == 0 ? r.path.substr(6) : "";
    if (r.path == "/metrics") {
      ++scrapes;
      if (!next_) {  // asked again before the timer built it: built now, and counted
        ++late_bodies;
        next_ = build();
      }
      if (next_flip_ >= 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        marks_.push_back({kProbeKnobs[next_flip_], now, true});
      }
      reply.response.body = std::move(*next_);
      next_.reset();
      // The next body is built a third of an interval later, while the daemon is idle.
      uv_timer_start(
          &build_timer_,
          [](uv_timer_t* t) {
            auto* self = static_cast<BenchExporter*>(t->data);
            if (!self->next_) self->next_ = self->build();
          },
          static_cast<uint64_t>(interval_ms_ / 3), 0);
    } else if (r.path == "/probe" && next_) {
      reply.response.body = *next_;
      probe_ns = mono_ns();  // after the copy: from here on, it is the transfer
    } else if (knobs_.count(knob) && r.method == "GET") {
      char num[32];
      reply.response.body.assign(num, std::to_chars(num, num + sizeof num, knobs_[knob]).ptr);
    } else if (knobs_.count(knob) && r.method == "PUT") {
      knobs_[knob] = std::strtod(r.body.c_str(), nullptr);
      std::lock_guard<std::mutex> lock(mutex_);
      marks_.push_back({knob, now, false});
    } else {
      reply.response.status = 404;
    }
    return reply;
  }

  const BenchLayout& layout_;
  int64_t interval_ms_;
  uv_loop_t loop_{};
  uv_async_t stop_async_{};
  uv_timer_t build_timer_{};
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::optional<std::string> next_;  // the loop thread's only, as are the knobs and counts
  int next_flip_ = -1;               // which probe series next_ flips on, -1 none
  std::map<std::string, double> knobs_;
  uint64_t built_ = 0, flip_count_ = 0;
  mutable std::mutex mutex_;
  std::vector<ExporterMark> marks_;
};

// A realistic mix: rate() over a counter, a gauge threshold held `for` a while, an aggregation
// by a label; each sets one of P/10 knobs. Their thresholds are out of the data's reach, so all
// are evaluated every scrape and none acts. Two probe policies, with no `for` and no cooldown,
// act at every flip of their series.
void write_policies(const std::filesystem::path& dir, const BenchOptions& o,
                    const BenchLayout& layout, int knobs) {
  std::filesystem::create_directories(dir);
  std::ofstream k(dir / "knobs.setpoint");
  for (int i = 0; i < knobs; ++i) k << "knob bg_" << i << " : int in 1..1000\n";
  std::ofstream probe(dir / "probe.setpoint");
  for (int w = 0; w < 2; ++w) {
    std::string knob = kProbeKnobs[w];
    k << "knob " << knob << " : int in 0..1000000000\n";
    probe << "policy " << knob << " {\n  trigger bench_probe{which=\""
          << "ab"[w] << "\"} > 0.5\n  action set " << knob << " = " << knob << " + 1\n}\n";
  }
  const int files = 10;
  for (int f = 0; f < files; ++f) {
    std::ofstream out(dir / ("background_" + std::to_string(f) + ".setpoint"));
    for (int i = f; i < o.policies - 2; i += files) {
      int knob = i % knobs, counter = 2 * ((i / 30) % (layout.metrics / 2));
      std::string c = BenchLayout::name(counter), g = BenchLayout::name(counter + 1);
      std::string sel = "{service=\"s" + std::to_string((i / 3) % 10) + "\"}", trigger, expect;
      if (i % 3 == 0) {
        expect = "rate(" + c + sel + "[1m])";
        trigger = expect + " > " + std::to_string(100000 + i) + " for 30s";
      } else if (i % 3 == 1) {
        expect = g + sel;
        trigger = expect + " > " + std::to_string(150 + i % 50) + " for 2m";
      } else {
        expect = "avg by (service) (" + g + ")";
        trigger = expect + " > " + std::to_string(120 + i % 30) + " for 1m";
      }
      out << "policy bg_" << i << " {\n  priority " << i / knobs << "\n  trigger " << trigger
          << "\n  action set bg_" << knob << " = clamp(bg_" << knob << " + 1, 1, 1000)\n"
          << "  expect " << expect << " decreases by 10% within 2m\n  cooldown 10m\n}\n";
    }
  }
}

void write_config(const std::filesystem::path& path, const BenchOptions& o, int port, int knobs) {
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::ofstream c(path);
  c << "policies = [\"policies/\"]\nstate_file = \"state.db\"\nevaluation_interval = \"15s\"\n"
    << "shutdown_deadline = \"5s\"\n"
    << (o.retention.empty() ? "" : "retention = \"" + o.retention + "\"\n")
    << "\n[control]\nlisten = \"127.0.0.1:0\"\n"
    << "\n[[scrape]]\nname = \"bench\"\nurl = \"" << base
    << "/metrics\"\ninterval = " << static_cast<double>(o.interval_ms) / 1000.0
    << "\nmax_series = " << o.series + 100 << "\nlabels = { job = \"bench\" }\n";
  std::vector<std::string> names = {kProbeKnobs[0], kProbeKnobs[1]};
  for (int i = 0; i < knobs; ++i) names.push_back("bg_" + std::to_string(i));
  for (const std::string& n : names) {
    c << "\n[knob." << n << "]\nactuator = \"http\"\nurl = \"" << base << "/knob/" << n
      << "\"\nread_url = \"" << base << "/knob/" << n << "\"\ntimeout = \"2s\"\n"
      << "retry = { attempts = 1 }\n";
  }
}

// Starts args (args[0] a path) with stdout and stderr to log and stdin from /dev/null; the child
// is killed if this thread dies first. Only async-signal-safe calls between fork and exec.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  int in = open("/dev/null", O_RDONLY);
  if (out < 0 || in < 0) _exit(127);
  dup2(in, 0);
  dup2(out, 1);
  dup2(out, 2);
  execv(argv[0], argv.data());
  _exit(127);
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A blocking GET to 127.0.0.1 with Connection: close, read to the end (5 s timeouts, at most
// 64 MiB): the status, 0 when there is no answer, and the body.
int http_get(int port, const std::string& path, std::string& body) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  std::string data;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char buf[64 * 1024];
    for (ssize_t n; data.size() < (64u << 20) && (n = recv(fd, buf, sizeof buf, 0)) > 0;)
      data.append(buf, static_cast<size_t>(n));
  }
  if (fd >= 0) close(fd);
  size_t head = data.find("\r\n\r\n");
  if (data.rfind("HTTP/1.", 0) != 0 || head == std::string::npos) return 0;
  body = data.substr(head + 4);
  return std::atoi(data.c_str() + 9);
}

struct ProcSample {
  double cpu_seconds = 0;  // utime + stime, all threads
  double rss_mb = 0, hwm_mb = 0;
};

std::optional<ProcSample> proc_sample(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  if (f.size() < 13) return std::nullopt;
  ProcSample s;  // fields 14 and 15 of stat, counted from the pid
  s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::istringstream status(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mb = std::stod(line.substr(6)) / 1024.0;
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_mb = std::stod(line.substr(6)) / 1024.0;
  }
  return s;
}

// The daemon's own figures (GET /metrics), by series: "setpoint_series", "x_bucket{le=\"0.01\"}".
std::map<std::string, double> daemon_metrics(int port) {
  std::map<std::string, double> out;
  std::string body;
  http_get(port, "/metrics", body);
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    size_t sp = line.rfind(' ');
    if (sp != std::string::npos && line[0] != '#') out[line.substr(0, sp)] = std::atof(&line[sp]);
  }
  return out;
}

double percentile(std::vector<double> v, double p) {  // nearest rank
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string spread(const std::vector<double>& ms) {
  char out[160];
  std::snprintf(out, sizeof out, "p50 %.2f ms p90 %.2f ms p99 %.2f ms max %.2f ms",
                percentile(ms, 50), percentile(ms, 90), percentile(ms, 99), percentile(ms, 100));
  return out;
}

std::string load_average() {
  std::string l = read_file("/proc/loadavg");
  return l.substr(0, l.find(' '));
}

// Everything a run starts, undone whatever happens: the daemon, the exporter, the directory.
struct BenchRun {
  BenchOptions options;
  std::filesystem::path dir;
  std::unique_ptr<BenchExporter> exporter;
  pid_t daemon = -1;
  int daemon_exit = -1;

  bool daemon_alive() {
    int status = 0;
    if (daemon <= 0 || waitpid(daemon, &status, WNOHANG) != daemon) return daemon > 0;
    daemon_exit = exit_code(status);
    daemon = -1;
    return false;
  }
  void stop_daemon() {  // SIGTERM, then SIGKILL after 30 s
    if (daemon > 0) kill(daemon, SIGTERM);
    for (int i = 0; i < 300 && daemon_alive(); ++i) sleep_ms(100);
    if (daemon <= 0) return;
    kill(daemon, SIGKILL);
    waitpid(daemon, nullptr, 0);
    daemon = -1;
  }
  int fail(const std::string& why) {
    std::fprintf(stderr, "bench_daemon: %s\n", why.c_str());
    std::string log = read_file(dir / "daemon.log");
    if (!log.empty()) {
      std::fprintf(stderr, "--- the end of daemon.log ---\n%s\n",
                   log.substr(log.size() > 4000 ? log.size() - 4000 : 0).c_str());
    }
    return 1;
  }
  ~BenchRun() {
    stop_daemon();
    if (exporter) exporter->stop();
    if (options.keep) std::printf("kept %s\n", dir.c_str());
    if (!dir.empty() && !options.keep) std::filesystem::remove_all(dir);
  }
};

// Each probe call is matched to the latest flip of its knob's series before it: the latencies,
// in ms, and how many calls were to background knobs after t0.
std::vector<double> match_flips(const std::vector<ExporterMark>& marks, int64_t t0,
                                size_t& background) {
  std::vector<double> out;
  std::vector<bool> used(marks.size(), false);
  for (const ExporterMark& c : marks) {
    if (c.flip) continue;
    background += c.knob.rfind("bg_", 0) == 0 && c.ns >= t0;
    std::optional<size_t> best;
    for (size_t i = 0; i < marks.size(); ++i) {
      if (marks[i].flip && marks[i].knob == c.knob && marks[i].ns <= c.ns) best = i;
    }
    if (!best || used[*best]) continue;
    used[*best] = true;
    out.push_back(ms_since(marks[*best].ns, c.ns));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  BenchRun run;
  if (!parse_options(argc, argv, run.options)) {
    std::fprintf(stderr,
                 "usage: bench_daemon [--series N>=20] [--policies N>=3] [--seconds N] "
                 "[--scrape-interval 1s] [--retention D] [--quiet-seconds 15] [--keep]\n");
    return 2;
  }
  const BenchOptions& o = run.options;
  signal(SIGINT, [](int) { interrupted = true; });
  signal(SIGTERM, [](int) { interrupted = true; });
  char tmpl[] = "/tmp/setpoint-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return run.fail("cannot create a temporary directory");
  run.dir = tmpl;

  // 1. The exporter, on a thread of its own that takes no signals (they are the main thread's).
  BenchLayout layout(o.series);
  int knobs = std::max(1, (o.policies - 2 + kPoliciesPerKnob - 1) / kPoliciesPerKnob);
  run.exporter = std::make_unique<BenchExporter>(layout, o.interval_ms);
  for (const char* probe : kProbeKnobs) run.exporter->set_knob(probe, 0);
  for (int i = 0; i < knobs; ++i) run.exporter->set_knob("bg_" + std::to_string(i), 10);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  std::string error;
  bool started = run.exporter->start(error);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!started) {
    run.exporter.reset();
    return run.fail("exporter: " + error);
  }
  int port = run.exporter->port();

  // 2. Policies and config, checked as an operator would check them.
  write_policies(run.dir / "policies", o, layout, knobs);
  std::filesystem::path config = run.dir / "setpoint.toml", log = run.dir / "daemon.log";
  write_config(config, o, port, knobs);
  int status = 0;
  pid_t check = spawn({SETPOINT_BINARY, "check", "--config", config}, run.dir / "check.log");
  int check_exit = check > 0 && waitpid(check, &status, 0) == check ? exit_code(status) : -1;
  std::string check_out = read_file(run.dir / "check.log");
  if (check_exit != 0) {
    return run.fail("setpoint check --config rejected the config (exit " +
                    std::to_string(check_exit) + "):\n" + check_out);
  }
  size_t checked = check_out.rfind("checked ");
  std::printf(
      "setup: %d series (+2 probe series) in %d metrics, %d policies (%d + 2 probes) on "
      "%d knobs, a scrape every %lld ms, retention %s; %u cores, load average %s\n"
      "check: %s",
      o.series, layout.metrics, o.policies, o.policies - 2, knobs + 2,
      static_cast<long long>(o.interval_ms),
      o.retention.empty() ? "what the policies read" : o.retention.c_str(),
      std::thread::hardware_concurrency(), load_average().c_str(),
      checked == std::string::npos ? "?\n" : check_out.substr(checked).c_str());

  // The transfer of one body alone: request arrived at the exporter -> body read by a client.
  std::vector<double> transfer_ms;
  for (std::string body; transfer_ms.size() < 30;
       transfer_ms.push_back(ms_since(run.exporter->probe_ns, mono_ns()))) {
    if (http_get(port, "/probe", body) != 200) return run.fail("the exporter does not answer");
  }
  std::printf(
      "exporter: %.0f KB a scrape; its transfer alone (request arrived -> body read, 30 "
      "probes): %s\n",
      static_cast<double>(run.exporter->body_bytes) / 1024.0, spread(transfer_ms).c_str());

  // 3. The daemon: ready once its control API answers, a few scrapes are in and both probe
  // knobs are read (an unread knob would make its policy skip: "current value unknown").
  int64_t spawned = mono_ns();
  run.daemon = spawn({SETPOINT_BINARY, "run", "--config", config}, log);
  int control = 0;
  for (int64_t deadline = spawned + 120'000'000'000; !interrupted; sleep_ms(50)) {
    if (!run.daemon_alive()) return run.fail("the daemon exited at start");
    if (mono_ns() > deadline) return run.fail("the daemon was not ready within 120 s");
    std::string text = control ? "" : read_file(log), body;
    size_t at = text.find("control API on 127.0.0.1:");
    if (at != std::string::npos) control = std::atoi(text.c_str() + at + 25);
    if (!control || http_get(control, "/api/v1/status", body) != 200) continue;
    json s = json::parse(body, nullptr, false);
    if (s.is_object() && s["sources"].is_array() && !s["sources"].empty() &&
        s["sources"][0].value("attempts", 0) >= 3 && s["knobs"].contains(kProbeKnobs[0]) &&
        s["knobs"].contains(kProbeKnobs[1]))
      break;
  }
  std::printf("daemon: pid %d, ready in %.2f s\n", run.daemon, ms_since(spawned, mono_ns()) / 1e3);

  // A quiet phase first, CPU with nothing to act on, as the daemon mostly runs; then the window,
  // a flip every scrape until both --seconds and kMinFlips are reached (bounded).
  std::optional<ProcSample> quiet = proc_sample(run.daemon), before, after;
  int64_t quiet_ns = mono_ns(), t0 = 0;
  int64_t limit_ms = (o.seconds + std::max<int64_t>(60, 120 * o.interval_ms / 1000)) * 1000;
  std::map<std::string, double> m0, m1;
  uint64_t scrapes = 0;
  for (;; sleep_ms(100)) {
    if (interrupted) return run.fail("interrupted");
    if (!run.daemon_alive()) return run.fail("the daemon died during the run");
    if (!t0 && ms_since(quiet_ns, mono_ns()) < o.quiet_seconds * 1000.0) continue;
    if (!t0) {
      before = proc_sample(run.daemon);
      m0 = daemon_metrics(control);
      scrapes = run.exporter->scrapes;
      t0 = mono_ns();
      run.exporter->flipping = true;
    }
    size_t flips = 0, calls = 0;
    for (const ExporterMark& c : run.exporter->marks()) {
      (c.flip ? flips : calls) += c.ns >= t0 && c.knob.rfind("probe_", 0) == 0;
    }
    if (flips >= 10 && calls == 0) return run.fail("no action arrived after 10 flips");
    double elapsed = ms_since(t0, mono_ns());
    if ((elapsed >= o.seconds * 1000.0 && flips >= kMinFlips) || elapsed >= limit_ms) break;
  }
  run.exporter->flipping = false;
  after = proc_sample(run.daemon);
  m1 = daemon_metrics(control);
  double window = ms_since(t0, mono_ns()) / 1e3;
  scrapes = run.exporter->scrapes - scrapes;
  std::string load_after = load_average();
  sleep_ms(std::min<int64_t>(2000, 2 * o.interval_ms));  // the last flip's action

  // 4. The daemon stops (the exporter and the directory go with `run`).
  run.stop_daemon();
  if (run.daemon_exit != 0) return run.fail("the daemon did not exit 0 on SIGTERM");
  if (!quiet || !before || !after) return run.fail("cannot read the daemon's /proc files");
  size_t background = 0, flips = 0;
  std::vector<ExporterMark> marks = run.exporter->marks();
  for (const ExporterMark& c : marks) flips += c.flip;
  std::vector<double> latency_ms = match_flips(marks, t0, background);
  if (latency_ms.empty()) return run.fail("no action ever arrived");

  auto delta = [&](const std::string& k) { return m1[k] - m0[k]; };
  double cpu = 100.0 * (after->cpu_seconds - before->cpu_seconds) / window;
  double quiet_cpu = o.quiet_seconds == 0 ? NAN
                                          : 100.0 * (before->cpu_seconds - quiet->cpu_seconds) /
                                                (ms_since(quiet_ns, t0) / 1e3);
  double evals = delta("setpoint_evaluation_seconds_count");
  std::printf(
      "window: %.1f s, %llu scrapes (%llu bodies built late), %.0f evaluations, %zu "
      "flips, %zu acted on, %zu background actions, %.0f series held; load average %s\n",
      window, static_cast<unsigned long long>(scrapes),
      static_cast<unsigned long long>(run.exporter->late_bodies.load()), evals, flips,
      latency_ms.size(), background, m1["setpoint_series"], load_after.c_str());
  std::printf(
      "daemon CPU per scrape %.1f ms; evaluation (the daemon's histogram, wall time) mean "
      "%.2f ms, %.0f of %.0f within 10 ms\n",
      1e3 * (after->cpu_seconds - before->cpu_seconds) / std::max<double>(1, scrapes),
      1e3 * delta("setpoint_evaluation_seconds_sum") / std::max(1.0, evals),
      delta("setpoint_evaluation_seconds_bucket{le=\"0.01\"}"), evals);
  std::printf("memory: RSS %.1f MB at the window's start, %.1f MB at its end (%+.2f MB/min)\n",
              before->rss_mb, after->rss_mb, (after->rss_mb - before->rss_mb) * 60 / window);
  // The longest the daemon keeps anything: samples for the retention, and the values of every
  // `expect` expression for within + 1m (here 3m), ready to be a baseline.
  double retention_s =
      o.retention.empty() ? 120 : static_cast<double>(*duration_ms(o.retention)) / 1e3;
  double kept_s = std::max(retention_s, 180.0);
  if (o.quiet_seconds + window < kept_s + 30) {
    std::printf(
        "note: the run is shorter than what the daemon keeps (%.0f s: the retention, and "
        "within + 1m of each expectation's values): memory is still growing\n",
        kept_s);
  }
  std::printf(
      "cpu %.1f%% of one core (target 5%%, %.2fx; %.1f%% in %d s with no action before "
      "the flips), peak RSS %.1f MB (target 64 MB, %.2fx), scrape->action %s (p99 target "
      "10 ms, %.2fx), %d series, %d policies, %.0f s\n",
      cpu, cpu / 5.0, quiet_cpu, o.quiet_seconds, after->hwm_mb, after->hwm_mb / 64.0,
      spread(latency_ms).c_str(), percentile(latency_ms, 99) / 10.0, o.series, o.policies, window);
  std::printf(
      "(scrape->action starts at the scrape request's arrival, so it includes the body's "
      "transfer, p50 %.2f ms above%s)\n",
      percentile(transfer_ms, 50),
      latency_ms.size() <= 100 ? "; with 100 flips or fewer, p99 is the max" : "");
  return 0;
}
