// The live demo's service model, admin endpoints, load profiles and addresses with exact values,
// and one end-to-end run of the real service and load generator on loopback.
#include <curl/curl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <charconv>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "examples/demo/knob_api.h"
#include "examples/demo/load_profile.h"
#include "examples/demo/loopback_address.h"
#include "examples/demo/service_metrics.h"
#include "examples/demo/service_model.h"
#include "support/fixtures.h"
#include "support/http_client.h"
#include "support/process.h"

using namespace setpoint;

namespace {

// The model's recipe for one miss, written out again: jitter, then the 504 draw.
struct DemoTestDraws {
  double jitter;
  double fail;
};

DemoTestDraws next_draws(std::mt19937_64& rng) {
  double a = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  double b = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return {1 + 0.1 * (2 * a - 1), b};
}

DemoCompletion only_completion(DemoServiceModel& model) {
  std::vector<DemoCompletion> done = model.take_completed();
  REQUIRE(done.size() == 1);
  return done[0];
}

HttpRequest admin(const std::string& method, const std::string& path,
                  const std::string& body = {}) {
  HttpRequest r;
  r.method = method;
  r.path = path;
  r.body = body;
  return r;
}

// A PUT through libcurl: the tests' HttpClient only sends GET and POST.
long http_put(const std::string& url, const std::string& body, std::string& response) {
  CURL* curl = curl_easy_init();
  if (!curl) return 0;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10'000L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* out) {
        static_cast<std::string*>(out)->append(data, size * n);
        return size * n;
      });
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  return status;
}

// The exit status of a child once it exits, waiting at most `wait`; -1 if it was killed by a
// signal, or did not exit in time (then it is killed).
int wait_exit(pid_t pid, std::chrono::seconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Kills the child when a failed REQUIRE leaves the test early.
struct DemoTestChild {
  pid_t pid = -1;
  ~DemoTestChild() {
    if (pid > 0) wait_exit(pid, std::chrono::seconds(0));
  }
};

std::string number_text(double value) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

}  // namespace

TEST_CASE("a miss takes 8 ms times the batch factor plus 0.15 ms per level, with seeded jitter",
          "[demo]") {
  DemoServiceModel model(1);
  std::mt19937_64 rng(1);
  DemoArrival a = model.arrive(0, "a");
  CHECK(!a.hit);
  CHECK(!a.queued);
  CHECK(a.status == 200);
  CHECK(a.service_ms == (8.0 * (0.5 + 0.5 / 1) + 0.15 * 1) * next_draws(rng).jitter);
  REQUIRE(model.set_knob(DemoKnob::batch_size, 4, 100).empty());
  REQUIRE(model.set_knob(DemoKnob::compression_level, 6, 100).empty());
  DemoArrival b = model.arrive(100, "b");
  CHECK(b.service_ms == (8.0 * (0.5 + 0.5 / 4) + 0.15 * 6) * next_draws(rng).jitter);
  CHECK(b.service_ms >= 5.9 * 0.9);
  CHECK(b.service_ms <= 5.9 * 1.1);
  model.advance(1000);
  std::vector<DemoCompletion> done = model.take_completed();
  REQUIRE(done.size() == 2);
  CHECK(done[0].response_bytes == 5640);  // 6000 * (1 - 0.06)
  CHECK(done[1].response_bytes == 3840);  // 6000 * (1 - 0.36)
  CHECK(model.stats().response_bytes == 9480);
}

TEST_CASE("with pool_size 2 the third of three simultaneous misses waits for a worker", "[demo]") {
  DemoServiceModel model(1);
  DemoArrival a = model.arrive(0, "a");
  DemoArrival b = model.arrive(0, "b");
  DemoArrival c = model.arrive(0, "c");
  CHECK(!a.queued);
  CHECK(!b.queued);
  CHECK(c.queued);
  CHECK(model.busy_workers() == 2);
  CHECK(model.queue_depth() == 1);
  CHECK(model.inflight() == 3);
  double first = std::min(a.service_ms, b.service_ms);
  REQUIRE(model.next_completion_ms() == first);
  model.advance(first);
  CHECK(model.take_completed().size() == 1);
  CHECK(model.queue_depth() == 0);
  CHECK(model.busy_workers() == 2);
  model.advance(100);
  std::vector<DemoCompletion> done = model.take_completed();
  REQUIRE(done.size() == 2);
  DemoCompletion third = done[0].id == c.id ? done[0] : done[1];
  CHECK(third.latency_ms == (first + c.service_ms) - 0);
  CHECK(model.inflight() == 0);
  CHECK(!model.next_completion_ms());
}

