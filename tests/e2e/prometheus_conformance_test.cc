// A differential test: every expression in tests/fixtures/conformance/ is evaluated by a real
// Prometheus (Debian's 2.42) and by `setpoint eval` over the same recording, and must agree.
#include <time.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "support/fixtures.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/prometheus_server.h"
#include "support/query_result.h"

using namespace setpoint::test;

namespace {

// ---------------------------------------------------------------------------------------------
// The recording: ~2 h of samples at a 15 s step. Samples sit at kBase + 15k + 7 s and every query
// time at kBase + whole minutes + 30 s, with ranges, offsets and subquery steps in whole minutes,
// so no sample (and no subquery step) ever lands on a window edge: Prometheus 2.42 includes a
// window's left edge, 3.x and setpoint do not, and nothing here may depend on that.

constexpr int64_t kBase = 1704067200;  // 2024-01-01T00:00:00Z, aligned to 2 h like TSDB blocks
constexpr int kSteps = 480;
constexpr int64_t kLookback = 300;  // Prometheus's default lookback delta, 5m

int64_t sample_time(int k) { return kBase + 15 * k + 7; }

struct Series {
  std::string family, type;  // OpenMetrics family name and type
  std::string name;          // sample name: the family's, or with _total, _bucket, ...
  Labels labels;             // without __name__
  std::vector<std::pair<int64_t, double>> points;
};

// Deterministic noise (splitmix64): the same recording on every machine and every run.
uint32_t noise(uint32_t stream, uint32_t k) {
  uint64_t x = ((uint64_t(stream) << 32) | k) + 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return uint32_t(x ^ (x >> 31));
}

// A counter from step `first` to `last` (exclusive) that drops to a small value at each reset.
// Start values (histogram buckets' too) are 0 or far above one step's increase: 2.42 and 3.x
// limit rate()'s extrapolation towards the counter's zero point differently (prometheus#13725)
// when a series starts inside the window with a first value close to one step's increase.
Series counter(uint32_t id, Labels labels, int first, int last, double start, int spread,
               std::set<int> resets = {}) {
  Series s{"http_requests", "counter", "http_requests_total", std::move(labels), {}};
  double v = start;
  for (int k = first; k < last; ++k) {
    if (k > first) v = resets.count(k) ? noise(id, k) % 4 : v + noise(id, k) % spread;
    s.points.emplace_back(sample_time(k), v);
  }
  return s;
}

Series gauge(std::string name, Labels labels, int first, int last, std::pair<int, int> gap,
             double (*value)(uint32_t, int), uint32_t id) {
  Series s{name, "gauge", name, std::move(labels), {}};
  for (int k = first; k < last; ++k) {
    if (k >= gap.first && k < gap.second) continue;
    s.points.emplace_back(sample_time(k), value(id, k));
  }
  return s;
}

// Cumulative _bucket counters, _count and _sum; a reset (a restart) at step `reset`.
void histogram(std::vector<Series>& out, uint32_t id, const std::string& instance, int reset) {
  const char* bounds[] = {"0.1", "0.25", "0.5", "1.0", "2.5", "+Inf"};
  const double mids[] = {0.0625, 0.125, 0.375, 0.75, 2, 4};  // exact in binary
  const int spread[] = {2, 4, 6, 5, 3, 2};
  std::string family = "http_request_duration_seconds";
  Labels base{{"job", "api"}, {"instance", instance}};
  size_t first = out.size();
  for (const char* le : bounds) {
    Labels l = base;
    l["le"] = le;
    out.push_back({family, "histogram", family + "_bucket", l, {}});
  }
  out.push_back({family, "histogram", family + "_count", base, {}});
  out.push_back({family, "histogram", family + "_sum", base, {}});
  double counts[6] = {}, sum = 0;
  for (int k = 0; k < kSteps; ++k) {
    if (k == reset) {
      std::fill(std::begin(counts), std::end(counts), 0);
      sum = 0;
    }
    double cumulative = 0;
    for (int j = 0; j < 6; ++j) {
      double n = k == 0 ? 0 : noise(id * 8 + j, k) % spread[j];  // from 0: see counter()
      counts[j] += n;
      sum += n * mids[j];
      cumulative += counts[j];
      out[first + j].points.emplace_back(sample_time(k), cumulative);
    }
    out[first + 6].points.emplace_back(sample_time(k), cumulative);
    out[first + 7].points.emplace_back(sample_time(k), sum);
  }
}

double temperature(uint32_t i, int k) { return 40 + 10 * i + (noise(100 + i, k) % 40) * 0.25; }
// Negative and fractional; the i/1024 shift keeps the instances' values apart (no topk ties).
double skew(uint32_t i, int k) {
  return (static_cast<int>(noise(200 + i, k) % 1000) - 500) / 137.0 + i / 1024.0;
}
double free_bytes(uint32_t i, int k) {
  return 5e10 + 1e10 * i - 2e6 * k + (noise(300 + i, k) % 1000) * 1000.0;
}
double one(uint32_t, int) { return 1; }

std::vector<Series> make_recording() {
  std::vector<Series> s;
  auto api = [](const char* instance, const char* code) {
    return Labels{{"job", "api"}, {"instance", instance}, {"code", code}};
  };
  s.push_back(counter(1, api("a:9090", "200"), 0, kSteps, 0, 9));
  s.push_back(counter(2, api("a:9090", "500"), 0, 400, 1000, 3));                 // ends at 1h40m
  s.push_back(counter(3, api("b:9090", "200"), 0, kSteps, 5000, 7, {100, 300}));  // two resets
  s.push_back(counter(4, api("b:9090", "500"), 121, kSteps, 2000, 3));  // starts at 30m22s
  s.push_back(
      counter(5, {{"job", "batch"}, {"instance", "c:9090"}, {"code", "200"}}, 0, kSteps, 0, 17));
  const char* nodes[] = {"a:9100", "b:9100", "c:9100"};
  const char* teams[] = {"red", "blue", "red"};
  for (uint32_t i = 0; i < 3; ++i) {
    Labels l{{"job", "node"}, {"instance", nodes[i]}};
    // b:9100 is silent for 10 minutes (50m07s..1h00m07s); c:9100 lives from 15m to 1h45m.
    s.push_back(gauge("node_temperature_celsius", l, i == 2 ? 60 : 0, i == 2 ? 420 : kSteps,
                      i == 1 ? std::pair{200, 240} : std::pair{0, 0}, temperature, i));
    s.push_back(gauge("node_clock_skew_seconds", l, 0, kSteps, {0, 0}, skew, i));
    s.push_back(gauge("node_info",
                      {{"instance", nodes[i]}, {"team", teams[i]}, {"rack", i == 1 ? "r2" : "r1"}},
                      0, kSteps, {0, 0}, one, i));
  }
  for (uint32_t i = 0; i < 2; ++i) {
    s.push_back(gauge("node_filesystem_free_bytes", {{"instance", nodes[i]}, {"mountpoint", "/"}},
                      0, kSteps, {0, 0}, free_bytes, i));
  }
  s.push_back(gauge("job_info", {{"job", "api"}, {"owner", "web"}}, 0, kSteps, {0, 0}, one, 0));
  s.push_back(gauge("job_info", {{"job", "batch"}, {"owner", "data"}}, 0, kSteps, {0, 0}, one, 0));
  histogram(s, 1, "a:9090", -1);
  histogram(s, 2, "b:9090", 250);
  return s;
}

// OpenMetrics text: families one after another, each metric's points in time order, a
// histogram's buckets, _count and _sum of one timestamp together, `# EOF` last.
std::string openmetrics(const std::vector<Series>& recording) {
  std::vector<std::string> families;
  for (const Series& s : recording) {
    if (std::find(families.begin(), families.end(), s.family) == families.end()) {
      families.push_back(s.family);
    }
  }
  std::ostringstream out;
  for (const std::string& family : families) {
    std::vector<std::pair<Labels, std::vector<const Series*>>> metrics;  // by labels but le
    for (const Series& s : recording) {
      if (s.family != family) continue;
      Labels key = s.labels;
      key.erase("le");
      auto it =
          std::find_if(metrics.begin(), metrics.end(), [&](auto& m) { return m.first == key; });
      if (it == metrics.end()) it = metrics.insert(metrics.end(), {key, {}});
      it->second.push_back(&s);
    }
    out << "# TYPE " << family << " " << metrics[0].second[0]->type << "\n";
    for (const auto& [key, parts] : metrics) {
      for (size_t p = 0; p < parts[0]->points.size(); ++p) {
        for (const Series* s : parts) {
          out << s->name << label_text(s->labels) << " " << number_text(s->points[p].second) << " "
              << s->points[p].first << "\n";
        }
      }
    }
  }
  out << "# EOF\n";
  return out.str();
}

// ---------------------------------------------------------------------------------------------
// Queries, and the two ways of answering them.

struct Query {
  std::string expr;
  int64_t start = 0, end = 0, step = 0;  // step 0: an instant query at start
};

// Whole minutes + 30 s (see the recording): the start of the data (rate windows cut short),
// just after http_requests_total{instance="b:9090",code="500"} starts and 5 minutes later,
// inside the gap of node_temperature_celsius{instance="b:9100"} and just after it, while the
// ended {instance="a:9090",code="500"} is still within the 5m lookback and just after, and past
// the end of the data.
const int64_t kTimes[] = {90, 1830, 2130, 3330, 3690, 6270, 6330, 7350};
const Query kRange{"", kBase + 630, kBase + 7230, 60};

std::string time_text(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  tm utc{};
  gmtime_r(&tt, &utc);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::to_string(t) + " (" + buf + ")";
}

std::string describe(const Query& q) {
  return q.step == 0 ? "at " + time_text(q.start)
                     : "from " + time_text(q.start) + " to " + time_text(q.end) + " every " +
                           std::to_string(q.step) + " s";
}

std::vector<std::string> read_expressions(const std::string& name) {
  std::istringstream in(read_text(source_path("tests/fixtures/conformance/" + name)));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    size_t b = line.find_first_not_of(" \t"), e = line.find_last_not_of(" \t\r");
    if (b != std::string::npos && line[b] != '#') out.push_back(line.substr(b, e - b + 1));
  }
  return out;
}

