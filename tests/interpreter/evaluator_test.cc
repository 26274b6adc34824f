// The evaluator answers as a Prometheus instant query would: which series a selector sees,
// which labels and values each operator keeps, and what it refuses.
#include "interpreter/evaluator.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>

#include "runtime/policy_loader.h"
#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

constexpr int64_t kMinute = 60'000;

// A store from lines of `series t_seconds:value ...`; `stale` as a value is a staleness marker.
struct Data {
  WindowStore store;
  explicit Data(const std::string& text) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      std::istringstream words(line);
      std::string series;
      words >> series;
      uint32_t id = store.series(parse_series(series));
      std::string point;
      while (words >> point) {
        size_t colon = point.find(':');
        int64_t t = std::stoll(point.substr(0, colon)) * 1000;
        std::string v = point.substr(colon + 1);
        store.sample(id, t, v == "stale" ? stale_marker() : std::stod(v));
      }
    }
  }
  // metric{a="1",b="2"} without spaces or escapes.
  static Labels parse_series(const std::string& s) {
    Labels labels;
    size_t brace = s.find('{');
    labels.push_back({"__name__", s.substr(0, brace)});
    if (brace != std::string::npos) {
      std::string body = s.substr(brace + 1, s.size() - brace - 2);
      std::istringstream pairs(body);
      std::string pair;
      while (std::getline(pairs, pair, ',')) {
        size_t eq = pair.find('=');
        labels.push_back({pair.substr(0, eq), pair.substr(eq + 2, pair.size() - eq - 3)});
      }
    }
    normalize_labels(labels);
    return labels;
  }
};

// Evaluates `expr` at t and prints the result one sample per line, sorted: `{labels} value`.
std::string eval(const Data& data, const std::string& expr, int64_t t_ms) {
  Checked c = check_text("let e = " + expr + "\n");
  INFO(expr);
  for (const std::string& s : c.summary()) INFO(s);
  REQUIRE_FALSE(c.diagnostics.has_errors());
  NodeId root;
  Program p =
      compile_expression(c.modules, c.program, 0, c.modules[0].items[0].expr, &root, c.diagnostics);
  Evaluator ev(c.modules, p, data.store);
  ev.at(t_ms);
  const Value& v = ev.value(root);
  auto number = [](double x) {
    std::ostringstream o;
    o << x;
    return o.str();
  };
  if (v.type == ValueType::Scalar) return "scalar " + number(v.scalar);
  std::vector<std::string> lines;
  for (const VectorSample& s : v.vector)
    lines.push_back(labels_text(ev.labels(s.labels)) + " " + number(s.value));
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

}  // namespace

TEST_CASE("an instant selector looks back 5 minutes, the left edge excluded") {
  Data d("up{job=\"a\"} 0:1\n");
  CHECK(eval(d, "up", 0) == "up{job=\"a\"} 1\n");
  CHECK(eval(d, "up", 5 * kMinute - 1) == "up{job=\"a\"} 1\n");
  CHECK(eval(d, "up", 5 * kMinute) == "");
  CHECK(eval(d, "up", -1) == "");  // nothing from the future
}

