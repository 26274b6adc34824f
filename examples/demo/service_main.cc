// setpoint-demo-service: the live demo's tunable HTTP service on libuv. The model decides every
// request's fate at arrival; this file only serves HTTP and answers when the model says.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_map>

#include "examples/demo/knob_api.h"
#include "examples/demo/loopback_address.h"
#include "examples/demo/service_metrics.h"
#include "examples/demo/service_model.h"
#include "runtime/http_server.h"

namespace setpoint {

namespace {

constexpr size_t kMaxKeyBytes = 256;

// Every connection of the load generator (512 by default) may wait on a response at once, plus
// the daemon's scrapes and actuators; the process's descriptor limit is raised to match.
constexpr size_t kMaxConnections = 1024;

struct DemoServiceLoop {
  uv_loop_t* loop = nullptr;
  DemoServiceModel model;
  std::unique_ptr<HttpServer> server;
  uv_timer_t timer{};
  uv_signal_t sigterm{};
  uv_signal_t sigint{};
  uint64_t start_ns = uv_hrtime();
  // The responses that wait for the model, by request id, with the status decided at arrival.
  struct Waiting {
    HttpResponder respond;
    int status = 200;
  };
  std::unordered_map<uint64_t, Waiting> waiting;
  bool stopping = false;

  explicit DemoServiceLoop(uint64_t seed) : model(seed) {}
  double now_ms() const { return static_cast<double>(uv_hrtime() - start_ns) / 1e6; }
  void deliver();
  void arm_timer();
  HttpReply handle(const HttpRequest& request);
  HttpReply item(const HttpRequest& request);
  void stop();
};

HttpReply json_error(int status, const std::string& message) {
  HttpReply reply;
  reply.response.status = status;
  reply.response.body = "{\"error\":\"" + message + "\"}\n";
  return reply;
}

// Sends what the model has finished and waits for the next one.
void DemoServiceLoop::deliver() {
  model.advance(now_ms());
  for (const DemoCompletion& done : model.take_completed()) {
    auto it = waiting.find(done.id);
    if (it == waiting.end()) continue;  // answered already (a stop)
    Waiting w = std::move(it->second);
    waiting.erase(it);
    HttpResponse response;
    response.status = w.status;
    response.body = done.status == 200
                        ? "{\"cached\":" + std::string(done.hit ? "true" : "false") +
                              ",\"bytes\":" + std::to_string(done.response_bytes) + "}\n"
                        : std::string("{\"error\":\"batch lock timed out\"}\n");
    w.respond(std::move(response));
  }
  arm_timer();
}

void DemoServiceLoop::arm_timer() {
  if (stopping) return;
  std::optional<double> next = model.next_completion_ms();
  if (!next) {
    uv_timer_stop(&timer);
    return;
  }
  // libuv times timers from the loop's cached clock: refresh it, or the wait starts early.
  uv_update_time(loop);
  double wait = std::max(0.0, std::ceil(*next - now_ms()));
  uv_timer_start(
      &timer, [](uv_timer_t* t) { static_cast<DemoServiceLoop*>(t->data)->deliver(); },
      static_cast<uint64_t>(wait), 0);
}

HttpReply DemoServiceLoop::item(const HttpRequest& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpReply reply = json_error(405, "method not allowed; use GET");
    reply.response.headers.emplace_back("Allow", "GET");
    return reply;
  }
  std::optional<std::string> key = request.query_param("key");
  if (!key || key->empty() || key->size() > kMaxKeyBytes) {
    return json_error(400, "key must be given, at most 256 bytes: /api/item?key=K");
  }
  DemoArrival arrival = model.arrive(now_ms(), *key);
  deliver();  // the arrival moved the model's clock: others may be due
  if (arrival.status == 503) return json_error(503, "queue full");
  // The status is known now; the response goes out when the model finishes the request, on the
  // same keep-alive connection (a deferred reply).
  HttpReply reply;
  uint64_t id = arrival.id;
  int status = arrival.status;
  reply.deferred = [this, id, status](HttpResponder respond) {
    waiting.emplace(id, Waiting{std::move(respond), status});
  };
  return reply;
}

HttpReply DemoServiceLoop::handle(const HttpRequest& request) {
  if (request.path == "/api/item") return item(request);
  if (request.path == "/metrics") {
    if (request.method != "GET" && request.method != "HEAD") {
      return json_error(405, "method not allowed; use GET");
    }
    deliver();
    HttpReply reply;
    reply.response.content_type = std::string(kDemoMetricsContentType);
    reply.response.body = demo_metrics_text(model);
    return reply;
  }
  if (request.path.rfind("/admin/knobs", 0) == 0) {
    deliver();
    std::optional<DemoKnobChange> change;
    HttpReply reply;
    reply.response = demo_knob_request(model, request, now_ms(), &change);
    if (change) {
      std::printf("knob %s %lld -> %lld\n", change->name.c_str(),
                  static_cast<long long>(change->from), static_cast<long long>(change->to));
      std::fflush(stdout);
      deliver();  // a bigger pool starts queued requests at once
    }
    return reply;
  }
  return json_error(404, "no such endpoint: /api/item, /metrics, /admin/knobs");
}

void close_handle(uv_handle_t* handle) {
  if (!uv_is_closing(handle)) uv_close(handle, nullptr);
}

void DemoServiceLoop::stop() {
  if (stopping) return;
  stopping = true;
  waiting.clear();
  close_handle(reinterpret_cast<uv_handle_t*>(&timer));
  close_handle(reinterpret_cast<uv_handle_t*>(&sigterm));
  close_handle(reinterpret_cast<uv_handle_t*>(&sigint));
  server->stop();
}

bool write_port_file(const std::string& path, int port, std::string& error) {
  // Written whole under another name, then renamed: a reader sees no file or the whole port.
  std::string temp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    out.flush();
    if (!out) {
      error = "cannot write " + temp;
      std::remove(temp.c_str());
      return false;
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    error = "cannot rename " + temp + " to " + path;
    std::remove(temp.c_str());
    return false;
  }
  return true;
}

void raise_descriptor_limit(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
}

int run(int argc, char** argv) {
  CLI::App app{"The live demo's tunable HTTP service: /api/item, /metrics, /admin/knobs"};
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  uint64_t seed = 1;
  bool verbose = false;
  app.add_option("--listen", listen, "host:port on loopback (port 0: the OS picks)");
  app.add_option("--port-file", port_file, "where to write the bound port");
  app.add_option("--seed", seed, "seed of the model's random numbers");
  app.add_flag("--verbose", verbose, "log every connection at debug level");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::warn);

