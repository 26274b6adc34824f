// QuerySource against a canned Prometheus API answering with the JSON shapes Prometheus sends:
// a matrix for the range query, a vector for the instant one, and its error object.
#include "runtime/query_source.h"

#include <algorithm>
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
const std::string kSelector = "http_requests_total{job=\"api\"}";

Labels series_labels(const char* code) {
  Labels l = {{"__name__", "http_requests_total"}, {"job", "api"}, {"code", code}};
  normalize_labels(l);
  return l;
}

std::optional<uint32_t> find(const WindowStore& store, const Labels& l) {
  for (uint32_t id : store.all_series()) {
    if (store.labels(id) == l) return id;
  }
  return std::nullopt;
}

std::vector<std::pair<int64_t, double>> samples(const WindowStore& store, const Labels& l) {
  std::vector<std::pair<int64_t, double>> out;
  std::optional<uint32_t> id = find(store, l);
  if (!id) return out;
  std::vector<Sample> range;
  store.range(*id, 0, INT64_MAX, range);
  for (const Sample& s : range) out.emplace_back(s.t_ms, s.value);
  return out;
}

std::string matrix(const std::string& series) {
  return R"({"status":"success","data":{"resultType":"matrix","result":[)" + series + "]}}";
}
std::string vector(const std::string& series) {
  return R"({"status":"success","data":{"resultType":"vector","result":[)" + series + "]}}";
}
std::string metric(const char* code) {
  return std::string(R"("metric":{"__name__":"http_requests_total","job":"api","code":")") + code +
         "\"}";
}

// What the canned Prometheus holds at each round's time: code 500 goes stale after round 1.
CannedResponse prometheus(const CannedRequest& r) {
  if (r.target.rfind("/api/v1/query?", 0) != 0) return {404, "not found"};
  std::string query = test::query_param(r.target, "query");
  std::string time = test::query_param(r.target, "time");
  bool range = query == kSelector + "[30s]";
  if (!range && query != kSelector) return {400, "unexpected query " + query};
  CannedResponse ok{200, "", 0, "application/json"};
  if (time == "1700000000") {
    ok.body = range ? matrix("{" + metric("200") +
                             R"(,"values":[[1699999980,"100"],[1699999990.5,"110"]]},{)" +
                             metric("500") + R"(,"values":[[1699999985,"7"]]})")
                    : vector("{" + metric("200") + R"(,"value":[1700000000,"110"]},{)" +
                             metric("500") + R"(,"value":[1700000000,"7"]})");
  } else {
    // Later rounds: 200 has one more sample at 1700000005; 500 answers no more.
    ok.body = range ? matrix("{" + metric("200") +
                             R"(,"values":[[1699999990.5,"110"],[1700000005,"125"]]},{)" +
                             metric("500") + R"(,"values":[[1699999985,"7"]]})")
                    : vector("{" + metric("200") + R"(,"value":[)" + time + R"(,"125"]})");
  }
  return ok;
}

struct QueryFixture {
  uv_loop_t loop;
  std::unique_ptr<CurlMulti> http;
  WindowStore store;
  int64_t now = kT0;
  int rounds = 0;
  int stop_after = 1;
  std::vector<size_t> sample_counts;  // store.sample_count() after each round
  std::unique_ptr<QuerySource> source;
  bool finished = false;

  QueryFixture() {
    uv_loop_init(&loop);
    http = std::make_unique<CurlMulti>(&loop);
  }
  ~QueryFixture() {
    if (!finished) finish();
  }

  static QuerySourceConfig config(const std::string& url) {
    QuerySourceConfig c;
    c.name = "prometheus";
    c.url = url;
    c.interval_seconds = 0.05;  // quick rounds; the lookback is still the minimum, 30s
    c.timeout_seconds = 5;
    c.headers = {{"X-Scope-OrgID", "team-a"}};
    return c;
  }

  bool run(QuerySourceConfig c, int count) {
    stop_after = count;
    source = std::make_unique<QuerySource>(
        &loop, *http, std::move(c), store, [this] { return now; },
        [this](int64_t) {
          sample_counts.push_back(store.sample_count());
          now += kStep;
          if (++rounds == stop_after) source->stop();
        },
        std::vector<std::string>{kSelector});
    source->start();
    return test::run_loop_until(&loop, [this] { return rounds >= stop_after; });
  }

  int finish() {
    finished = true;
    if (source) source->stop();
    http->close();
    return test::finish_loop(&loop);
  }
};