QueryResult ask_prometheus(HttpClient& http, const std::string& url, const Query& q) {
  std::string target =
      url + (q.step ? "/api/v1/query_range" : "/api/v1/query") + "?query=" + http.escape(q.expr);
  target += q.step ? "&start=" + std::to_string(q.start) + "&end=" + std::to_string(q.end) +
                         "&step=" + std::to_string(q.step)
                   : "&time=" + std::to_string(q.start);
  HttpResponse r = http.get(target);
  if (r.status == 0) throw std::runtime_error("prometheus did not answer: " + r.error);
  return parse_prometheus(r.body);
}

// Bounded: coreutils' timeout stops a setpoint that hangs. `--` keeps `-x` an expression.
ProcessResult ask_setpoint(const std::string& om_file, const Query& q) {
  std::vector<std::string> argv{find_program("timeout"), "-k",   "5",         "30",
                                SETPOINT_BINARY,         "eval", "--metrics", om_file};
  if (q.step) {
    argv.insert(argv.end(), {"--start", std::to_string(q.start), "--end", std::to_string(q.end),
                             "--step", std::to_string(q.step) + "s"});
  } else {
    argv.insert(argv.end(), {"--at", std::to_string(q.start)});
  }
  argv.insert(argv.end(), {"--format", "json", "--", q.expr});
  return run_process(argv);
}

