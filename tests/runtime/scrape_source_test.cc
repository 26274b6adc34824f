// ScrapeSource against a canned exposition endpoint: what lands in the window store, the
// synthetic series, staleness, and every way a scrape fails.
#include "runtime/scrape_source.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>

#include "support/canned_http_server.h"

namespace setpoint {
namespace {

using test::CannedHttpServer;
using test::CannedRequest;
using test::CannedResponse;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kStep = 15'000;

Labels labels(std::initializer_list<std::pair<const char*, const char*>> pairs) {
  Labels out;
  for (const auto& [n, v] : pairs) out.push_back({n, v});
  normalize_labels(out);
  return out;
}

// The series with exactly these labels, without adding it to the store.
std::optional<uint32_t> find(const WindowStore& store, const Labels& l) {
  for (uint32_t id : store.all_series()) {
    if (store.labels(id) == l) return id;
  }
  return std::nullopt;
}

// The value an instant selector sees at t, or nullopt (no series, no sample, or stale).
std::optional<double> value_at(const WindowStore& store, const Labels& l, int64_t t) {
  std::optional<uint32_t> id = find(store, l);
  if (!id) return std::nullopt;
  std::optional<Sample> s = store.instant(*id, t);
  if (!s) return std::nullopt;
  return s->value;
}

// A loop, a CurlMulti and a store; a fake clock that moves kStep after each scrape.
struct ScrapeFixture {
  uv_loop_t loop;
  std::unique_ptr<CurlMulti> http;
  WindowStore store;
  int64_t now = kT0;
  int scrapes = 0;
  int stop_after = 1;
  std::vector<int64_t> scraped_at;
  std::unique_ptr<ScrapeSource> source;
  bool finished = false;

  ScrapeFixture() {
    uv_loop_init(&loop);
    http = std::make_unique<CurlMulti>(&loop);
  }
  ~ScrapeFixture() {
    if (!finished) finish();
  }

  static ScrapeSourceConfig config(const std::string& url) {
    ScrapeSourceConfig c;
    c.name = "api";
    c.url = url;
    c.interval_seconds = 0.05;
    c.timeout_seconds = 5;
    c.jitter_fraction = 0;
    c.labels = {{"job", "api"}, {"instance", "app:8080"}};
    return c;
  }

  // Starts a source and runs the loop until it has scraped `count` times.
  bool run(ScrapeSourceConfig c, int count = 1) {
    stop_after = count;
    source = std::make_unique<ScrapeSource>(
        &loop, *http, std::move(c), store, [this] { return now; },
        [this](int64_t t) {
          scraped_at.push_back(t);
          now += kStep;
          if (++scrapes == stop_after) source->stop();
        });
    source->start();
    return test::run_loop_until(&loop, [this] { return scrapes >= stop_after; });
  }

  int finish() {
    finished = true;
    if (source) source->stop();
    http->close();
    return test::finish_loop(&loop);
  }
};

const char* kTwoMetrics =
    "# HELP http_requests_total Requests served.\n"
    "# TYPE http_requests_total counter\n"
    "http_requests_total{code=\"200\"} 1027\n"
    "http_requests_total{code=\"500\"} 3\n"
    "# TYPE process_open_fds gauge\n"
    "process_open_fds 12\n";

TEST_CASE("a scrape puts every series in the store at the scrape time with the source labels",
          "[scrape]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{200, kTwoMetrics}; });
  ScrapeFixture f;
  REQUIRE(f.run(ScrapeFixture::config(server.url("/metrics"))));
  REQUIRE(f.scraped_at == std::vector<int64_t>{kT0});

  auto api = [](std::initializer_list<std::pair<const char*, const char*>> extra) {
    Labels l = labels(extra);
    l.push_back({"job", "api"});
    l.push_back({"instance", "app:8080"});
    normalize_labels(l);
    return l;
  };
  Labels ok = api({{"__name__", "http_requests_total"}, {"code", "200"}});
  REQUIRE(find(f.store, ok));
  std::optional<Sample> s = f.store.instant(*find(f.store, ok), kT0);
  REQUIRE(s);
  CHECK(s->t_ms == kT0);
  CHECK(s->value == 1027);
  CHECK(value_at(f.store, api({{"__name__", "http_requests_total"}, {"code", "500"}}), kT0) == 3);
  CHECK(value_at(f.store, api({{"__name__", "process_open_fds"}}), kT0) == 12);
  CHECK(value_at(f.store, api({{"__name__", "up"}}), kT0) == 1);
  CHECK(value_at(f.store, api({{"__name__", "scrape_samples_scraped"}}), kT0) == 3);
  CHECK(find(f.store, api({{"__name__", "scrape_duration_seconds"}})));
  CHECK(f.store.series_count() == 6);

  const SourceHealth& h = f.source->health();
  CHECK(h.name == "api");
  CHECK(h.kind == "scrape");
  CHECK(h.up);
  CHECK(h.last_error == "");
  CHECK(h.attempts == 1);
  CHECK(h.failures == 0);
  CHECK(h.samples == 3);
  CHECK(h.last_attempt_ms == kT0);
  CHECK(h.last_success_ms == kT0);
  CHECK(h.skipped_lines == 0);
  CHECK(h.rejected_series == 0);

  std::vector<CannedRequest> requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].target == "/metrics");
  CHECK(requests[0].header("accept") == "text/plain;version=0.0.4");
  CHECK(requests[0].header("x-prometheus-scrape-timeout-seconds") == "5");
  CHECK(f.finish() == 0);
}

