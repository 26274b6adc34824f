// Readers for recorded metrics: exact series, timestamps and values for every format, the
// exact error for every kind of malformed line, format detection, and robustness on garbage.
#include "runtime/metrics_reader.h"

#include <catch2/catch.hpp>
#include <charconv>
#include <cmath>
#include <functional>
#include <random>

#include "support/fixtures.h"

using namespace setpoint;

namespace {

// Keeps everything a reader passes on, and can reject series.
struct RecordingSink : SampleSink {
  struct Point {
    uint32_t series;
    int64_t t_ms;
    double value;
  };
  std::vector<Labels> series_labels;
  std::vector<Point> points;
  size_t series_calls = 0;
  std::function<bool(const Labels&)> reject;

  uint32_t series(const Labels& labels) override {
    ++series_calls;
    if (reject && reject(labels)) return kRejectedSeries;
    series_labels.push_back(labels);
    return static_cast<uint32_t>(series_labels.size() - 1);
  }
  void sample(uint32_t series, int64_t t_ms, double value) override {
    points.push_back({series, t_ms, value});
  }

  // "series t value" per sample, in order; values in shortest round-trip form.
  std::vector<std::string> dump() const {
    std::vector<std::string> out;
    for (const Point& p : points) {
      std::string v;
      if (std::isnan(p.value)) {
        v = "NaN";
      } else if (std::isinf(p.value)) {
        v = p.value > 0 ? "+Inf" : "-Inf";
      } else {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, p.value);
        v.assign(buf, r.ptr);
      }
      out.push_back(labels_text(series_labels.at(p.series)) + " " + std::to_string(p.t_ms) + " " +
                    v);
    }
    return out;
  }
};

struct Read {
  ReadReport report;
  RecordingSink sink;
};

Read read(std::string_view text, MetricsFormat format, std::string_view name = "m") {
  Read r;
  r.report = read_metrics(text, format, name, r.sink);
  return r;
}

using Strings = std::vector<std::string>;

}  // namespace

TEST_CASE("Prometheus text: escaped label values, NaN and infinities are decoded exactly",
          "[metrics_reader]") {
  std::string text = test::read_text(test::source_path("tests/fixtures/metrics/scrape.prom"));
  Read r = read(text, MetricsFormat::PrometheusText, "scrape.prom");
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() ==
        Strings{
            R"(http_requests_total{code="200", handler="/api"} 1700000000000 1027)",
            R"(http_requests_total{code="500", handler="/api"} 1700000000000 3)",
            R"(queue_depth{note="say \"hi\"\nbye", path="C:\\jobs"} 1700000000000 NaN)",
            R"(temperature_celsius 1700000000000 +Inf)",
            R"(temperature_celsius 1700000015000 -Inf)",
            R"(http_requests_total{code="200", handler="/api"} 1700000015000 1090)",
            R"(http_requests_total{code="500", handler="/api"} 1700000015000 3)",
        });
  // The decoded value, not its escaped spelling.
  CHECK(label_value(r.sink.series_labels[2], "note") == "say \"hi\"\nbye");
  CHECK(label_value(r.sink.series_labels[2], "path") == "C:\\jobs");
  CHECK(r.sink.series_labels.size() == 4);
  CHECK(r.report.lines == 12);
  CHECK(r.report.samples == 7);
  CHECK(r.report.skipped == 0);
}

TEST_CASE("Prometheus text: value spellings that Prometheus writes are all accepted",
          "[metrics_reader]") {
  Read r = read("a 1e3 1\na -0.5 2\na +2 3\na nan 4\na inf 5\na .5 6\na -7 -1000\n",
                MetricsFormat::PrometheusText);
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() ==
        Strings{"a 1 1000", "a 2 -0.5", "a 3 2", "a 4 NaN", "a 5 +Inf", "a 6 0.5", "a -1000 -7"});
}

TEST_CASE("Prometheus text: comments, blank lines, leading blanks and CRLF carry no samples",
          "[metrics_reader]") {
  Read r = read("# HELP a help\r\n\r\n   \t\r\n# TYPE a gauge\r\n  a{x=\"1\"}\t2\t3000\r\n",
                MetricsFormat::PrometheusText);
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() == Strings{R"(a{x="1"} 3000 2)"});
  CHECK(r.report.lines == 5);
}