// The recording as OpenMetrics and as TSDB blocks, and a Prometheus serving them; all removed
// (the server stopped first) when the object goes, whatever the test did.
struct Environment {
  TempDir dir;
  std::vector<Series> recording = make_recording();
  std::string om_file = dir.file("recording.om");
  std::unique_ptr<PrometheusServer> server;
  Environment() {
    write_text(om_file, openmetrics(recording));
    create_blocks_from_openmetrics(om_file, dir.file("data"));
    server = std::make_unique<PrometheusServer>(dir.path(), dir.file("data"));
  }
};

// The latest sample at or before t and within the lookback delta, as an instant selector sees it.
const std::pair<int64_t, double>* latest(const Series& s, int64_t t) {
  const std::pair<int64_t, double>* found = nullptr;
  for (const auto& p : s.points) {
    if (p.first <= t && p.first > t - kLookback) found = &p;
  }
  return found;
}

using Problems = std::vector<std::string>;

QueryResult prometheus_vector(const std::string& result) {
  return parse_prometheus(R"({"status":"success","data":{"resultType":"vector","result":)" +
                          result + "}}");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The comparison itself, on hand-made results.

TEST_CASE("conformance: equal results agree, in any order, within 1e-9 relative", "[conformance]") {
  QueryResult want = prometheus_vector(
      R"([{"metric":{"__name__":"up","job":"a"},"value":[1704067200,"1.5"]},
          {"metric":{"job":"b"},"value":[1704067200,"1000"]}])");
  QueryResult got = parse_setpoint(R"([{"labels":{"job":"b"},"value":1000.0000001},
      {"labels":{"job":"a","__name__":"up"},"value":1.5}])",
                                   false);
  CHECK(compare(want, got).empty());
  got.series[0].points[0].v = 1000.000002;  // 2e-9 relative
  CHECK(compare(want, got) == Problems{"the values differ for {job=\"b\"}"});
  CHECK(side_by_side(want, &got) ==
        "        prometheus  setpoint\n"
        "    {__name__=\"up\",job=\"a\"}\n"
        "        1.5         1.5\n"
        "    {job=\"b\"}\n"
        "        1000        1000.000002\n");
}