TEST_CASE("a scraped label that the source also sets is kept as exported_ and a timestamp stays",
          "[scrape]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{200, "jobs_done{job=\"batch\"} 4\ntemperature 21.5 1699999990000\n"};
  });
  ScrapeFixture f;
  REQUIRE(f.run(ScrapeFixture::config(server.url("/metrics"))));
  Labels jobs = labels({{"__name__", "jobs_done"},
                        {"job", "api"},
                        {"exported_job", "batch"},
                        {"instance", "app:8080"}});
  CHECK(value_at(f.store, jobs, kT0) == 4);
  Labels temperature =
      labels({{"__name__", "temperature"}, {"job", "api"}, {"instance", "app:8080"}});
  REQUIRE(find(f.store, temperature));
  std::optional<Sample> s = f.store.instant(*find(f.store, temperature), kT0);
  REQUIRE(s);
  CHECK(s->t_ms == 1699999990000);
  CHECK(s->value == 21.5);
  CHECK(f.finish() == 0);
}

TEST_CASE("a series missing from the next scrape gets a stale marker at that scrape's time",
          "[scrape]") {
  std::atomic<int> served{0};
  CannedHttpServer server([&](const CannedRequest&) {
    if (served++ == 0) return CannedResponse{200, kTwoMetrics};
    return CannedResponse{200, "http_requests_total{code=\"200\"} 1100\nprocess_open_fds 13\n"};
  });
  ScrapeFixture f;
  REQUIRE(f.run(ScrapeFixture::config(server.url("/metrics")), 2));
  REQUIRE(f.scraped_at == std::vector<int64_t>{kT0, kT0 + kStep});
  const int64_t t1 = kT0 + kStep;
  Labels gone = labels({{"__name__", "http_requests_total"},
                        {"code", "500"},
                        {"job", "api"},
                        {"instance", "app:8080"}});
  Labels kept = labels({{"__name__", "http_requests_total"},
                        {"code", "200"},
                        {"job", "api"},
                        {"instance", "app:8080"}});
  CHECK(value_at(f.store, gone, t1 - 1) == 3);
  CHECK(value_at(f.store, gone, t1) == std::nullopt);
  CHECK(value_at(f.store, kept, t1) == 1100);
  CHECK(value_at(f.store, labels({{"__name__", "up"}, {"job", "api"}, {"instance", "app:8080"}}),
                 t1) == 1);
  CHECK(f.source->health().samples == 5);
  CHECK(f.source->health().attempts == 2);
  CHECK(f.finish() == 0);
}

TEST_CASE("a scrape answered with HTTP 500 is down and ends every series of the last scrape",
          "[scrape]") {
  std::atomic<int> served{0};
  CannedHttpServer server([&](const CannedRequest&) {
    if (served++ == 0) return CannedResponse{200, kTwoMetrics};
    return CannedResponse{500, "exporter broke\n"};
  });
  ScrapeFixture f;
  REQUIRE(f.run(ScrapeFixture::config(server.url("/metrics")), 2));
  const int64_t t1 = kT0 + kStep;
  Labels fds = labels({{"__name__", "process_open_fds"}, {"job", "api"}, {"instance", "app:8080"}});
  Labels up = labels({{"__name__", "up"}, {"job", "api"}, {"instance", "app:8080"}});
  CHECK(value_at(f.store, fds, kT0) == 12);
  CHECK(value_at(f.store, fds, t1) == std::nullopt);
  CHECK(value_at(f.store, up, t1) == 0);
  const SourceHealth& h = f.source->health();
  CHECK_FALSE(h.up);
  CHECK(h.last_error == "HTTP 500");
  CHECK(h.attempts == 2);
  CHECK(h.failures == 1);
  CHECK(h.last_success_ms == kT0);
  CHECK(h.last_attempt_ms == t1);
  CHECK(f.finish() == 0);
}