TEST_CASE("Prometheus text: every malformed line is reported with its line number and skipped",
          "[metrics_reader]") {
  std::string text =
      "ok 1 1000\n"                   // 1
      "ok 1\n"                        // 2
      "ok\n"                          // 3
      "ok abc 1000\n"                 // 4
      "ok 1 10x0\n"                   // 5
      "ok 1 1000.5\n"                 // 6
      "ok 1 1000 extra\n"             // 7
      "9lives 1 1000\n"               // 8
      "ok{a=\"1\" 1 1000\n"           // 9
      "ok{a=\"x\\t\"} 1 1000\n"       // 10
      "ok{a=\"1\",a=\"2\"} 1 1000\n"  // 11
      "ok{a=\"1\"} 1 1000\n"          // 12: fine
      "{a=\"1\"} 1 1000\n"            // 13
      "ok{a=1} 1 1000\n"              // 14
      "ok{a} 1 1000\n"                // 15
      "ok{,} 1 1000\n"                // 16
      "ok@x 1 1000\n"                 // 17
      "ok{a=\"\xff\"} 1 1000\n"       // 18
      "ok 1 99999999999999999999\n"   // 19
      "ok{a=\"1\n"                    // 20
      "ok +-1 1000\n";                // 21
  Read r = read(text, MetricsFormat::PrometheusText, "bad.prom");
  CHECK(r.report.errors ==
        Strings{
            "bad.prom:2: sample has no timestamp: a recording needs one (milliseconds since the "
            "epoch)",
            "bad.prom:3: sample has no value",
            "bad.prom:4: invalid value \"abc\"",
            "bad.prom:5: invalid timestamp \"10x0\": expected integer milliseconds since the epoch",
            "bad.prom:6: invalid timestamp \"1000.5\": expected integer milliseconds since the "
            "epoch",
            "bad.prom:7: unexpected text after the timestamp: \"extra\"",
            "bad.prom:8: expected a metric name, found \"9lives\"",
            "bad.prom:9: expected ',' or '}' after the value of label \"a\"",
            "bad.prom:10: invalid escape \\t in the value of label \"a\": only \\\\, \\\" and \\n "
            "are allowed",
            "bad.prom:11: duplicate label \"a\"",
            "bad.prom:13: sample has no metric name",
            "bad.prom:14: expected a quoted value for label \"a\"",
            "bad.prom:15: expected '=' after label \"a\"",
            "bad.prom:16: expected a label name, found \",}\"",
            "bad.prom:17: unexpected \"@\" after the metric name \"ok\"",
            "bad.prom:18: the value of label \"a\" is not valid UTF-8",
            "bad.prom:19: invalid timestamp \"99999999999999999999\": expected integer "
            "milliseconds since the epoch",
            "bad.prom:20: unterminated value of label \"a\"",
            "bad.prom:21: invalid value \"+-1\"",
        });
  CHECK(r.report.skipped == 19);
  CHECK(r.report.error_count == 19);
  CHECK(r.sink.dump() == Strings{"ok 1000 1", R"(ok{a="1"} 1000 1)"});
  CHECK(r.report.lines == 21);
}

TEST_CASE("labels are normalized, so spellings of one series announce it once",
          "[metrics_reader]") {
  Read r = read(
      "a{x=\"1\",y=\"2\"} 1 1000\n"
      "a{y=\"2\", x=\"1\"} 2 1000\n"
      "a{ x = \"1\" , y = \"2\" , } 3 1000\n"
      "a{x=\"1\",y=\"2\",z=\"\"} 4 1000\n"
      "{\"a\", x=\"1\", y=\"2\"} 5 1000\n"
      "a {x=\"1\",y=\"2\"} 6 1000\n",
      MetricsFormat::PrometheusText);
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.series_calls == 1);
  REQUIRE(r.sink.points.size() == 6);
  for (const auto& p : r.sink.points) CHECK(p.series == 0);
  CHECK(r.sink.series_labels[0] == Labels{{"__name__", "a"}, {"x", "1"}, {"y", "2"}});
}

TEST_CASE("the series cache's prediction never mistakes a name for a prefix of another series",
          "[metrics_reader]") {
  // After `z` came `a`, so `a` is predicted after `z`; `ab` and `a {x="1"}` start with it.
  Read r = read(
      "z 1 1\na 2 1\n"
      "z 3 2\nab 4 2\n"
      "z 5 3\na 6 3\n"
      "z 7 4\na {x=\"1\"} 8 4\n"
      "z 9 5\na 10 5\n"
      "z 11 6\na\t12 6\n",
      MetricsFormat::PrometheusText);
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() == Strings{"z 1 1", "a 1 2", "z 2 3", "ab 2 4", "z 3 5", "a 3 6", "z 4 7",
                                 R"(a{x="1"} 4 8)", "z 5 9", "a 5 10", "z 6 11", "a 6 12"});
  CHECK(r.sink.series_calls == 4);
}

TEST_CASE("timestamps at the limits of int64 milliseconds", "[metrics_reader]") {
  // Twice each, so that the second line takes the fast path of a known series.
  Read r = read(
      "a 1 9223372036854775807\na 2 9223372036854775807\n"
      "a 3 -9223372036854775808\na 4 -9223372036854775808\n"
      "a 5 9223372036854775808\na 6 -9223372036854775809\n"
      "a 7 999999999999999999\na 8 0999999999999999999\n",
      MetricsFormat::PrometheusText, "m");
  CHECK(r.sink.dump() == Strings{"a 9223372036854775807 1", "a 9223372036854775807 2",
                                 "a -9223372036854775808 3", "a -9223372036854775808 4",
                                 "a 999999999999999999 7", "a 999999999999999999 8"});
  CHECK(r.report.errors ==
        Strings{"m:5: invalid timestamp \"9223372036854775808\": expected integer milliseconds "
                "since the epoch",
                "m:6: invalid timestamp \"-9223372036854775809\": expected integer milliseconds "
                "since the epoch"});
}