  DemoLoopbackAddress address;
  std::string error;
  if (!demo_parse_loopback(listen, true, address, error)) {
    std::fprintf(stderr, "setpoint-demo-service: --listen %s\n", error.c_str());
    return 2;
  }
  raise_descriptor_limit(4096);

  uv_loop_t loop;
  uv_loop_init(&loop);
  auto service = std::make_unique<DemoServiceLoop>(seed);
  service->loop = &loop;
  HttpServerOptions options;
  options.listen = address.url_authority();
  options.max_body_bytes = 4096;
  options.max_header_bytes = 8192;
  options.max_connections = kMaxConnections;
  DemoServiceLoop* s = service.get();
  service->server = std::make_unique<HttpServer>(
      &loop, options, [s](const HttpRequest& request) { return s->handle(request); });
  int status = 0;
  if (!service->server->start(error)) {
    std::fprintf(stderr, "setpoint-demo-service: cannot listen: %s\n", error.c_str());
    status = 1;
  } else if (!port_file.empty() && !write_port_file(port_file, service->server->port(), error)) {
    std::fprintf(stderr, "setpoint-demo-service: %s\n", error.c_str());
    service->server->stop();
    status = 1;
  } else {
    uv_timer_init(&loop, &service->timer);
    service->timer.data = s;
    for (uv_signal_t* sig : {&service->sigterm, &service->sigint}) {
      uv_signal_init(&loop, sig);
      sig->data = s;
    }
    auto on_signal = [](uv_signal_t* sig, int) {
      static_cast<DemoServiceLoop*>(sig->data)->stop();
    };
    uv_signal_start(&service->sigterm, on_signal, SIGTERM);
    uv_signal_start(&service->sigint, on_signal, SIGINT);
    std::printf("listening on %s\n", service->server->address().c_str());
    std::fflush(stdout);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  service->server.reset();
  uv_run(&loop, UV_RUN_DEFAULT);  // what the server's destructor left closing
  service.reset();
  if (uv_loop_close(&loop) != 0) {
    std::fprintf(stderr, "setpoint-demo-service: a handle was left open\n");
    return 1;
  }
  return status;
}

}  // namespace

}  // namespace setpoint

int main(int argc, char** argv) { return setpoint::run(argc, argv); }