TEST_CASE("conformance: a missing series and an extra one are both reported, __name__ counts",
          "[conformance]") {
  QueryResult want = prometheus_vector(R"([{"metric":{"job":"a"},"value":[0,"1"]},
      {"metric":{"__name__":"x","job":"b"},"value":[0,"2"]}])");
  QueryResult got = parse_setpoint(R"([{"labels":{"job":"a"},"value":1},
      {"labels":{"job":"b"},"value":2}])",
                                   false);
  CHECK(compare(want, got) == Problems{"missing from setpoint: {__name__=\"x\",job=\"b\"}",
                                       "extra in setpoint: {job=\"b\"}"});
  CHECK(compare(want, parse_setpoint("[]", false)).size() == 2);
  got.series.push_back(got.series[0]);
  CHECK(compare(want, got).front() == "setpoint returned {job=\"a\"} twice");
}

TEST_CASE("conformance: NaN equals NaN, an infinity only itself", "[conformance]") {
  QueryResult want = prometheus_vector(R"([{"metric":{"i":"1"},"value":[0,"NaN"]},
      {"metric":{"i":"2"},"value":[0,"+Inf"]}, {"metric":{"i":"3"},"value":[0,"-Inf"]}])");
  QueryResult got = parse_setpoint(R"([{"labels":{"i":"1"},"value":"NaN"},
      {"labels":{"i":"2"},"value":"+Inf"}, {"labels":{"i":"3"},"value":"-Inf"}])",
                                   false);
  CHECK(compare(want, got).empty());
  got.series[0].points[0].v = 0;
  got.series[1].points[0].v = 1e308;
  got.series[2].points[0].v = INFINITY;
  CHECK(compare(want, got) == Problems{"the values differ for {i=\"1\"}",
                                       "the values differ for {i=\"2\"}",
                                       "the values differ for {i=\"3\"}"});
  CHECK(same_value(0, 1e-13));  // the absolute floor near 0
  CHECK_FALSE(same_value(1e-6, 1.1e-6));
}