TEST_CASE("a query source puts the raw samples in the store with their own timestamps",
          "[query_source]") {
  CannedHttpServer server(prometheus);
  QueryFixture f;
  REQUIRE(f.run(QueryFixture::config(server.url("/")), 1));
  CHECK(samples(f.store, series_labels("200")) ==
        std::vector<std::pair<int64_t, double>>{{1699999980000, 100}, {1699999990500, 110}});
  CHECK(samples(f.store, series_labels("500")) ==
        std::vector<std::pair<int64_t, double>>{{1699999985000, 7}});
  CHECK(f.store.series_count() == 2);
  const SourceHealth& h = f.source->health();
  CHECK(h.kind == "query");
  CHECK(h.up);
  CHECK(h.last_error == "");
  CHECK(h.samples == 3);
  CHECK(h.attempts == 1);
  CHECK(h.last_success_ms == kT0);

  std::vector<std::string> asked;
  for (const CannedRequest& r : server.requests()) {
    CHECK(r.method == "GET");
    CHECK(r.header("x-scope-orgid") == "team-a");
    asked.push_back(test::query_param(r.target, "query") + " @ " +
                    test::query_param(r.target, "time"));
  }
  std::sort(asked.begin(), asked.end());
  CHECK(asked ==
        std::vector<std::string>{kSelector + " @ 1700000000", kSelector + "[30s] @ 1700000000"});
  CHECK(f.source->range_query(kSelector) == kSelector + "[30s]");
  CHECK(f.finish() == 0);
}

TEST_CASE("a second poll adds only the new samples and a vanished series goes stale once",
          "[query_source]") {
  CannedHttpServer server(prometheus);
  QueryFixture f;
  REQUIRE(f.run(QueryFixture::config(server.url("")), 3));
  const int64_t t1 = kT0 + kStep;
  CHECK(samples(f.store, series_labels("200")) ==
        std::vector<std::pair<int64_t, double>>{
            {1699999980000, 100}, {1699999990500, 110}, {1700000005000, 125}});
  std::optional<uint32_t> gone = find(f.store, series_labels("500"));
  REQUIRE(gone);
  REQUIRE(f.store.instant(*gone, t1 - 1));
  CHECK(f.store.instant(*gone, t1 - 1)->value == 7);
  CHECK(f.store.instant(*gone, t1) == std::nullopt);
  const SourceHealth& h = f.source->health();
  CHECK(h.samples == 4);
  CHECK(h.attempts == 3);
  CHECK(h.up);
  // Round 2 wrote one sample and one stale marker; round 3 wrote nothing.
  CHECK(f.sample_counts == std::vector<size_t>{3, 5, 5});
  CHECK(f.store.counters().out_of_order == 0);
  CHECK(f.store.counters().duplicate == 0);
  CHECK(f.finish() == 0);
}

TEST_CASE("a Prometheus error response marks the query source down with its message",
          "[query_source]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{400,
                          R"({"status":"error","errorType":"bad_data","error":"invalid )"
                          R"(parameter \"query\": 1:30: parse error: unexpected \"}\""})",
                          0, "application/json"};
  });
  QueryFixture f;
  REQUIRE(f.run(QueryFixture::config(server.url("")), 1));
  const SourceHealth& h = f.source->health();
  CHECK_FALSE(h.up);
  CHECK(h.last_error ==
        "bad_data: invalid parameter \"query\": 1:30: parse error: unexpected \"}\"");
  CHECK(h.failures == 1);
  CHECK(h.samples == 0);
  CHECK(f.rounds == 1);
  CHECK(f.store.series_count() == 0);
  CHECK(f.finish() == 0);
}

TEST_CASE("a query answer that is not the API's JSON fails the poll and says why",
          "[query_source]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{200, "<html>login</html>", 0, "text/html"};
  });
  QueryFixture f;
  REQUIRE(f.run(QueryFixture::config(server.url("")), 1));
  CHECK_FALSE(f.source->health().up);
  CHECK(f.source->health().last_error ==
        "not a Prometheus API response: the body is not a JSON object");
  CHECK(f.finish() == 0);
}

TEST_CASE("malformed result entries are skipped and series beyond max_series refused",
          "[query_source]") {
  CannedHttpServer server([](const CannedRequest& r) {
    bool range = test::query_param(r.target, "query").back() == ']';
    CannedResponse ok{200, "", 0, "application/json"};
    ok.body =
        range ? matrix("{" + metric("200") + R"(,"values":[[1699999990,"1"],[1699999995,"x"]]},)" +
                       "{" + metric("404") + R"(,"values":[[1699999990,"2"]]},)" + "{" +
                       metric("500") + R"(,"values":[[1699999990,"3"]]},)" +
                       R"({"metric":{"job":7},"values":[]})")
              : vector("");
    return ok;
  });
  QueryFixture f;
  QuerySourceConfig c = QueryFixture::config(server.url(""));
  c.max_series = 2;
  REQUIRE(f.run(c, 1));
  const SourceHealth& h = f.source->health();
  CHECK(h.up);
  CHECK(h.skipped_lines == 2);  // the pair with value "x", the entry with a numeric label
  CHECK(h.rejected_series == 1);
  CHECK(h.samples == 2);
  CHECK(samples(f.store, series_labels("200")) ==
        std::vector<std::pair<int64_t, double>>{{1699999990000, 1}});
  CHECK_FALSE(find(f.store, series_labels("500")));
  CHECK(f.finish() == 0);
}

}  // namespace
}  // namespace setpoint