TEST_CASE("the fast path for known series reads every line exactly as the full parser does",
          "[metrics_reader]") {
  // Each line read alone always takes the full parser (its series is new); read together, the
  // series is known and predicted from the second line on. Values such as 0.3 are there because
  // only a correctly rounded conversion reads them right (3 * 0.1 is 0.30000000000000004).
  const char* series[] = {"a", "a{x=\"1\"}", "a {x=\"1\"}", "a{x=\"1\"} "};
  const char* blanks[] = {" ", "\t", "  "};
  const char* values[] = {"1",
                          "-0",
                          "1.5",
                          "1e3",
                          "+Inf",
                          "-Inf",
                          "NaN",
                          "nan",
                          "1.",
                          ".5",
                          "0x1",
                          "1e",
                          "--1",
                          "1_0",
                          "Inf",
                          "1e400",
                          "-1e-5",
                          "+-1",
                          "4.9e-324",
                          "",
                          "123456789012345678901234567890",
                          "0.1",
                          "123.456",
                          "1234.56",
                          "9007199254740993",
                          "0.30000000000000004",
                          "123456789012345",
                          "1234567890123456",
                          "-0.000001",
                          "00012.50",
                          "1.5e3",
                          "2.2250738585072014e-308",
                          "999999999999999.9",
                          "0.000000000000001",
                          "-.",
                          "0.3",
                          "0.7",
                          "2.3",
                          "4.35",
                          "3.3",
                          "1.15",
                          "33.3"};
  const char* millis[] = {"0",
                          "-1",
                          "1700000000000",
                          "9223372036854775807",
                          "9223372036854775808",
                          "-9223372036854775808",
                          "017",
                          "1.5",
                          "",
                          "1e3",
                          "12345678",
                          "123456789",
                          "99999999999999999999",
                          "-",
                          "1x"};
  const char* seconds[] = {"0",
                           "-1",
                           "1700000000.123",
                           "1700000000.",
                           ".5",
                           "-1.5",
                           "1e9",
                           "123456789012345.9999",
                           "1234567890123456.5",
                           "9223372036854775.807",
                           "9223372036854775.808",
                           "12345678.1",
                           "1700000000.1.2",
                           "",
                           "+5",
                           "1700000000.123456789"};
  const char* endings[] = {"\n", "\r\n", " \n", " # {t=\"x\"} 1\n"};
  std::mt19937 rng(7);
  auto pick = [&](const auto& list) { return std::string(list[rng() % std::size(list)]); };
  for (bool om : {false, true}) {
    MetricsFormat format = om ? MetricsFormat::OpenMetrics : MetricsFormat::PrometheusText;
    std::string s = pick(series);
    std::string all;
    Strings alone_samples, alone_errors;
    for (int i = 0; i < 3000; ++i) {
      std::string line = s + pick(blanks) + pick(values) + pick(blanks) +
                         (om ? pick(seconds) : pick(millis)) + pick(endings);
      all += line;
      Read one = read(line + (om ? "# EOF\n" : ""), format, "m");
      for (const std::string& d : one.sink.dump()) alone_samples.push_back(d);
      for (const std::string& e : one.report.errors)
        alone_errors.push_back(e.substr(e.find(": ") + 2));
    }
    Read together = read(all + (om ? "# EOF\n" : ""), format, "m");
    Strings together_errors;
    for (const std::string& e : together.report.errors) {
      together_errors.push_back(e.substr(e.find(": ") + 2));
    }
    INFO("OpenMetrics: " << om);
    CHECK(together.sink.dump() == alone_samples);
    CHECK(together.report.error_count == alone_errors.size());
    alone_errors.resize(std::min(alone_errors.size(), kMaxKeptErrors));
    CHECK(together_errors == alone_errors);
    CHECK(together.report.skipped == together.report.error_count);
    CHECK(together.report.samples + together.report.skipped == 3000);
    CHECK(together.sink.series_calls == 1);
  }
}

TEST_CASE("Prometheus 3 quoted metric and label names are read", "[metrics_reader]") {
  Read r = read("{\"my.metric\", \"some.label\"=\"v\"} 1 1000\n", MetricsFormat::PrometheusText);
  CHECK(r.report.errors == Strings{});
  REQUIRE(r.sink.series_labels.size() == 1);
  CHECK(r.sink.series_labels[0] == Labels{{"__name__", "my.metric"}, {"some.label", "v"}});
}

TEST_CASE("OpenMetrics: fractional second timestamps become exact milliseconds",
          "[metrics_reader]") {
  Read r = read(
      "a 1 1700000000.123\n"
      "a 2 1700000000.5\n"
      "a 3 1700000000\n"
      "a 4 1.7e9\n"
      "a 5 1700000000.1239\n"
      "a 6 -1.5\n"
      "a 7 1700000000.001\n"
      "# EOF\n",
      MetricsFormat::OpenMetrics);
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() == Strings{"a 1700000000123 1", "a 1700000000500 2", "a 1700000000000 3",
                                 "a 1700000000000 4", "a 1700000000123 5", "a -1500 6",
                                 "a 1700000000001 7"});
}

TEST_CASE("unix_seconds_to_ms shifts decimal digits instead of multiplying a double",
          "[metrics_reader]") {
  auto ms = [](std::string_view s) {
    int64_t v = -42;
    return unix_seconds_to_ms(s, v) ? std::optional<int64_t>(v) : std::nullopt;
  };
  // 1700000000.123 * 1000 as a double is 1700000000122.99997...: truncating it is off by one.
  CHECK(ms("1700000000.123") == 1700000000123);
  CHECK(ms("1700000000.0005") == 1700000000000);
  CHECK(ms("-0.0005") == 0);
  CHECK(ms("-1.0009") == -1000);
  CHECK(ms("0.001") == 1);
  CHECK(ms(".5") == 500);
  CHECK(ms("5.") == 5000);
  CHECK(ms("+12") == 12000);
  CHECK(ms("17e8") == 1700000000000);
  CHECK(ms("1700000000123e-3") == 1700000000123);
  CHECK(ms("1e-4") == 0);
  CHECK(ms("0e999999") == 0);
  CHECK(ms("9223372036854775.807") == INT64_MAX);
  CHECK(ms("9223372036854775.808") == std::nullopt);
  CHECK(ms("1e20") == std::nullopt);
  CHECK(ms("") == std::nullopt);
  CHECK(ms(".") == std::nullopt);
  CHECK(ms("1e") == std::nullopt);
  CHECK(ms("1.2.3") == std::nullopt);
  CHECK(ms("NaN") == std::nullopt);
  CHECK(ms("1 ") == std::nullopt);
}

TEST_CASE("OpenMetrics: exemplars are ignored, _created lines are samples, # EOF ends the data",
          "[metrics_reader]") {
  std::string text = test::read_text(test::source_path("tests/fixtures/metrics/scrape.om"));
  Read r = read(text, MetricsFormat::OpenMetrics, "scrape.om");
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() == Strings{
                             R"(http_requests_total{code="200"} 1700000000123 1027)",
                             R"(http_requests_created{code="200"} 1700000000123 1699990000)",
                             R"(http_requests_total{code="200"} 1700000015500 1090)",
                         });
}