TEST_CASE("conformance: result kinds are told apart, range points compared, bad JSON refused",
          "[conformance]") {
  QueryResult scalar = parse_prometheus(
      R"({"status":"success","data":{"resultType":"scalar","result":[1704067200,"3"]}})");
  CHECK(compare(scalar, parse_setpoint(R"({"scalar":3})", false)).empty());
  CHECK(compare(scalar, parse_setpoint(R"({"scalar":"NaN"})", false)) ==
        Problems{"the scalars differ"});
  CHECK(compare(scalar, parse_setpoint("[]", false)) ==
        Problems{"prometheus returned a scalar, setpoint an instant vector"});

  QueryResult range = parse_prometheus(
      R"({"status":"success","data":{"resultType":"matrix","result":[
          {"metric":{"job":"a"},"values":[[60,"1"],[120,"2"]]}]}})");
  auto got = [](const char* values) {
    return parse_setpoint(std::string(R"([{"labels":{"job":"a"},"values":)") + values + "}]", true);
  };
  CHECK(compare(range, got("[[60,1],[120,2]]")).empty());
  CHECK(compare(range, got("[[60,1]]")) ==
        Problems{"{job=\"a\"}: the timestamps differ from point 1 (prometheus has 2, setpoint 1)"});
  QueryResult off = got("[[60,1],[120,2.5]]");
  CHECK(compare(range, off) == Problems{"{job=\"a\"}: the values differ at 120"});
  CHECK(side_by_side(range, &off) ==
        "        prometheus      setpoint\n"
        "    {job=\"a\"} @120\n"
        "        2               2.5\n"
        "    {job=\"a\"}\n"
        "        1 point agrees\n");
  CHECK(compare(range, parse_setpoint("[]", true)) ==
        Problems{"missing from setpoint: {job=\"a\"}"});
  CHECK_THROWS_WITH(parse_prometheus(R"({"status":"error","error":"parse error"})"),
                    Catch::Contains("parse error"));
  CHECK_THROWS(parse_setpoint("error: no such command", false));
  CHECK_THROWS(parse_setpoint(R"([{"labels":{"a":1},"value":2}])", false));
  CHECK_THROWS(parse_setpoint(R"([{"labels":{}}])", false));
  CHECK_THROWS(parse_setpoint(R"([{"labels":{},"value":"fast"}])", false));
  CHECK_THROWS(parse_setpoint(R"([{"labels":{},"values":[[60]]}])", true));
}

// ---------------------------------------------------------------------------------------------
// The harness: Prometheus must see the recording as the generator wrote it, and accept every
// fixture expression; otherwise a disagreement would say nothing about setpoint.

TEST_CASE("Prometheus serves the generated recording as written, staleness gap and all",
          "[conformance]") {
  Environment env;
  HttpClient http;
  const std::string url = env.server->url();
  for (const Series& s : env.recording) {
    std::string selector = s.name + label_text(s.labels);
    Labels labels = s.labels;
    labels["__name__"] = s.name;
    for (int64_t dt : kTimes) {
      int64_t t = kBase + dt;
      INFO(selector << " " << describe({selector, t}));
      QueryResult got = ask_prometheus(http, url, {selector, t});
      const auto* sample = latest(s, t);
      REQUIRE(got.series.size() == (sample ? 1u : 0u));
      if (sample) {
        CHECK(got.series[0].labels == labels);
        CHECK(got.series[0].points[0].v == sample->second);
      }
      size_t in_window = 0;
      for (const auto& p : s.points) in_window += p.first > t - 600 && p.first <= t;
      got = ask_prometheus(http, url, {"count_over_time(" + selector + "[10m])", t});
      REQUIRE(got.series.size() == (in_window ? 1u : 0u));
      if (in_window) CHECK(got.series[0].points[0].v == in_window);
    }
  }
  auto find = [&](const std::string& name, const std::string& instance) {
    return *std::find_if(env.recording.begin(), env.recording.end(), [&](const Series& s) {
      return s.name == name && s.labels.at("instance") == instance;
    });
  };
  // No sample on a window's left edge, where 2.42 and 3.x disagree: samples are 7 s past a
  // multiple of 15 s, query times 30 s past a whole minute, windows whole minutes.
  for (const Series& s : env.recording) {
    for (const auto& p : s.points) REQUIRE((p.first - kBase) % 15 == 7);
  }
  for (int64_t dt : kTimes) REQUIRE(dt % 60 == 30);
  REQUIRE(kRange.start % 60 == 30);
  // The recording has what the evaluation times are chosen for.
  const Series& gap = find("node_temperature_celsius", "b:9100");
  CHECK(latest(gap, kBase + 3330) == nullptr);
  CHECK(latest(gap, kBase + 3690) != nullptr);

  {  // a range query steps over the gap exactly where the lookback ends
    Query q{"node_temperature_celsius{instance=\"b:9100\"}", kRange.start, kRange.end, 60};
    QueryResult got = ask_prometheus(http, url, q);
    REQUIRE(got.series.size() == 1);
    std::vector<Point> want;
    for (int64_t t = q.start; t <= q.end; t += q.step) {
      if (const auto* p = latest(gap, t)) want.push_back({double(t), p->second});
    }
    CHECK(want.size() < size_t((q.end - q.start) / q.step));  // the gap is in the range
    REQUIRE(got.series[0].points.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      CHECK(got.series[0].points[i].t == want[i].t);
      CHECK(got.series[0].points[i].v == want[i].v);
    }
  }

  {  // every fixture expression is valid PromQL for 2.42, and most give data
    size_t asked = 0, with_data = 0;
    for (const std::string& expr : read_expressions("expressions.txt")) {
      for (int64_t dt : kTimes) {
        INFO(expr << " " << describe({expr, kBase + dt}));
        QueryResult r = ask_prometheus(http, url, {expr, kBase + dt});
        ++asked;
        with_data += r.kind == Kind::Scalar || !r.series.empty();
      }
    }
    for (const std::string& expr : read_expressions("range_expressions.txt")) {
      INFO(expr);
      Query q = kRange;
      q.expr = expr;
      CHECK_FALSE(ask_prometheus(http, url, q).series.empty());
    }
    INFO(with_data << " of " << asked << " instant queries give data");
    CHECK(asked >= 60 * std::size(kTimes));  // the fixture has not lost its expressions
    CHECK(with_data * 10 >= asked * 8);
  }
}