TEST_CASE("after a failed scrape the next good one starts the series again and one it lacks ends",
          "[scrape]") {
  std::atomic<int> served{0};
  CannedHttpServer server([&](const CannedRequest&) {
    int n = served++;
    if (n == 1) return CannedResponse{500, "exporter broke\n"};
    if (n == 2) return CannedResponse{200, "process_open_fds 14\n"};
    return CannedResponse{200, kTwoMetrics};  // scrapes 0 and 3
  });
  ScrapeFixture f;
  REQUIRE(f.run(ScrapeFixture::config(server.url("/metrics")), 4));
  const int64_t t1 = kT0 + kStep, t2 = kT0 + 2 * kStep, t3 = kT0 + 3 * kStep;
  Labels fds = labels({{"__name__", "process_open_fds"}, {"job", "api"}, {"instance", "app:8080"}});
  Labels errors = labels({{"__name__", "http_requests_total"},
                          {"code", "500"},
                          {"job", "api"},
                          {"instance", "app:8080"}});
  CHECK(value_at(f.store, fds, t1) == std::nullopt);  // ended by the failure
  CHECK(value_at(f.store, fds, t2) == 14);
  CHECK(value_at(f.store, errors, t2) == std::nullopt);  // ended at t1, not back at t2
  CHECK(value_at(f.store, errors, t3) == 3);             // back at t3
  CHECK(value_at(f.store, fds, t3) == 12);
  // Everything the store holds for it, markers included: one marker, at the failure; none at
  // t2 for a series that had already ended.
  WindowStore::Positioned held = f.store.positioned(*find(f.store, errors));
  REQUIRE(held.samples.size() == 3);
  CHECK(held.samples[0].t_ms == kT0);
  CHECK(held.samples[1].t_ms == t1);
  CHECK(is_stale_marker(held.samples[1].value));
  CHECK(held.samples[2].t_ms == t3);
  CHECK(f.finish() == 0);
}

TEST_CASE("a target that refuses connections is down and says so", "[scrape]") {
  ScrapeFixture f;
  int port = test::closed_port();
  REQUIRE(f.run(ScrapeFixture::config("http://127.0.0.1:" + std::to_string(port) + "/metrics")));
  const SourceHealth& h = f.source->health();
  CHECK_FALSE(h.up);
  CHECK(h.last_error == "connection refused");
  CHECK(h.failures == 1);
  CHECK(h.last_success_ms == 0);
  Labels up = labels({{"__name__", "up"}, {"job", "api"}, {"instance", "app:8080"}});
  CHECK(value_at(f.store, up, kT0) == 0);
  CHECK(value_at(
            f.store,
            labels(
                {{"__name__", "scrape_samples_scraped"}, {"job", "api"}, {"instance", "app:8080"}}),
            kT0) == 0);
  CHECK(f.store.series_count() == 3);
  CHECK(f.finish() == 0);
}

TEST_CASE("a scrape slower than its timeout is down with timed out", "[scrape]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{200, kTwoMetrics, 3000};
  });
  ScrapeFixture f;
  ScrapeSourceConfig c = ScrapeFixture::config(server.url("/metrics"));
  c.timeout_seconds = 0.2;
  REQUIRE(f.run(c));
  CHECK_FALSE(f.source->health().up);
  CHECK(f.source->health().last_error == "timed out after 0.2s");
  CHECK(value_at(f.store, labels({{"__name__", "up"}, {"job", "api"}, {"instance", "app:8080"}}),
                 kT0) == 0);
  CHECK(f.finish() == 0);
}

TEST_CASE("malformed lines are counted and skipped while the good lines of the scrape land",
          "[scrape]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{200,
                          "good_one 1\n"
                          "this is not a metric line\n"
                          "good_two{a=\"x\"} 2\n"
                          "bad{unterminated=\"x 3\n"};
  });
  ScrapeFixture f;
  REQUIRE(f.run(ScrapeFixture::config(server.url("/metrics"))));
  const SourceHealth& h = f.source->health();
  CHECK(h.up);
  CHECK(h.skipped_lines == 2);
  CHECK(h.samples == 2);
  CHECK(value_at(f.store,
                 labels({{"__name__", "good_one"}, {"job", "api"}, {"instance", "app:8080"}}),
                 kT0) == 1);
  CHECK(
      value_at(
          f.store,
          labels({{"__name__", "good_two"}, {"a", "x"}, {"job", "api"}, {"instance", "app:8080"}}),
          kT0) == 2);
  CHECK(f.finish() == 0);
}

TEST_CASE("a body larger than max_body_bytes fails the scrape", "[scrape]") {
  std::string big;
  for (int i = 0; i < 100; ++i) big += "metric_" + std::to_string(i) + " 1\n";
  CannedHttpServer server([&](const CannedRequest&) { return CannedResponse{200, big}; });
  ScrapeFixture f;
  ScrapeSourceConfig c = ScrapeFixture::config(server.url("/metrics"));
  c.max_body_bytes = 100;
  REQUIRE(f.run(c));
  CHECK_FALSE(f.source->health().up);
  CHECK(f.source->health().last_error == "body larger than 100 bytes");
  CHECK(f.source->health().samples == 0);
  CHECK(value_at(f.store, labels({{"__name__", "up"}, {"job", "api"}, {"instance", "app:8080"}}),
                 kT0) == 0);
  CHECK(f.finish() == 0);
}