TEST_CASE("OpenMetrics: a missing # EOF, text after it and a missing timestamp are reported",
          "[metrics_reader]") {
  Read missing = read("a 1 1\na 2 2\n", MetricsFormat::OpenMetrics, "t.om");
  CHECK(missing.report.errors == Strings{"t.om:2: no # EOF at the end: the file may be truncated"});
  CHECK(missing.report.samples == 2);
  CHECK(missing.report.skipped == 0);

  Read after = read("a 1 1\n# EOF\n\na 2 2\na 3 3\n", MetricsFormat::OpenMetrics, "t.om");
  CHECK(after.report.errors == Strings{"t.om:4: text after # EOF is ignored"});
  CHECK(after.report.skipped == 2);
  CHECK(after.sink.dump() == Strings{"a 1000 1"});

  Read no_ts = read("a 1 # {t=\"x\"} 1\na 1 17x\n# EOF\n", MetricsFormat::OpenMetrics, "t.om");
  CHECK(no_ts.report.errors ==
        Strings{"t.om:1: sample has no timestamp: a recording needs one (seconds since the epoch)",
                "t.om:2: invalid timestamp \"17x\": expected seconds since the epoch"});
}

TEST_CASE("rfc3339_to_ms: offsets, fractions, calendar limits and exact errors",
          "[metrics_reader]") {
  auto ms = [](std::string_view s) {
    int64_t v = -42;
    std::string error;
    return rfc3339_to_ms(s, v, &error) ? std::to_string(v) : error;
  };
  CHECK(ms("2026-01-01T00:00:00Z") == "1767225600000");
  CHECK(ms("2026-01-01T01:00:00+01:00") == "1767225600000");
  CHECK(ms("2025-12-31T19:00:00.5-05:00") == "1767225600500");
  CHECK(ms("2026-01-01t00:00:00.123456z") == "1767225600123");
  CHECK(ms("2026-01-01 05:30:00.1+05:30") == "1767225600100");
  CHECK(ms("2024-02-29T12:30:45.123Z") == "1709209845123");
  CHECK(ms("2000-03-01T00:00:00Z") == "951868800000");
  CHECK(ms("1969-12-31T23:59:59Z") == "-1000");
  CHECK(ms("2023-02-29T00:00:00Z") == "day 29 out of range");
  CHECK(ms("2026-13-01T00:00:00Z") == "month 13 out of range");
  CHECK(ms("2026-01-01T24:00:00Z") == "hour 24 out of range");
  CHECK(ms("2026-01-01T00:60:00Z") == "minute 60 out of range");
  CHECK(ms("2026-12-31T23:59:60Z") == "second 60 out of range (leap seconds are not supported)");
  CHECK(ms("2026-01-01T00:00:00") == "missing time zone: Z or an offset such as +01:00");
  CHECK(ms("2026-01-01T00:00:00+0100") == "expected an offset such as +01:00");
  CHECK(ms("2026-01-01T00:00:00+24:00") == "offset out of range");
  CHECK(ms("2026-01-01T00:00:00.Z") == "expected digits after the '.'");
  CHECK(ms("2026-01-01") == "expected YYYY-MM-DDThh:mm:ss, an optional fraction, then Z or ±hh:mm");
  CHECK(ms("2026-01-01T00:00:00Zjunk") ==
        "expected YYYY-MM-DDThh:mm:ss, an optional fraction, then Z or ±hh:mm");
}

TEST_CASE("CSV: quoting per RFC 4180, CRLF, empty label cells and RFC 3339 times",
          "[metrics_reader]") {
  std::string text = test::read_text(test::source_path("tests/fixtures/metrics/recording.csv"));
  Read r = read(text, MetricsFormat::Csv, "recording.csv");
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() == Strings{
                             R"(up{instance="host:9100", job="node"} 1700000000000 1)",
                             // The empty job cell: the label is absent.
                             R"(up{instance="host:9100"} 1767225600000 0)",
                             "odd \"name\"{instance=\"a,b\", job=\"line 1\r\\nline 2\"} "
                             "1700000000250 2.5",
                         });
  CHECK(label_value(r.sink.series_labels[2], "__name__") == "odd \"name\"");
  CHECK(label_value(r.sink.series_labels[2], "job") == "line 1\r\nline 2");
  CHECK(r.report.lines == 5);
}

TEST_CASE("CSV: blanks around unquoted cells are layout: a header may use any case",
          "[metrics_reader]") {
  Read r = read(
      "Timestamp , Metric , instance , Value\n 1700000000 , up , a , 1 \n\n"
      "1700000001,up, \" b \" ,2\n",
      MetricsFormat::Csv);
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() ==
        Strings{R"(up{instance="a"} 1700000000000 1)", R"(up{instance=" b "} 1700000001000 2)"});
}