// ---------------------------------------------------------------------------------------------
// The differential test itself.

TEST_CASE("setpoint eval gives Prometheus's answer for every fixture expression and time",
          "[conformance]") {
  Environment env;
  HttpClient http;
  std::vector<Query> queries;
  for (const std::string& expr : read_expressions("expressions.txt")) {
    for (int64_t dt : kTimes) queries.push_back({expr, kBase + dt});
  }
  for (const std::string& expr : read_expressions("range_expressions.txt")) {
    queries.push_back({expr, kRange.start, kRange.end, kRange.step});
  }
  // A hang guard, not a speed check: a setpoint that takes seconds per query must not keep the
  // suite for hours.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  std::vector<std::string> reports;
  size_t compared = 0;
  for (const Query& q : queries) {
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL_CHECK("out of time after " << compared << " of " << queries.size() << " queries");
      break;
    }
    QueryResult want = ask_prometheus(http, env.server->url(), q);
    ProcessResult run = ask_setpoint(env.om_file, q);
    ++compared;
    Problems problems;
    std::optional<QueryResult> got;
    if (run.exit_code != 0) {
      problems.push_back("setpoint exited " + std::to_string(run.exit_code) + ": " +
                         run.err.substr(0, 400));
    } else {
      try {
        got = parse_setpoint(run.out, q.step != 0);
        problems = compare(want, *got);
      } catch (const std::exception& e) {
        problems.push_back(std::string("setpoint printed no result: ") + e.what() + "\n" +
                           run.out.substr(0, 400));
      }
    }
    if (problems.empty()) continue;
    std::string report = q.expr + "\n  " + describe(q) + "\n";
    for (const std::string& p : problems) report += "  - " + p + "\n";
    reports.push_back(report + side_by_side(want, got ? &*got : nullptr));
  }
  // The first 20 in full, a line each after that: a broken setpoint must not bury the log.
  for (size_t i = 0; i < reports.size() && i < 20; ++i) FAIL_CHECK(reports[i]);
  std::string rest;
  for (size_t i = 20; i < reports.size(); ++i) {
    rest += reports[i].substr(0, reports[i].find("\n  - ")) + "\n";
  }
  if (!rest.empty()) FAIL_CHECK("and " << reports.size() - 20 << " more:\n" << rest);
  INFO(reports.size() << " of " << compared << " comparisons disagree");
  CHECK(reports.empty());
}