TEST_CASE("a staleness marker ends a series at once") {
  Data d("up{job=\"a\"} 0:1 30:stale 90:2\n");
  CHECK(eval(d, "up", 29'000) == "up{job=\"a\"} 1\n");
  CHECK(eval(d, "up", 30'000) == "");
  CHECK(eval(d, "up", 89'000) == "");
  CHECK(eval(d, "up", 90'000) == "up{job=\"a\"} 2\n");
}

TEST_CASE("matchers select by equality, inequality and fully anchored regexes") {
  Data d(
      "http_requests_total{code=\"200\",job=\"api\"} 0:10\n"
      "http_requests_total{code=\"500\",job=\"api\"} 0:2\n"
      "http_requests_total{code=\"503\",job=\"web\"} 0:1\n");
  CHECK(eval(d, "http_requests_total{code=~\"5..\"}", 0) ==
        "http_requests_total{code=\"500\", job=\"api\"} 2\n"
        "http_requests_total{code=\"503\", job=\"web\"} 1\n");
  CHECK(eval(d, "http_requests_total{code=~\"5\"}", 0) == "");  // anchored: not a substring
  CHECK(eval(d, "http_requests_total{job!=\"api\"}", 0) ==
        "http_requests_total{code=\"503\", job=\"web\"} 1\n");
  CHECK(eval(d, "http_requests_total{job=\"api\", code!~\"2..\"}", 0) ==
        "http_requests_total{code=\"500\", job=\"api\"} 2\n");
  CHECK(eval(d, "{__name__=\"http_requests_total\", code=\"200\"}", 0) ==
        "http_requests_total{code=\"200\", job=\"api\"} 10\n");
}

TEST_CASE("a comparison filters and keeps the metric name: with bool it returns 0 or 1") {
  Data d("load{host=\"a\"} 0:0.5\nload{host=\"b\"} 0:2\n");
  CHECK(eval(d, "load > 1", 0) == "load{host=\"b\"} 2\n");
  CHECK(eval(d, "1 < load", 0) == "load{host=\"b\"} 2\n");  // the vector's value, either side
  CHECK(eval(d, "load > bool 1", 0) == "{host=\"a\"} 0\n{host=\"b\"} 1\n");
  CHECK(eval(d, "load * 2", 0) == "{host=\"a\"} 1\n{host=\"b\"} 4\n");
  CHECK(eval(d, "-load", 0) == "{host=\"a\"} -0.5\n{host=\"b\"} -2\n");
  CHECK(eval(d, "2 > bool 1", 0) == "scalar 1");
  CHECK(eval(d, "7 % 4 + 2 ^ 3", 0) == "scalar 11");
}

TEST_CASE("one-to-one matching joins on all labels but the name, or on/ignoring a list") {
  Data d(
      "errors{code=\"500\",job=\"api\"} 0:3\n"
      "requests{job=\"api\"} 0:30\n"
      "requests{job=\"web\"} 0:10\n");
  CHECK(eval(d, "errors / requests", 0) == "");  // code makes the label sets differ
  CHECK(eval(d, "errors / ignoring(code) requests", 0) == "{job=\"api\"} 0.1\n");
  CHECK(eval(d, "errors / on(job) requests", 0) == "{job=\"api\"} 0.1\n");
}

TEST_CASE("group_left keeps the many side's labels and copies included ones from the one side") {
  Data d(
      "errors{code=\"500\",job=\"api\"} 0:3\n"
      "errors{code=\"503\",job=\"api\"} 0:6\n"
      "requests{job=\"api\",team=\"core\"} 0:30\n");
  CHECK(eval(d, "errors / on(job) group_left(team) requests", 0) ==
        "{code=\"500\", job=\"api\", team=\"core\"} 0.1\n"
        "{code=\"503\", job=\"api\", team=\"core\"} 0.2\n");
  CHECK(eval(d, "requests / on(job) group_right errors", 0) ==
        "{code=\"500\", job=\"api\"} 10\n{code=\"503\", job=\"api\"} 5\n");
}

TEST_CASE("matching many to one without group_left is refused, as Prometheus refuses it") {
  Data d(
      "errors{code=\"500\",job=\"api\"} 0:3\n"
      "errors{code=\"503\",job=\"api\"} 0:6\n"
      "requests{job=\"api\"} 0:30\n");
  CHECK_THROWS_WITH(eval(d, "errors / on(job) requests", 0),
                    Catch::Contains("many-to-one matching must be explicit"));
  CHECK_THROWS_WITH(eval(d, "requests / on(job) errors", 0),
                    Catch::Contains("many-to-many matching not allowed"));
}

TEST_CASE("and, or and unless match label sets without the metric name") {
  Data d(
      "a{i=\"1\"} 0:1\na{i=\"2\"} 0:2\n"
      "b{i=\"2\"} 0:20\nb{i=\"3\"} 0:30\n");
  CHECK(eval(d, "a and b", 0) == "a{i=\"2\"} 2\n");
  CHECK(eval(d, "a unless b", 0) == "a{i=\"1\"} 1\n");
  CHECK(eval(d, "a or b", 0) == "a{i=\"1\"} 1\na{i=\"2\"} 2\nb{i=\"3\"} 30\n");
  CHECK(eval(d, "a and on() b", 0) == "a{i=\"1\"} 1\na{i=\"2\"} 2\n");
}

TEST_CASE("aggregations group by or without labels and drop the metric name") {
  Data d(
      "cpu{host=\"a\",job=\"api\"} 0:1\ncpu{host=\"b\",job=\"api\"} 0:3\n"
      "cpu{host=\"c\",job=\"web\"} 0:8\n");
  CHECK(eval(d, "sum by (job) (cpu)", 0) == "{job=\"api\"} 4\n{job=\"web\"} 8\n");
  CHECK(eval(d, "sum without (host) (cpu)", 0) == "{job=\"api\"} 4\n{job=\"web\"} 8\n");
  CHECK(eval(d, "avg(cpu)", 0) == "{} 4\n");
  CHECK(eval(d, "max by (job) (cpu)", 0) == "{job=\"api\"} 3\n{job=\"web\"} 8\n");
  CHECK(eval(d, "count(cpu)", 0) == "{} 3\n");
  CHECK(eval(d, "stddev(cpu)", 0) == "{} 2.94392\n");  // population stddev of 1, 3, 8
  CHECK(eval(d, "quantile(0.5, cpu)", 0) == "{} 3\n");
  CHECK(eval(d, "topk(1, cpu)", 0) == "cpu{host=\"c\", job=\"web\"} 8\n");
  CHECK(eval(d, "bottomk by (job) (1, cpu)", 0) ==
        "cpu{host=\"a\", job=\"api\"} 1\ncpu{host=\"c\", job=\"web\"} 8\n");
  CHECK(eval(d, "count_values(\"v\", cpu)", 0) == "{v=\"1\"} 1\n{v=\"3\"} 1\n{v=\"8\"} 1\n");
}

TEST_CASE("range functions see the samples after t - range, up to and including t") {
  // A counter that grows by 60 a minute, sampled every 15 s.
  Data d("c_total 0:0 15:15 30:30 45:45 60:60 75:75 90:90 105:105 120:120\n");
  CHECK(eval(d, "count_over_time(c_total[1m])", 2 * kMinute) == "{} 4\n");  // 75..120
  CHECK(eval(d, "rate(c_total[1m])", 2 * kMinute) == "{} 1\n");
  CHECK(eval(d, "last_over_time(c_total[1m])", 2 * kMinute) == "c_total 120\n");
  CHECK(eval(d, "max_over_time(c_total[1m] offset 1m)", 2 * kMinute) == "{} 60\n");
  CHECK(eval(d, "c_total offset 30s", 2 * kMinute) == "c_total 90\n");
}

TEST_CASE("a subquery evaluates its inner expression at multiples of its step") {
  Data d("g 0:1 60:5 120:2 180:7 240:3\n");
  // Steps at 60, 120, 180, 240 within (0, 240]; the instant values there are 5, 2, 7, 3.
  CHECK(eval(d, "max_over_time(g[4m:1m])", 4 * kMinute) == "{} 7\n");
  CHECK(eval(d, "count_over_time(g[4m:1m])", 4 * kMinute) == "{} 4\n");
  // (90 s, 240 s] holds the steps 120, 180 and 240: 2 * 2 is the least.
  CHECK(eval(d, "min_over_time((g * 2)[150s:1m])", 4 * kMinute) == "{} 4\n");
}

TEST_CASE("histogram_quantile interpolates inside the bucket that holds the rank") {
  Data d(
      "lat_bucket{le=\"0.1\"} 0:10\nlat_bucket{le=\"0.5\"} 0:20\nlat_bucket{le=\"+Inf\"} 0:30\n");
  CHECK(eval(d, "histogram_quantile(0.5, lat_bucket)", 0) == "{} 0.3\n");
  CHECK(eval(d, "histogram_quantile(0.9, lat_bucket)", 0) == "{} 0.5\n");  // in +Inf: its lower
  // rank 1.5 of 30 falls in the first bucket, (0, 0.1]: 0.1 * 1.5 / 10.
  CHECK(eval(d, "histogram_quantile(0.05, lat_bucket)", 0) == "{} 0.015\n");
}

TEST_CASE("absent returns 1 with the selector's equality labels when nothing matches") {
  Data d("up{job=\"a\"} 0:1\n");
  CHECK(eval(d, "absent(up)", 0) == "");
  CHECK(eval(d, "absent(up{job=\"b\", instance=~\"x.*\"})", 0) == "{job=\"b\"} 1\n");
  CHECK(eval(d, "absent_over_time(up{job=\"b\"}[5m])", 0) == "{job=\"b\"} 1\n");
}

TEST_CASE("instant functions drop the name: label_replace and label_join rewrite labels") {
  Data d("t_seconds{host=\"web-1\"} 0:-2.5\n");
  CHECK(eval(d, "abs(t_seconds)", 0) == "{host=\"web-1\"} 2.5\n");
  CHECK(eval(d, "clamp(t_seconds, -1, 1)", 0) == "{host=\"web-1\"} -1\n");
  CHECK(eval(d, "round(t_seconds)", 0) == "{host=\"web-1\"} -2\n");  // Go rounds half up
  CHECK(eval(d, "label_replace(t_seconds, \"n\", \"$1\", \"host\", \"web-(.*)\")", 0) ==
        "t_seconds{host=\"web-1\", n=\"1\"} -2.5\n");
  CHECK(eval(d, "label_join(t_seconds, \"k\", \":\", \"host\", \"host\")", 0) ==
        "t_seconds{host=\"web-1\", k=\"web-1:web-1\"} -2.5\n");
  CHECK(eval(d, "scalar(t_seconds) * 2", 0) == "scalar -5");
  CHECK(eval(d, "vector(3)", 0) == "{} 3\n");
  CHECK(eval(d, "time()", 90'000) == "scalar 90");
  CHECK(eval(d, "timestamp(t_seconds)", 90'000) == "{host=\"web-1\"} 0\n");
  CHECK(eval(d, "hour(vector(5400))", 0) == "{} 1\n");
  CHECK(eval(d, "day_of_week(vector(0))", 0) == "{} 4\n");  // 1970-01-01 was a Thursday
}

TEST_CASE(
    "an evaluator stepping through time slides its windows, and answers as a fresh one does") {
  // Two series at irregular intervals, one appearing late, one with a gap and a stale marker.
  Data d(
      "lat{i=\"a\"} 1:0.1 14:0.2 29:0.7 46:1.3 59:0.05 75:2.5 88:0.3 106:stale 140:0.9 151:0.4\n"
      "lat{i=\"b\"} 70:3.3 85:1.1 100:0.01 115:7 130:0.6 145:0.25 160:1e300 175:2\n");
  std::vector<std::string> exprs = {"sum_over_time(lat[1m])",
                                    "avg_over_time(lat[1m])",
                                    "count_over_time(lat[45s])",
                                    "min_over_time(lat[1m])",
                                    "max_over_time(lat[50s])",
                                    "quantile_over_time(0.3, lat[1m])",
                                    "max_over_time(avg_over_time(lat[30s])[1m:15s])"};
  for (const std::string& expr : exprs) {
    Checked c = check_text("let e = " + expr + "\n");
    REQUIRE_FALSE(c.diagnostics.has_errors());
    NodeId root;
    Program p = compile_expression(c.modules, c.program, 0, c.modules[0].items[0].expr, &root,
                                   c.diagnostics);
    // Every digit of a double: the sliding sum is exact, not close.
    auto digits = [&](Evaluator& ev) {
      std::string out;
      for (const VectorSample& s : ev.value(root).vector) {
        char number[32];
        std::snprintf(number, sizeof number, "%.17g", s.value);
        out += labels_text(ev.labels(s.labels)) + " " + number + "\n";
      }
      return out;
    };
    Evaluator stepping(c.modules, p, d.store);
    for (int64_t t = 0; t <= 240'000; t += 5'000) {
      INFO(expr << " at " << t);
      stepping.at(t);
      Evaluator once(c.modules, p, d.store);
      once.at(t);
      CHECK(digits(stepping) == digits(once));
    }
  }
  // One window by hand: at 100 s the window (40 s, 100 s] of `a` holds 1.3 0.05 2.5 0.3 and of
  // `b` 3.3 1.1 0.01.
  CHECK(eval(d, "sum_over_time(lat[1m])", 100'000) == "{i=\"a\"} 4.15\n{i=\"b\"} 4.41\n");
  CHECK(eval(d, "min_over_time(lat[1m])", 100'000) == "{i=\"a\"} 0.05\n{i=\"b\"} 0.01\n");
  CHECK(eval(d, "max_over_time(lat[1m])", 100'000) == "{i=\"a\"} 2.5\n{i=\"b\"} 3.3\n");
  // Sorted, a: 0.05 0.3 1.3 2.5, rank 0.5 * 3 = 1.5 -> (0.3 + 1.3) / 2; b: 0.01 1.1 3.3.
  CHECK(eval(d, "quantile_over_time(0.5, lat[1m])", 100'000) == "{i=\"a\"} 0.8\n{i=\"b\"} 1.1\n");
}