TEST_CASE("CSV: every malformed record is reported with the line it starts on and skipped",
          "[metrics_reader]") {
  std::string text =
      "timestamp,metric,instance,value\n"  // 1
      "1700000000,up,a,1\n"                // 2
      "1700000000,up,1\n"                  // 3
      "abc,up,a,1\n"                       // 4
      "2026-13-01T00:00:00Z,up,a,1\n"      // 5
      "2026-01-01T00:00:00,up,a,1\n"       // 6
      "1700000000,up,a,x1\n"               // 7
      "1700000000,,a,1\n"                  // 8
      "1700000000,up,\"a\"b,1\n"           // 9
      "1700000000,up,a\"b,1\n"             // 10
      "1700000000,up,\"multi\nline\",3\n"  // 11-12: fine
      "1700000000,up,a,\"4\"\n"            // 13: fine
      "1700000000,up,\"\xff\",1\n"         // 14
      "1700000000,up,\"unterminated,1\n";  // 15
  Read r = read(text, MetricsFormat::Csv, "bad.csv");
  CHECK(r.report.errors ==
        Strings{
            "bad.csv:3: expected 4 fields as in the header, found 3",
            "bad.csv:4: invalid timestamp \"abc\": expected Unix seconds or an RFC 3339 time such "
            "as 2026-01-01T00:00:00Z",
            "bad.csv:5: invalid timestamp \"2026-13-01T00:00:00Z\": month 13 out of range",
            "bad.csv:6: invalid timestamp \"2026-01-01T00:00:00\": missing time zone: Z or an "
            "offset such as +01:00",
            "bad.csv:7: invalid value \"x1\"",
            "bad.csv:8: empty metric name",
            "bad.csv:9: unexpected character after a closing quote",
            "bad.csv:10: quote inside an unquoted field: quote the whole field",
            "bad.csv:14: the value of label \"instance\" is not valid UTF-8",
            "bad.csv:15: unterminated quoted field: the rest of the file is inside it",
        });
  CHECK(r.report.skipped == 10);
  CHECK(r.sink.dump() == Strings{R"(up{instance="a"} 1700000000000 1)",
                                 R"(up{instance="multi\nline"} 1700000000000 3)",
                                 R"(up{instance="a"} 1700000000000 4)"});
  CHECK(r.report.lines == 15);
}

TEST_CASE("CSV: a bad header is one error and every record after it is skipped",
          "[metrics_reader]") {
  Read wrong = read("time,name,value\n1,a,1\n2,a,2\n", MetricsFormat::Csv, "h.csv");
  CHECK(wrong.report.errors ==
        Strings{"h.csv:1: expected the header timestamp,metric,<label columns...>,value, found "
                "\"time,name,value\""});
  CHECK(wrong.report.skipped == 2);
  CHECK(wrong.report.samples == 0);

  CHECK(read("timestamp,metric,a,a,value\n", MetricsFormat::Csv, "h.csv").report.errors ==
        Strings{"h.csv:1: duplicate label column \"a\" in the header"});
  CHECK(read("timestamp,metric,a-b,value\n", MetricsFormat::Csv, "h.csv").report.errors ==
        Strings{"h.csv:1: invalid label column name \"a-b\" in the header"});
  CHECK(read("timestamp,metric,__name__,value\n", MetricsFormat::Csv, "h.csv").report.errors ==
        Strings{"h.csv:1: label column \"__name__\" in the header: the metric column holds the "
                "name"});
}

TEST_CASE("JSON lines: both shapes, string values and exact fractional timestamps",
          "[metrics_reader]") {
  std::string text = test::read_text(test::source_path("tests/fixtures/metrics/recording.jsonl"));
  Read r = read(text, MetricsFormat::JsonLines, "recording.jsonl");
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() == Strings{
                             R"(up{instance="host:9100"} 1700000000123 1)",
                             R"(up{instance="host:9100"} 1767225600000 NaN)",
                             R"(load{instance="host:9100"} 1700000000000 0.5)",
                             R"(load{instance="host:9100"} 1700000015000 +Inf)",
                         });
  CHECK(r.sink.series_calls == 2);
}

TEST_CASE("JSON lines: every malformed line is reported with its exact error and skipped",
          "[metrics_reader]") {
  std::string text = R"({"labels": {"__name__": "up"}, "timestamp": 1, "value": 1})"
                     "\n"  // 1
                     R"({"labels": {"__name__": "up"}, "timestamp": 1700000000})"
                     "\n"  // 2
                     R"({"labels": {"__name__": "up"}, "value": 1})"
                     "\n"  // 3
                     R"({"timestamp": 1, "value": 1})"
                     "\n"  // 4
                     R"({"labels": {"__name__": 5}, "timestamp": 1, "value": 1})"
                     "\n"  // 5
                     R"({"labels": {"__name__": "up"}, "timestamp": true, "value": 1})"
                     "\n"  // 6
                     R"({"labels": {"__name__": "up"}, "timestamp": 1, "value": "abc"})"
                     "\n"  // 7
                     R"({"labels": {"__name__": "up"}, "timestamp": "2026-01-01", "value": 1})"
                     "\n"  // 8
                     R"({"labels": {"__name__": "up"}, "timestamp": 2, "value": 1} junk)"
                     "\n"  // 9
                     R"([1, 2])"
                     "\n"  // 10
                     R"({"labels": {"__name__": "up"})"
                     "\n"  // 11
                     R"({"metric": {"__name__": "up"}, "values": [[3, "1"], [4]]})"
                     "\n"  // 12
                     R"({"labels": {"__name__": "up"}})"
                     "\n"  // 13
                     R"({"labels": {"a": "1", "a": "2"}, "timestamp": 1, "value": 1})"
                     "\n"  // 14
                     R"({"labels": {"__name__": "up"}, "timestamp": 1e300, "value": 1})"
                     "\n";  // 15
  Read r = read(text, MetricsFormat::JsonLines, "bad.jsonl");
  CHECK(r.report.errors ==
        Strings{
            "bad.jsonl:2: \"timestamp\" without \"value\"",
            "bad.jsonl:3: \"value\" without \"timestamp\"",
            "bad.jsonl:4: no \"labels\" object with the series' labels",
            "bad.jsonl:5: label \"__name__\" must be a string",
            "bad.jsonl:6: the timestamp must be a number of seconds or an RFC 3339 string",
            "bad.jsonl:7: invalid value \"abc\"",
            "bad.jsonl:8: invalid timestamp \"2026-01-01\": expected YYYY-MM-DDThh:mm:ss, an "
            "optional fraction, then Z or ±hh:mm",
            "bad.jsonl:9: invalid JSON at column 60: syntax error while parsing value - invalid "
            "literal; last read: '1} j'; expected end of input",
            "bad.jsonl:10: expected a JSON object",
            "bad.jsonl:11: invalid JSON at column 30: syntax error while parsing object - "
            "unexpected end of input; expected '}'",
            "bad.jsonl:12: a pair must be [timestamp, value]",
            "bad.jsonl:13: no sample: expected \"timestamp\" and \"value\", or \"values\"",
            "bad.jsonl:14: duplicate label \"a\"",
            "bad.jsonl:15: timestamp out of range",
        });
  CHECK(r.report.skipped == 14);
  CHECK(r.sink.dump() == Strings{"up 1000 1"});
}