TEST_CASE("beyond 256 waiting misses a request gets 503 at once and is counted", "[demo]") {
  DemoServiceModel model(1);
  REQUIRE(model.set_knob(DemoKnob::pool_size, 1, 0).empty());
  for (int i = 0; i < 257; ++i) CHECK(model.arrive(0, "k" + std::to_string(i)).status == 200);
  CHECK(model.queue_depth() == 256);
  DemoArrival rejected = model.arrive(0, "late");
  CHECK(rejected.status == 503);
  CHECK(rejected.id == 0);
  CHECK(model.stats().requests_503 == 1);
  CHECK(model.stats().duration_buckets[0] == 1);  // answered in 0 ms
  CHECK(model.inflight() == 257);
}

TEST_CASE("a bigger pool starts waiting misses at once and a smaller one cancels nothing",
          "[demo]") {
  DemoServiceModel model(1);
  std::vector<DemoArrival> arrivals;
  for (int i = 0; i < 4; ++i) arrivals.push_back(model.arrive(0, "k" + std::to_string(i)));
  CHECK(model.queue_depth() == 2);
  REQUIRE(model.set_knob(DemoKnob::pool_size, 4, 1).empty());
  CHECK(model.queue_depth() == 0);
  CHECK(model.busy_workers() == 4);
  CHECK(model.memory_bytes() == (24 + 4 * 4) * 1024 * 1024);

  REQUIRE(model.set_knob(DemoKnob::pool_size, 1, 2).empty());
  CHECK(model.busy_workers() == 4);  // all four keep working
  DemoArrival late = model.arrive(2, "late");
  CHECK(late.queued);
  model.advance(1000);
  std::map<uint64_t, double> latency;
  for (const auto& c : model.take_completed()) latency[c.id] = c.latency_ms;
  REQUIRE(latency.size() == 5);
  CHECK(latency[arrivals[2].id] == 1 + arrivals[2].service_ms);  // started when the pool grew
  double last_of_four = 0;
  for (const auto& a : arrivals) last_of_four = std::max(last_of_four, latency[a.id]);
  // With one worker allowed, the late miss waits until all four are done.
  CHECK(latency[late.id] == (last_of_four + late.service_ms) - 2);
}