TEST_CASE("series beyond max_series are refused and counted", "[scrape]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{200, "first 1\nsecond 2\nthird 3\nfirst 4\n"};
  });
  ScrapeFixture f;
  ScrapeSourceConfig c = ScrapeFixture::config(server.url("/metrics"));
  c.max_series = 2;
  REQUIRE(f.run(c));
  const SourceHealth& h = f.source->health();
  CHECK(h.up);
  CHECK(h.rejected_series == 1);
  CHECK(h.samples == 2);  // first 4 repeats the scrape's timestamp: a duplicate
  auto named = [](const char* name) {
    return labels({{"__name__", name}, {"job", "api"}, {"instance", "app:8080"}});
  };
  CHECK(value_at(f.store, named("first"), kT0) == 1);
  CHECK(value_at(f.store, named("second"), kT0) == 2);
  CHECK_FALSE(find(f.store, named("third")));
  CHECK(value_at(f.store, named("scrape_samples_scraped"), kT0) == 4);
  CHECK(f.finish() == 0);
}

TEST_CASE("series known from the last scrape still count against max_series, each once",
          "[scrape]") {
  // The second scrape names `first` from the first scrape's cache of series text, twice, after
  // two new series: the bound of 2 is reached by the new ones, so `first` is refused this time.
  int scrape = 0;
  CannedHttpServer server([&scrape](const CannedRequest&) {
    return CannedResponse{
        200, ++scrape == 1 ? "first 1\nsecond 2\n" : "third 3\nfourth 4\nfirst 5\nfirst 6\n"};
  });
  ScrapeFixture f;
  ScrapeSourceConfig c = ScrapeFixture::config(server.url("/metrics"));
  c.max_series = 2;
  REQUIRE(f.run(c, 2));
  const SourceHealth& h = f.source->health();
  CHECK(h.rejected_series == 2);  // `first` twice in the second scrape
  CHECK(h.samples == 4);
  auto named = [](const char* name) {
    return labels({{"__name__", name}, {"job", "api"}, {"instance", "app:8080"}});
  };
  CHECK(value_at(f.store, named("first"), kT0) == 1);
  CHECK(value_at(f.store, named("third"), kT0 + kStep) == 3);
  CHECK(value_at(f.store, named("fourth"), kT0 + kStep) == 4);
  CHECK(f.finish() == 0);
}

TEST_CASE("a series named again in the next scrape is read from the cache to the same series",
          "[scrape]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{200, "load{core=\"0\"} 1\nload{core=\"1\"} 2\nload{core=\"0\"} 3\n"};
  });
  ScrapeFixture f;
  REQUIRE(f.run(ScrapeFixture::config(server.url("/metrics")), 3));
  auto core = [](const char* n) {
    return labels({{"__name__", "load"}, {"core", n}, {"job", "api"}, {"instance", "app:8080"}});
  };
  // Three scrapes, two series each; the repeated line is a duplicate at its scrape's time.
  CHECK(f.source->health().samples == 6);
  for (int k = 0; k < 3; ++k) {
    CHECK(value_at(f.store, core("0"), kT0 + k * kStep) == 1);
    CHECK(value_at(f.store, core("1"), kT0 + k * kStep) == 2);
  }
  // and up, scrape_duration_seconds, scrape_samples_scraped: no series twice
  CHECK(f.store.series_count() == 2 + 3);
  CHECK(f.finish() == 0);
}

TEST_CASE("stop cancels a scrape in flight and no callback follows", "[scrape]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{200, kTwoMetrics, 3000};
  });
  ScrapeFixture f;
  f.stop_after = 1;
  f.source = std::make_unique<ScrapeSource>(
      &f.loop, *f.http, ScrapeFixture::config(server.url("/metrics")), f.store,
      [&f] { return f.now; }, [&f](int64_t) { ++f.scrapes; });
  f.source->start();
  REQUIRE(test::run_loop_until(&f.loop, [&] { return server.requests().size() == 1; }));
  f.source->stop();
  CHECK(f.http->in_flight() == 0);
  CHECK(f.scrapes == 0);
  CHECK(f.source->health().attempts == 1);
  CHECK(f.source->health().failures == 0);
  CHECK(f.store.series_count() == 0);
  CHECK(f.finish() == 0);
  CHECK(f.scrapes == 0);
}

}  // namespace
}  // namespace setpoint