TEST_CASE("query_range: a matrix response gives every series' samples", "[metrics_reader]") {
  std::string text = test::read_text(test::source_path("tests/fixtures/metrics/query_range.json"));
  Read r = read(text, MetricsFormat::QueryRange, "query_range.json");
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() == Strings{
                             R"(up{instance="host:9100", job="node"} 1700000000500 1)",
                             R"(up{instance="host:9100", job="node"} 1700000015500 0)",
                             // A query result may have no metric name.
                             R"({instance="host:9200", job="node"} 1700000000500 NaN)",
                         });
  CHECK(r.report.lines == 21);
}

TEST_CASE("query: a vector response gives one sample per series", "[metrics_reader]") {
  std::string text = test::read_text(test::source_path("tests/fixtures/metrics/query_vector.json"));
  Read r = read(text, MetricsFormat::QueryRange, "query_vector.json");
  CHECK(r.report.errors == Strings{});
  CHECK(r.sink.dump() == Strings{R"(up{job="node"} 1700000000123 1)"});
}

TEST_CASE("query_range: a bad pair costs one sample, a bad entry its series, at their lines",
          "[metrics_reader]") {
  std::string text = R"({
  "status": "success",
  "data": {
    "resultType": "matrix",
    "result": [
      {"metric": {"__name__": "a"}, "values": [[1, "1"], [2, "x"], [3, "3"]]},
      {"metric": {"__name__": "b"},
       "values": [
         [1, "1"],
         [2]
       ]},
      {"values": [[1, "1"]]},
      {"metric": {"__name__": 7}, "values": [[1, "1"]]},
      {"metric": {"__name__": "c"}, "values": [[true, "1"], [1, "1", 2]]}
    ]
  }
}
)";
  Read r = read(text, MetricsFormat::QueryRange, "q.json");
  CHECK(r.report.errors ==
        Strings{
            "q.json:6: invalid value \"x\"",
            "q.json:10: a pair must be [timestamp, value]",
            "q.json:12: a result entry needs a \"metric\" object",
            "q.json:13: label \"__name__\" must be a string",
            "q.json:14: the timestamp must be a number of seconds or an RFC 3339 string",
            "q.json:14: a pair must be [timestamp, value]",
        });
  CHECK(r.report.skipped == 6);
  CHECK(r.sink.dump() == Strings{"a 1000 1", "a 3000 3", "b 1000 1"});
}

TEST_CASE("query: failed queries, other result types and broken JSON are reported",
          "[metrics_reader]") {
  CHECK(read(R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\""})",
             MetricsFormat::QueryRange, "q.json")
            .report.errors ==
        Strings{"q.json:1: the query failed: bad_data: invalid parameter \"query\""});
  CHECK(read(R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}})",
             MetricsFormat::QueryRange, "q.json")
            .report.errors == Strings{"q.json:1: resultType \"scalar\" holds no series: only "
                                      "\"matrix\" and \"vector\" can be read"});
  CHECK(read(R"({"status":"success","data":{}})", MetricsFormat::QueryRange, "q.json")
            .report.errors == Strings{"q.json:1: no \"data.result\" in the response"});
  CHECK(read(R"({"data":{"result":[]}})", MetricsFormat::QueryRange, "q.json").report.errors ==
        Strings{"q.json:1: not a Prometheus query response: no \"status\""});
  CHECK(read("[]", MetricsFormat::QueryRange, "q.json").report.errors ==
        Strings{"q.json:1: expected a JSON object with \"status\" and \"data\""});

  // Samples of the entries before the break are kept: the response is read as a stream.
  Read cut = read(
      "{\"status\": \"success\", \"data\": {\"resultType\": \"matrix\", \"result\": [\n"
      "  {\"metric\": {\"__name__\": \"a\"}, \"values\": [[1, \"1\"]]},\n"
      "  {\"metric\": {\"__name__\": \"b\"}, \"values\": [[1, \"1\"",
      MetricsFormat::QueryRange, "q.json");
  CHECK(cut.report.errors ==
        Strings{"q.json:3: invalid JSON at column 51: syntax error while parsing array - "
                "unexpected end of input; expected ']'"});
  CHECK(cut.sink.dump() == Strings{"a 1000 1"});
}