TEST_CASE("a cached response is a 0.5 ms hit within cache_ttl and a miss from its expiry",
          "[demo]") {
  DemoServiceModel model(1);
  REQUIRE(model.set_knob(DemoKnob::cache_ttl, 60, 0).empty());
  DemoArrival miss = model.arrive(0, "k");
  CHECK(!miss.hit);
  double filled = *model.next_completion_ms();
  model.advance(50);
  model.take_completed();
  CHECK(model.cache_entries() == 1);
  CHECK(model.memory_bytes() == 32 * 1024 * 1024 + 2048);

  DemoArrival hit = model.arrive(filled + 59'999, "k");
  CHECK(hit.hit);
  CHECK(hit.service_ms == 0.5);
  CHECK(model.busy_workers() == 0);
  model.advance(filled + 59'999.5);
  DemoCompletion c = only_completion(model);
  CHECK(c.hit);
  CHECK(c.latency_ms == 0.5);
  CHECK(c.response_bytes == 5640);

  CHECK(model.arrive(filled + 60'000, "k").hit == false);
  CHECK(model.stats().cache_hits == 1);
  CHECK(model.stats().cache_misses == 2);
}

TEST_CASE("setting cache_ttl to 0 empties the cache and a 504 never fills it", "[demo]") {
  DemoServiceModel model(1);
  REQUIRE(model.set_knob(DemoKnob::cache_ttl, 600, 0).empty());
  for (int i = 0; i < 3; ++i) model.arrive(i * 20, "k" + std::to_string(i));
  model.advance(100);
  CHECK(model.cache_entries() == 3);
  REQUIRE(model.set_knob(DemoKnob::cache_ttl, 0, 100).empty());
  CHECK(model.cache_entries() == 0);
  CHECK(model.arrive(100, "k0").hit == false);
  model.advance(200);
  CHECK(model.cache_entries() == 0);  // with the cache off, a miss fills nothing

  DemoServiceModel failing(1);
  REQUIRE(failing.set_knob(DemoKnob::cache_ttl, 600, 0).empty());
  REQUIRE(failing.set_knob(DemoKnob::batch_size, 32, 0).empty());  // 90 % fail
  uint64_t failed = 0;
  for (int i = 0; i < 20; ++i) {
    failed += failing.arrive(i * 20, "k" + std::to_string(i)).status == 504;
  }
  failing.advance(1000);
  CHECK(failing.stats().requests_504 == failed);
  CHECK(failing.cache_entries() == 20 - failed);
}

TEST_CASE("batch_size 16 with seed 1 fails exactly 375 of 1000 misses with 504", "[demo]") {
  DemoServiceModel model(1);
  REQUIRE(model.set_knob(DemoKnob::batch_size, 16, 0).empty());
  std::mt19937_64 rng(1);
  uint64_t expected = 0;
  for (int i = 0; i < 1000; ++i) {
    DemoTestDraws d = next_draws(rng);
    expected += d.fail < 0.4;  // (16 - 8) / 20
    DemoArrival a = model.arrive(i * 10.0, "k" + std::to_string(i));
    CHECK(a.service_ms == (8.0 * (0.5 + 0.5 / 16) + 0.15) * d.jitter);
  }
  model.advance(20'000);
  CHECK(expected == 375);
  CHECK(model.stats().requests_504 == 375);
  CHECK(model.stats().requests_200 == 625);
  CHECK(model.stats().requests_503 == 0);

  DemoServiceModel safe(1);
  REQUIRE(safe.set_knob(DemoKnob::batch_size, 8, 0).empty());
  for (int i = 0; i < 1000; ++i) safe.arrive(i * 10.0, "k" + std::to_string(i));
  safe.advance(20'000);
  CHECK(safe.stats().requests_504 == 0);
}

TEST_CASE("one seed and one sequence of arrivals give the same outcomes", "[demo]") {
  auto run = [](uint64_t seed) {
    DemoServiceModel model(seed);
    std::vector<double> latencies;
    for (int i = 0; i < 50; ++i) model.arrive(i * 2.0, "k" + std::to_string(i % 7));
    model.advance(1000);
    for (const auto& c : model.take_completed()) latencies.push_back(c.latency_ms);
    return latencies;
  };
  CHECK(run(7) == run(7));
  CHECK(run(7) != run(8));
}

TEST_CASE("knob values outside their range or not whole are refused with the reason", "[demo]") {
  const DemoKnobSpec& pool = demo_knob_spec(DemoKnob::pool_size);
  CHECK(demo_knob_error(pool, 65) == "pool_size must be from 1 to 64, got 65");
  CHECK(demo_knob_error(pool, 0) == "pool_size must be from 1 to 64, got 0");
  CHECK(demo_knob_error(pool, 2.5) == "pool_size must be a whole number from 1 to 64, got 2.5");
  CHECK(demo_knob_error(pool, 64).empty());
  CHECK(demo_knob_error(*demo_knob_spec("cache_ttl"), -1) ==
        "cache_ttl must be from 0 to 600, got -1");
  CHECK(demo_knob_error(*demo_knob_spec("compression_level"), 10) ==
        "compression_level must be from 0 to 9, got 10");
  CHECK(demo_knob_error(*demo_knob_spec("batch_size"), 33) ==
        "batch_size must be from 1 to 32, got 33");
  CHECK(demo_knob_spec("threads") == nullptr);
  DemoServiceModel model(1);
  CHECK(model.set_knob(DemoKnob::batch_size, 0, 0) == "batch_size must be from 1 to 32, got 0");
  CHECK(model.knob(DemoKnob::batch_size) == 1);
}

TEST_CASE("the metrics page shows the exact counters and gauges after two requests", "[demo]") {
  DemoServiceModel model(1);
  DemoArrival a = model.arrive(0, "a");
  model.advance(20);
  REQUIRE(model.set_knob(DemoKnob::pool_size, 1, 20).empty());
  model.arrive(20, "b");
  model.arrive(20, "c");
  DemoArrival rejected;
  for (int i = 0; i < 256; ++i) rejected = model.arrive(20, "q" + std::to_string(i));
  REQUIRE(rejected.status == 503);
  std::string expected =
      "# HELP demo_request_duration_seconds Time from a request's arrival to its response, "
      "whatever its outcome.\n"
      "# TYPE demo_request_duration_seconds histogram\n"
      "demo_request_duration_seconds_bucket{le=\"0.001\"} 1\n"
      "demo_request_duration_seconds_bucket{le=\"0.0025\"} 1\n"
      "demo_request_duration_seconds_bucket{le=\"0.005\"} 1\n"
      "demo_request_duration_seconds_bucket{le=\"0.01\"} 2\n"
      "demo_request_duration_seconds_bucket{le=\"0.025\"} 2\n"
      "demo_request_duration_seconds_bucket{le=\"0.05\"} 2\n"
      "demo_request_duration_seconds_bucket{le=\"0.1\"} 2\n"
      "demo_request_duration_seconds_bucket{le=\"0.25\"} 2\n"
      "demo_request_duration_seconds_bucket{le=\"0.5\"} 2\n"
      "demo_request_duration_seconds_bucket{le=\"1\"} 2\n"
      "demo_request_duration_seconds_bucket{le=\"2.5\"} 2\n"
      "demo_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"
      "demo_request_duration_seconds_sum " +
      number_text(a.service_ms / 1000) +
      "\n"
      "demo_request_duration_seconds_count 2\n"
      "# HELP demo_requests_total Responses to /api/item by status code.\n"
      "# TYPE demo_requests_total counter\n"
      "demo_requests_total{code=\"200\"} 1\n"
      "demo_requests_total{code=\"503\"} 1\n"
      "demo_requests_total{code=\"504\"} 0\n"
      "# HELP demo_cache_requests_total Cache lookups of /api/item by result.\n"
      "# TYPE demo_cache_requests_total counter\n"
      "demo_cache_requests_total{result=\"hit\"} 0\n"
      "demo_cache_requests_total{result=\"miss\"} 259\n"
      "# HELP demo_inflight Requests accepted and not answered yet.\n"
      "# TYPE demo_inflight gauge\n"
      "demo_inflight 257\n"
      "# HELP demo_queue_depth Misses waiting for a worker.\n"
      "# TYPE demo_queue_depth gauge\n"
      "demo_queue_depth 256\n"
      "# HELP demo_workers_busy Workers serving a miss.\n"
      "# TYPE demo_workers_busy gauge\n"
      "demo_workers_busy 1\n"
      "# HELP demo_cache_entries Responses held in the cache.\n"
      "# TYPE demo_cache_entries gauge\n"
      "demo_cache_entries 0\n"
      "# HELP demo_memory_bytes Modelled memory: 24 MiB, 4 MiB per worker, 2 KiB per cache "
      "entry.\n"
      "# TYPE demo_memory_bytes gauge\n"
      "demo_memory_bytes 29360128\n"
      "# HELP demo_response_bytes_total Modelled bytes of the 200 responses, after compression.\n"
      "# TYPE demo_response_bytes_total counter\n"
      "demo_response_bytes_total 5640\n"
      "# HELP demo_knob The current value of each knob.\n"
      "# TYPE demo_knob gauge\n"
      "demo_knob{knob=\"pool_size\"} 1\n"
      "demo_knob{knob=\"cache_ttl\"} 0\n"
      "demo_knob{knob=\"compression_level\"} 1\n"
      "demo_knob{knob=\"batch_size\"} 1\n";
  CHECK(demo_metrics_text(model) == expected);
}

TEST_CASE("the admin endpoints read and set knobs as the http actuator expects", "[demo]") {
  DemoServiceModel model(1);
  std::optional<DemoKnobChange> change;
  HttpResponse r = demo_knob_request(
      model, admin("PUT", "/admin/knobs/pool_size", R"({"value": 8})"), 0, &change);
  CHECK(r.status == 200);
  CHECK(r.body == "{\"name\":\"pool_size\",\"value\":8}\n");
  REQUIRE(change);
  CHECK(change->name == "pool_size");
  CHECK(change->from == 2);
  CHECK(change->to == 8);
  r = demo_knob_request(model, admin("PUT", "/admin/knobs/batch_size", "16"), 0, nullptr);
  CHECK(r.status == 200);
  CHECK(model.knob(DemoKnob::batch_size) == 16);
  r = demo_knob_request(model, admin("GET", "/admin/knobs/pool_size"), 0, nullptr);
  CHECK(r.body == "{\"name\":\"pool_size\",\"value\":8}\n");
  r = demo_knob_request(model, admin("GET", "/admin/knobs"), 0, nullptr);
  CHECK(r.body == "{\"batch_size\":16,\"cache_ttl\":0,\"compression_level\":1,\"pool_size\":8}\n");
}

TEST_CASE("the admin endpoints refuse bad values, unknown knobs and other methods", "[demo]") {
  DemoServiceModel model(1);
  std::optional<DemoKnobChange> change;
  auto put = [&](const std::string& knob, const std::string& body) {
    return demo_knob_request(model, admin("PUT", "/admin/knobs/" + knob, body), 0, &change);
  };
  HttpResponse r = put("pool_size", "2.5");
  CHECK(r.status == 400);
  CHECK(r.body == "{\"error\":\"pool_size must be a whole number from 1 to 64, got 2.5\"}\n");
  CHECK(put("pool_size", R"({"value": 65})").body ==
        "{\"error\":\"pool_size must be from 1 to 64, got 65\"}\n");
  for (std::string body : {R"({"value": "8"})", "eight", "", "[8]", R"({"value": 8, "x": 1})"}) {
    r = put("pool_size", body);
    CHECK(r.status == 400);
    CHECK(r.body == "{\"error\":\"the body must be {\\\"value\\\": N} or a number N\"}\n");
  }
  r = put("threads", "4");
  CHECK(r.status == 404);
  CHECK(r.body ==
        "{\"error\":\"unknown knob \\\"threads\\\"; knobs are pool_size, cache_ttl, "
        "compression_level, batch_size\"}\n");
  r = demo_knob_request(model, admin("POST", "/admin/knobs/pool_size", "4"), 0, &change);
  CHECK(r.status == 405);
  CHECK(!change);
  CHECK(model.knob(DemoKnob::pool_size) == 2);
}

TEST_CASE("load profiles parse into phases and bad ones are refused with the reason", "[demo]") {
  std::vector<DemoPhase> phases;
  std::string error;
  REQUIRE(demo_parse_profile(kDemoDefaultProfile, 2000, phases, error));
  REQUIRE(phases.size() == 3);
  CHECK(phases[0].name == "quiet");
  CHECK(phases[0].duration_seconds == 10);
  CHECK(phases[0].rate == 60);
  CHECK(!phases[0].hot_keys);
  CHECK(phases[1].name == "surge");
  CHECK(phases[1].rate == 400);
  CHECK(phases[2].name == "hotkey");
  CHECK(phases[2].duration_seconds == 35);
  CHECK(phases[2].hot_keys);
  REQUIRE(demo_parse_profile("fast:500ms@5000,slow:2m@0.5", 2000, phases, error));
  CHECK(phases[0].duration_seconds == 0.5);
  CHECK(phases[0].rate == 2000);
  CHECK(phases[0].asked_rate == 5000);
  CHECK(phases[1].duration_seconds == 120);
  CHECK(phases[1].rate == 0.5);

  CHECK(!demo_parse_profile("surge:30@400", 2000, phases, error));
  CHECK(error ==
        "phase \"surge:30@400\": the duration must be more than 0 with a unit: 500ms, "
        "10s, 2m");
  CHECK(!demo_parse_profile("surge:30s@-1", 2000, phases, error));
  CHECK(error ==
        "phase \"surge:30s@-1\": the rate must be a number of requests per second, 0 or more");
  CHECK(!demo_parse_profile("Surge:30s@1", 2000, phases, error));
  CHECK(error == "phase \"Surge:30s@1\": a name is 1 to 32 of a-z, 0-9, _ and -");
  CHECK(!demo_parse_profile("quiet:1s@1,", 2000, phases, error));
  CHECK(error == "phase \"\" is not name:duration@rate (\"surge:30s@400\")");
  CHECK(!demo_parse_profile("a:1441m@1", 2000, phases, error));
  CHECK(error == "the phases last more than 24h together");
}

TEST_CASE("a phase starts floor of rate times elapsed requests and all of them by its end",
          "[demo]") {
  DemoPhase surge{"surge", 30, 400, 400, false};
  CHECK(demo_phase_due(surge, 0) == 0);
  CHECK(demo_phase_due(surge, 0.0049) == 1);
  CHECK(demo_phase_due(surge, 15) == 6000);
  CHECK(demo_phase_due(surge, 30) == 12000);
  CHECK(demo_phase_due(surge, 45) == 12000);
  DemoPhase idle{"idle", 5, 0, 0, false};
  CHECK(demo_phase_due(idle, 5) == 0);
}

TEST_CASE("a hotkey phase sends 90 percent of keys to the 20 hot ones, others spread", "[demo]") {
  DemoKeyChooser hot(1), uniform(1);
  int hot_in_hot = 0, hot_in_uniform = 0;
  for (int i = 0; i < 10'000; ++i) {
    uint64_t h = hot.next(true), u = uniform.next(false);
    CHECK(h < kDemoKeySpace);
    CHECK(u < kDemoKeySpace);
    hot_in_hot += h < kDemoHotKeys;
    hot_in_uniform += u < kDemoHotKeys;
  }
  CHECK(hot_in_hot == 9036);
  CHECK(hot_in_uniform == 1);
}

TEST_CASE("the load summary says per phase what was sent and how it ended", "[demo]") {
  DemoPhase surge{"surge", 30, 400, 400, false};
  DemoPhaseCounts c{12000, 11890, 110, 0, 0, 0};
  CHECK(demo_phase_notice(surge) == "phase surge: 400 req/s for 30s");
  CHECK(demo_phase_summary(surge, c) ==
        "surge 30s: sent 12000, 200 11890, 503 110, 504 0, errors 0, shed 0");
  nlohmann::json j = nlohmann::json::parse(demo_summary_json({surge}, {c}));
  CHECK(j == nlohmann::json::parse(R"({"phases": [{"name": "surge", "duration_seconds": 30,
      "rate": 400, "sent": 12000, "200": 11890, "503": 110, "504": 0, "errors": 0,
      "shed": 0}]})"));
}

TEST_CASE("only loopback host and port pairs are accepted", "[demo]") {
  DemoLoopbackAddress a;
  std::string error;
  REQUIRE(demo_parse_loopback("127.0.0.1:8080", false, a, error));
  CHECK(a.url_authority() == "127.0.0.1:8080");
  REQUIRE(demo_parse_loopback("[::1]:9", false, a, error));
  CHECK(a.host == "::1");
  CHECK(a.url_authority() == "[::1]:9");
  REQUIRE(demo_parse_loopback("localhost:0", true, a, error));
  CHECK(a.url_authority() == "127.0.0.1:0");
  CHECK(!demo_parse_loopback("127.0.0.1:0", false, a, error));
  CHECK(error == "\"127.0.0.1:0\": the port must be a number from 1 to 65535");
  CHECK(!demo_parse_loopback("0.0.0.0:80", true, a, error));
  CHECK(error ==
        "\"0.0.0.0:80\" is not a loopback address: the demo only uses 127.0.0.0/8 or [::1]");
  CHECK(!demo_parse_loopback("[::]:80", true, a, error));
  CHECK(!demo_parse_loopback("10.0.0.1:80", true, a, error));
  CHECK(!demo_parse_loopback("example.com:80", true, a, error));
  CHECK(error ==
        "\"example.com:80\": the host must be a numeric address (127.0.0.1 or [::1]) or localhost");
  CHECK(!demo_parse_loopback("127.0.0.1", true, a, error));
  CHECK(error == "\"127.0.0.1\" is not host:port");
}

TEST_CASE("the demo programs refuse to listen on or load a non-loopback address", "[demo]") {
  test::ProcessResult service = test::run_process({SETPOINT_DEMO_SERVICE, "--listen", "0.0.0.0:0"});
  CHECK(service.exit_code == 2);
  CHECK(service.err ==
        "setpoint-demo-service: --listen \"0.0.0.0:0\" is not a loopback address: the demo only "
        "uses 127.0.0.0/8 or [::1]\n");
  test::ProcessResult load = test::run_process({SETPOINT_DEMO_LOAD, "--target", "10.1.2.3:80"});
  CHECK(load.exit_code == 2);
  CHECK(load.err ==
        "setpoint-demo-load: --target \"10.1.2.3:80\" is not a loopback address: the demo only "
        "uses 127.0.0.0/8 or [::1]\n");
}

TEST_CASE("the demo service takes a knob change and load, and stops cleanly on SIGTERM", "[demo]") {
  test::TempDir dir;
  DemoTestChild service;
  service.pid = test::spawn_background({SETPOINT_DEMO_SERVICE, "--listen", "127.0.0.1:0",
                                        "--port-file", dir.file("port"), "--seed", "3"},
                                       dir.file("service.log"));
  // The port file appears whole (it is renamed into place) once the service listens.
  std::string port;
  for (int i = 0; i < 1000 && port.empty(); ++i) {
    struct stat st {};
    if (stat(dir.file("port").c_str(), &st) == 0) port = test::read_text(dir.file("port"));
    if (port.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(!port.empty());
  REQUIRE(port.back() == '\n');
  port.pop_back();
  std::string base = "http://127.0.0.1:" + port;

  std::string body;
  CHECK(http_put(base + "/admin/knobs/pool_size", R"({"value": 8})", body) == 200);
  CHECK(body == "{\"name\":\"pool_size\",\"value\":8}\n");
  body.clear();
  CHECK(http_put(base + "/admin/knobs/pool_size", "65", body) == 400);
  test::HttpClient client;
  test::HttpResponse got = client.get(base + "/admin/knobs/pool_size");
  CHECK(got.status == 200);
  CHECK(got.body == "{\"name\":\"pool_size\",\"value\":8}\n");
  got = client.get(base + "/metrics");
  CHECK(got.status == 200);
  CHECK(got.body.find("\ndemo_knob{knob=\"pool_size\"} 8\n") != std::string::npos);
  CHECK(got.body.find("\ndemo_requests_total{code=\"200\"} 0\n") != std::string::npos);

  test::ProcessResult load =
      test::run_process({SETPOINT_DEMO_LOAD, "--target", "127.0.0.1:" + port, "--profile",
                         "quiet:1s@50", "--summary-json", dir.file("summary.json")});
  CHECK(load.exit_code == 0);
  CHECK(load.out ==
        "phase quiet: 50 req/s for 1s\n"
        "quiet 1s: sent 50, 200 50, 503 0, 504 0, errors 0, shed 0\n");
  nlohmann::json summary = nlohmann::json::parse(test::read_text(dir.file("summary.json")));
  REQUIRE(summary["phases"].size() == 1);
  nlohmann::json phase = summary["phases"][0];
  CHECK(phase["name"] == "quiet");
  CHECK(phase["sent"] == 50);
  CHECK(phase["shed"] == 0);
  CHECK(phase["sent"].get<int>() == phase["200"].get<int>() + phase["503"].get<int>() +
                                        phase["504"].get<int>() + phase["errors"].get<int>());
  // The service saw each of them, and answered them all.
  got = client.get(base + "/metrics");
  CHECK(got.body.find("\ndemo_requests_total{code=\"200\"} 50\n") != std::string::npos);
  CHECK(got.body.find("\ndemo_request_duration_seconds_count 50\n") != std::string::npos);
  CHECK(got.body.find("\ndemo_inflight 0\n") != std::string::npos);

  kill(service.pid, SIGTERM);
  CHECK(wait_exit(service.pid, std::chrono::seconds(10)) == 0);
  service.pid = -1;
  CHECK(test::read_text(dir.file("service.log")) ==
        "listening on 127.0.0.1:" + port + "\nknob pool_size 2 -> 8\n");
}