TEST_CASE("format names and detection by extension, then by content", "[metrics_reader]") {
  CHECK(format_from_name("prom") == MetricsFormat::PrometheusText);
  CHECK(format_from_name("openmetrics") == MetricsFormat::OpenMetrics);
  CHECK(format_from_name("csv") == MetricsFormat::Csv);
  CHECK(format_from_name("jsonl") == MetricsFormat::JsonLines);
  CHECK(format_from_name("query_range") == MetricsFormat::QueryRange);
  CHECK(format_from_name("json") == std::nullopt);
  for (auto f : {MetricsFormat::PrometheusText, MetricsFormat::OpenMetrics, MetricsFormat::Csv,
                 MetricsFormat::JsonLines, MetricsFormat::QueryRange}) {
    CHECK(format_from_name(format_name(f)) == f);
  }

  CHECK(detect_format("a/b.prom", "timestamp,x") == MetricsFormat::PrometheusText);
  CHECK(detect_format("b.om", "") == MetricsFormat::OpenMetrics);
  CHECK(detect_format("B.CSV", "") == MetricsFormat::Csv);
  CHECK(detect_format("b.jsonl", "") == MetricsFormat::JsonLines);
  CHECK(detect_format("b.ndjson", "") == MetricsFormat::JsonLines);
  CHECK(detect_format("b.json", "{\n  \"status\": \"success\",") == MetricsFormat::QueryRange);
  CHECK(detect_format("b.json", R"({"status":"success","data":{)") == MetricsFormat::QueryRange);
  CHECK(detect_format("b.json", "{\"labels\": {}}\n{") == MetricsFormat::JsonLines);
  // A label called "status" does not make a JSON-lines file a query response.
  CHECK(detect_format("b.json", "{\"labels\": {\"status\": \"up\"}}\n") ==
        MetricsFormat::JsonLines);
  CHECK(detect_format("b.json", "{\"data\":{\"result\":[]},\"status\":\"success\"}") ==
        MetricsFormat::QueryRange);
  CHECK(detect_format("b.json", "") == MetricsFormat::QueryRange);
  CHECK(detect_format("b.txt", "# TYPE a gauge\na 1 1700000000000\n") ==
        MetricsFormat::PrometheusText);
  CHECK(detect_format("b.txt", "a{x=\"a b\"} 1 1700000000.5\n") == MetricsFormat::OpenMetrics);
  CHECK(detect_format("b.txt", "a 1 1700000000\n") == MetricsFormat::OpenMetrics);
  CHECK(detect_format("b.txt", "# UNIT a seconds\n") == MetricsFormat::OpenMetrics);
  CHECK(detect_format("b.txt", "a 1 1700000000.5\n# EOF\n") == MetricsFormat::OpenMetrics);
  // The head ends in the middle of a timestamp: only complete lines decide.
  CHECK(detect_format("b.txt", "a 1 1700000000000\na 1 17") == MetricsFormat::PrometheusText);
  CHECK(detect_format("dump.v1/recording", "\xEF\xBB\xBFtimestamp,metric,value\n") ==
        MetricsFormat::Csv);
  CHECK(detect_format("recording", "\"timestamp\",\"metric\",\"value\"\n") == MetricsFormat::Csv);
  CHECK(detect_format("recording", "  {\"metric\": {}, \"values\": []}\n") ==
        MetricsFormat::JsonLines);
  CHECK(detect_format("recording", "") == MetricsFormat::PrometheusText);
}

TEST_CASE("read_metrics_file detects the format of each fixture and reports unreadable files",
          "[metrics_reader]") {
  std::string dir = test::source_path("tests/fixtures/metrics/");
  struct Case {
    const char* file;
    size_t samples;
  };
  for (Case c :
       {Case{"scrape.prom", 7}, Case{"scrape.om", 3}, Case{"recording.csv", 3},
        Case{"recording.jsonl", 4}, Case{"query_range.json", 3}, Case{"query_vector.json", 1}}) {
    RecordingSink sink;
    ReadReport report;
    INFO(c.file);
    CHECK(read_metrics_file(dir + c.file, std::nullopt, sink, report));
    CHECK(report.errors == Strings{});
    CHECK(report.samples == c.samples);
  }

  RecordingSink sink;
  ReadReport report;
  CHECK_FALSE(read_metrics_file(dir + "missing.prom", std::nullopt, sink, report));
  CHECK(report.errors == Strings{dir + "missing.prom: cannot read: No such file or directory"});
  CHECK_FALSE(read_metrics_file(dir, std::nullopt, sink, report));
  CHECK(report.errors == Strings{dir + ": cannot read: Is a directory"});
  CHECK_FALSE(read_metrics_file(dir + "scrape.prom", std::nullopt, sink, report, 100));
  CHECK(report.errors ==
        Strings{dir + "scrape.prom: larger than 100 bytes, the limit for a metrics file"});
  CHECK(sink.points.empty());

  // An explicit format wins over the extension.
  test::TempDir tmp;
  test::write_text(tmp.file("data.txt"), "timestamp,metric,value\n1,a,2\n");
  CHECK(read_metrics_file(tmp.file("data.txt"), MetricsFormat::Csv, sink, report));
  CHECK(sink.dump() == Strings{"a 1000 2"});
}

TEST_CASE("a large Prometheus text file is read in chunks with the whole file's line numbers",
          "[metrics_reader]") {
  // Over 2 MiB, read a 1 MiB block at a time: lines cross block ends, a comment is longer than
  // a block, and a malformed line far into the file keeps its line number.
  test::TempDir tmp;
  std::string text = "# HELP load " + std::string(1'500'000, 'x') + "\n";
  size_t lines = 1;
  for (int i = 0; i < 60'000; ++i) {
    text += "load{host=\"h" + std::to_string(i % 7) + "\"} " + std::to_string(i) + " " +
            std::to_string(1000 + i) + "\n";
    ++lines;
    if (i == 50'000) {
      text += "load{host=\"h1\" 1 2\n";  // no closing brace
      ++lines;
    }
  }
  REQUIRE(text.size() > (size_t{2} << 20));
  for (bool openmetrics : {false, true}) {
    std::string file = tmp.file(openmetrics ? "big.om" : "big.prom");
    test::write_text(file, openmetrics ? text + "# EOF\n" : text);
    RecordingSink sink;
    ReadReport report;
    INFO(file);
    CHECK(read_metrics_file(file, std::nullopt, sink, report, size_t{64} << 20));
    CHECK(report.samples == 60'000);
    CHECK(report.skipped == 1);
    CHECK(report.lines == lines + (openmetrics ? 1 : 0));
    REQUIRE(report.errors.size() == 1);
    CHECK(report.errors[0].find(":50003:") != std::string::npos);
    CHECK(sink.series_labels.size() == 7);
    REQUIRE(sink.points.size() == 60'000);
    // Prometheus text gives milliseconds, OpenMetrics seconds.
    CHECK(sink.points[59'999].t_ms == (openmetrics ? 60'999'000 : 60'999));
    CHECK(sink.points[59'999].value == 59'999);
    CHECK(sink.points[59'999].series == sink.points[59'999 % 7].series);
  }
  // Without its `# EOF`, an OpenMetrics file read in chunks may be truncated, as a whole one.
  test::write_text(tmp.file("cut.om"), text);
  RecordingSink sink;
  ReadReport report;
  CHECK(read_metrics_file(tmp.file("cut.om"), std::nullopt, sink, report, size_t{64} << 20));
  REQUIRE(report.errors.size() == 2);
  CHECK(report.errors[1].find("no # EOF at the end") != std::string::npos);
}

TEST_CASE("a series the sink rejects is asked about once and none of its samples reach it",
          "[metrics_reader]") {
  RecordingSink sink;
  sink.reject = [](const Labels& l) { return label_value(l, "__name__") == "b"; };
  ReadReport report = read_metrics("a 1 1\nb 2 1\na 3 2\nb 4 2\nb{} 5 3\n",
                                   MetricsFormat::PrometheusText, "m", sink);
  CHECK(sink.dump() == Strings{"a 1 1", "a 2 3"});
  CHECK(sink.series_calls == 2);
  CHECK(report.samples == 2);
  CHECK(report.rejected == 3);
  CHECK(report.errors == Strings{});
}

TEST_CASE("only the first 20 errors are kept, and all of them are counted", "[metrics_reader]") {
  std::string text;
  for (int i = 0; i < 25; ++i) text += "bad\n";
  Read r = read(text, MetricsFormat::PrometheusText, "m");
  REQUIRE(r.report.errors.size() == kMaxKeptErrors);
  CHECK(r.report.errors.back() == "m:20: sample has no value");
  CHECK(r.report.error_count == 25);
  CHECK(r.report.skipped == 25);
}

namespace {

// What must hold after reading anything at all.
void check_consistent(const Read& r, std::string_view name) {
  REQUIRE(r.sink.points.size() == r.report.samples);
  for (const auto& p : r.sink.points) REQUIRE(p.series < r.sink.series_labels.size());
  REQUIRE(r.report.errors.size() == std::min(r.report.error_count, kMaxKeptErrors));
  for (const std::string& e : r.report.errors) {
    REQUIRE(e.starts_with(std::string(name) + ":"));
    size_t line = std::stoul(e.substr(name.size() + 1));
    REQUIRE(line >= 1);
    REQUIRE(line <= r.report.lines + 1);
  }
  for (size_t i = 0; i < r.sink.series_labels.size(); ++i) {
    Labels normalized = r.sink.series_labels[i];
    normalize_labels(normalized);
    REQUIRE(normalized == r.sink.series_labels[i]);
    for (size_t j = 0; j < i; ++j) REQUIRE(r.sink.series_labels[j] != r.sink.series_labels[i]);
  }
}

}  // namespace

TEST_CASE("random bytes and truncated lines never crash any reader nor break its report",
          "[metrics_reader]") {
  const MetricsFormat formats[] = {MetricsFormat::PrometheusText, MetricsFormat::OpenMetrics,
                                   MetricsFormat::Csv, MetricsFormat::JsonLines,
                                   MetricsFormat::QueryRange};
  struct Fixture {
    const char* file;
    MetricsFormat format;
  };
  std::vector<std::pair<std::string, MetricsFormat>> fixtures;
  for (Fixture f : {Fixture{"scrape.prom", MetricsFormat::PrometheusText},
                    Fixture{"scrape.om", MetricsFormat::OpenMetrics},
                    Fixture{"recording.csv", MetricsFormat::Csv},
                    Fixture{"recording.jsonl", MetricsFormat::JsonLines},
                    Fixture{"query_range.json", MetricsFormat::QueryRange},
                    Fixture{"query_vector.json", MetricsFormat::QueryRange}}) {
    fixtures.emplace_back(test::read_text(test::source_path("tests/fixtures/metrics/") + f.file),
                          f.format);
  }

  // Every prefix of every fixture, in every format: the last line is cut anywhere. In its own
  // format a prefix never has more samples than the whole file.
  for (const auto& [text, own] : fixtures) {
    size_t full = read(text, own, "t").report.samples;
    for (size_t n = 0; n <= text.size(); ++n) {
      for (MetricsFormat f : formats) {
        Read r = read(std::string_view(text).substr(0, n), f, "t");
        check_consistent(r, "t");
        if (f == own) REQUIRE(r.report.samples <= full);
      }
    }
  }

  // Every line of every fixture cut short, with the lines after it intact.
  for (const auto& [text, own] : fixtures) {
    size_t start = 0;
    for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
      for (size_t cut = start; cut < nl; ++cut) {
        std::string mangled = text.substr(0, cut) + text.substr(nl);
        for (MetricsFormat f : formats) check_consistent(read(mangled, f, "t"), "t");
      }
      start = nl + 1;
    }
  }

  // Random bytes, drawn mostly from the characters that mean something to a reader.
  std::mt19937 rng(20240601);
  const std::string alphabet = "{}[]\",=:#. \t\r\n\\0123456789eE+-_aZnNIf\xff\xc3";
  for (int round = 0; round < 400; ++round) {
    std::string text(rng() % 600, '\0');
    for (char& c : text) {
      c = rng() % 4 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    for (MetricsFormat f : formats) check_consistent(read(text, f, "t"), "t");
    // And a fixture with random bytes overwritten.
    std::string mutated = fixtures[static_cast<size_t>(round) % fixtures.size()].first;
    for (int k = 0; k < 3; ++k) mutated[rng() % mutated.size()] = static_cast<char>(rng() % 256);
    for (MetricsFormat f : formats) check_consistent(read(mutated, f, "t"), "t");
  }
}
