// promtool's series notation: exact expansions (checked against promtool 2.42), selectors with
// escapes, every error message with its offset, feeding a sink, and robustness on random bytes.
#include "runtime/series_notation.h"

#include <catch2/catch.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "support/fixtures.h"
#include "support/process.h"
#include "support/prometheus_server.h"

using namespace setpoint;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The expansion as text: numbers in shortest round-trip form, "_" missing, "stale", "NaN".
std::string expand(std::string_view values) {
  std::string error;
  auto parsed = parse_series_values(values, &error);
  if (!parsed) return "error: " + error;
  std::string out;
  for (const auto& v : *parsed) {
    if (!out.empty()) out += ' ';
    if (!v) {
      out += '_';
    } else if (is_stale_marker(*v)) {
      out += "stale";
    } else if (std::isnan(*v)) {
      out += "NaN";
    } else {
      char buf[40];
      auto r = std::to_chars(buf, buf + sizeof buf, *v);
      out.append(buf, r.ptr);
    }
  }
  return out;
}

std::string values_error(std::string_view values) {
  std::string error;
  auto parsed = parse_series_values(values, &error);
  return parsed ? "no error" : error;
}

// "name=value,..." of the parsed labels, or the error.
std::string labels_of(std::string_view series) {
  std::string error;
  auto labels = parse_series_labels(series, &error);
  if (!labels) return "error: " + error;
  std::string out;
  for (const Label& l : *labels) {
    if (!out.empty()) out += ',';
    out += l.name + "=" + l.value;
  }
  return out;
}

std::string series_error(std::string_view series) {
  std::string error;
  auto labels = parse_series_labels(series, &error);
  return labels ? "no error" : error;
}

struct Sink : SampleSink {
  std::vector<Labels> announced;
  std::vector<std::pair<int64_t, double>> samples;
  bool reject = false;
  uint32_t series(const Labels& labels) override {
    announced.push_back(labels);
    return reject ? kRejectedSeries : 0;
  }
  void sample(uint32_t, int64_t t_ms, double value) override { samples.push_back({t_ms, value}); }
};

}  // namespace

TEST_CASE("a+bxn, a-bxn and axn expand to n+1 values as promtool does", "[series_notation]") {
  CHECK(expand("1x3") == "1 1 1 1");
  CHECK(expand("1x0") == "1");
  CHECK(expand("-2+4x3") == "-2 2 6 10");  // the examples of unit_testing_rules.md
  CHECK(expand(" 1-2x4") == "1 -1 -3 -5 -7");
  CHECK(expand("1+0x6 0 0") == "1 1 1 1 1 1 1 0 0");
  CHECK(expand("10+10x2 30+20x5") == "10 20 30 30 50 70 90 110 130");
  CHECK(expand("10+10x7 10+30x4") == "10 20 30 40 50 60 70 80 10 40 70 100 130");
  CHECK(expand("-2-1x4") == "-2 -3 -4 -5 -6");
  CHECK(expand("+3x1 -0.5x2") == "3 3 -0.5 -0.5 -0.5");
  CHECK(expand("1e3x2 1e-3+1e-3x1") == "1000 1000 1000 0.001 0.002");
  CHECK(expand("-Inf+1x1 NaN+0x1") == "-inf -inf NaN NaN");
  CHECK(expand("0x10") == "0 0 0 0 0 0 0 0 0 0 0");  // no hexadecimal: 0, repeated 10 more
  CHECK(expand("1x03") == "1 1 1 1");                // the count is decimal, zeros and all
  CHECK(expand("") == "");
  CHECK(expand(" \t\r\n ") == "");
  CHECK(expand("  1 \t 2\n3  ") == "1 2 3");
}

TEST_CASE("_ is one missing value and _xn is n of them, not n+1", "[series_notation]") {
  CHECK(expand("1 _x3 stale") == "1 _ _ _ stale");  // example 4 of unit_testing_rules.md
  CHECK(expand("_") == "_");
  CHECK(expand("_x0 2") == "2");
  CHECK(expand("1x3 _x2 2+0.1x3 stale 5") == "1 1 1 1 _ _ 2 2.1 2.2 2.3000000000000003 stale 5");
}

TEST_CASE("stale is the exact staleness marker, and stepping from it gives ordinary NaN",
          "[series_notation]") {
  auto v = parse_series_values("stale stale+1x2", nullptr);
  REQUIRE(v);
  REQUIRE(v->size() == 4);
  CHECK(is_stale_marker(*(*v)[0]));
  CHECK(is_stale_marker(*(*v)[1]));
  // promtool 2.42 shows NaN at these two steps, not an end of the series.
  CHECK(std::isnan(*(*v)[2]));
  CHECK_FALSE(is_stale_marker(*(*v)[2]));
  CHECK(std::isnan(*(*v)[3]));
  CHECK_FALSE(is_stale_marker(*(*v)[3]));
}

TEST_CASE("a+bxn adds b at every step, so rounding accumulates exactly as in promtool",
          "[series_notation]") {
  auto v = parse_series_values("0.2+0.1x30", nullptr);
  REQUIRE(v);
  REQUIRE(v->size() == 31);
  // promtool 2.42: `x == bool 0.9999999999999999` is 1 at step 8; 0.2 + 8 * 0.1 would be 1.
  CHECK(*(*v)[8] == 0.9999999999999999);
  CHECK(*(*v)[4] == 0.6);  // 0.2 + 4 * 0.1 is 0.6000000000000001
  CHECK(*(*v)[13] == 1.5000000000000002);
  CHECK(*(*v)[0] == 0.2);
}

TEST_CASE("numbers are read as promtool reads them, octal integers included", "[series_notation]") {
  CHECK(expand("010 08 0778 0777 0 00 007") == "8 8 778 511 0 0 7");
  CHECK(expand(".5 5. 1e3 1E-3 +5 1.e3 1e+2") == "0.5 5 1000 0.001 5 1000 100");
  CHECK(expand("1e-400 5e-324 99999999999999999999") == "0 5e-324 1e+20");
  CHECK(expand("Inf -Inf +Inf inf INF NaN nan -NaN") == "inf -inf inf inf inf NaN NaN NaN");
  // An octal literal beyond int64 falls back to decimal, as strconv.ParseInt fails on it.
  CHECK(expand("01777777777777777777777") == "1777777777777777836032");
  CHECK(expand("0777777777777777777777") == "9223372036854775808");  // 2^63 - 1, octal, rounded
  auto v = parse_series_values("-Inf 1e308", nullptr);
  REQUIRE(v);
  CHECK(*(*v)[0] == -kInf);
  CHECK(*(*v)[1] == 1e308);
}

TEST_CASE("every malformed values string is refused with the token and its offset",
          "[series_notation]") {
  struct Case {
    const char* values;
    const char* error;
  };
  const Case cases[] = {
      {"1 x3", "values at offset 2: unexpected \"x\" in \"x3\", expected a value before \"x\""},
      {"1+1",
       "values at offset 3: \"1+1\" ends too early, expected \"x\" and a count, as in 1+2x3"},
      {"1+1 2",
       "values at offset 3: \"1+1\" ends too early, expected \"x\" and a count, as in 1+2x3"},
      {"1x", "values at offset 2: \"1x\" ends too early, expected a count after \"x\", as in 1x3"},
      {"1x3x2",
       "values at offset 3: unexpected \"x\" in \"1x3x2\", expected a blank before the next item"},
      {"_+1x2",
       "values at offset 1: unexpected \"+\" in \"_+1x2\", expected \"x\" and a count after \"_\", "
       "as in _x3"},
      {"_x_",
       "values at offset 2: unexpected \"_\" in \"_x_\", expected a count after \"x\", as "
       "in 1x3"},
      {"__",
       "values at offset 1: unexpected \"_\" in \"__\", expected \"x\" and a count after "
       "\"_\", as in _x3"},
      {"1-x3", "values at offset 2: unexpected \"x\" in \"1-x3\", expected a number after \"-\""},
      {"+_", "values at offset 1: unexpected \"_\" in \"+_\", expected a number after \"+\""},
      {"-", "values at offset 1: \"-\" ends too early, expected a number after \"-\""},
      {"-stale",
       "values at offset 1: unexpected \"stale\" in \"-stale\", expected a number after \"-\""},
      {"1x-2",
       "values at offset 2: unexpected \"-\" in \"1x-2\", expected a count after \"x\", "
       "as in 1x3"},
      {"1x3.0", "values at offset 2: repetition count \"3.0\" is not a whole number"},
      {"1xInf", "values at offset 2: repetition count \"Inf\" is not a whole number"},
      {"1x1e3", "values at offset 2: repetition count \"1e3\" is not a whole number"},
      {"1x18446744073709551616",
       "values at offset 2: repetition count \"18446744073709551616\" is too large: a series has "
       "at most 1000000 values"},
      {"1x1000001",
       "values at offset 2: repetition count \"1000001\" is too large: a series has at most "
       "1000000 values"},
      {"1 1x999999",
       "values at offset 2: \"1x999999\" makes the series longer than 1000000 values"},
      {"1..2",
       "values at offset 2: unexpected \".2\" in \"1..2\", expected a blank, \"x\", \"+\" "
       "or \"-\" after a value"},
      {"1.2.3",
       "values at offset 3: unexpected \".3\" in \"1.2.3\", expected a blank, \"x\", "
       "\"+\" or \"-\" after a value"},
      {"1_000", "values at offset 0: bad number \"1_000\""},
      {"5m", "values at offset 0: bad number \"5m\""},
      {"1X3", "values at offset 0: bad number \"1X3\""},
      {"2+3a", "values at offset 2: bad number \"3a\""},
      {"1e", "values at offset 0: bad number \"1e\""},
      {"1e+x2", "values at offset 0: bad number \"1e+\""},
      {"1e400", "values at offset 0: number \"1e400\" is out of range"},
      {"-1e400", "values at offset 1: number \"1e400\" is out of range"},
      {"1,2", "values at offset 1: unexpected character \",\""},
      {":", "values at offset 0: unexpected character \":\""},
      {".", "values at offset 0: unexpected character \".\""},
      {"1 {2}", "values at offset 2: unexpected character \"{\""},
      {"\xc3\xa9", "values at offset 0: unexpected character \"\xc3\xa9\""},
      {"\xff", "values at offset 0: unexpected character \"\\xff\""},
      {"1\v2", "values at offset 1: unexpected character \"\\x0b\""},
      {"Infinity",
       "values at offset 0: unexpected \"Infinity\", expected a number, \"_\" or "
       "\"stale\""},
      {"Stale", "values at offset 0: unexpected \"Stale\", expected a number, \"_\" or \"stale\""},
      {"sum", "values at offset 0: unexpected \"sum\", expected a number, \"_\" or \"stale\""},
      {"stalex2",
       "values at offset 0: unexpected \"stalex2\": stale cannot be repeated, write it once for "
       "each step"},
      {"Infx3", "values at offset 0: unexpected \"Infx3\": to repeat Inf write Inf+0x3"},
      {"1 2 nanx10", "values at offset 4: unexpected \"nanx10\": to repeat nan write nan+0x10"},
      {"1+Infx2",
       "values at offset 2: unexpected \"Infx2\" in \"1+Infx2\", expected a number "
       "after \"+\""},
  };
  for (const Case& c : cases) {
    INFO(c.values);
    CHECK(values_error(c.values) == c.error);
  }
  // The largest series there is: exactly the limit.
  auto full = parse_series_values("_x999999 7", nullptr);
  REQUIRE(full);
  CHECK(full->size() == kMaxSeriesValues);
  CHECK(full->back() == 7.0);
  CHECK(parse_series_values("1x999999", nullptr)->size() == kMaxSeriesValues);
}

TEST_CASE("series selectors: names, label sets, quotes and escapes as PromQL has them",
          "[series_notation]") {
  CHECK(labels_of("up") == "__name__=up");
  CHECK(labels_of("  a:b:c  ") == "__name__=a:b:c");
  CHECK(labels_of("x{b=\"2\", a=\"1\"}") == "__name__=x,a=1,b=2");                 // sorted
  CHECK(labels_of("x{a=\"1\", b='2', c=`3\\n`}") == "__name__=x,a=1,b=2,c=3\\n");  // raw: as is
  CHECK(labels_of("x{a=\"\\u00e9\\x41\\101\\\"\\\\\\t\"}") ==
        "__name__=x,a=\xc3\xa9"
        "AA\"\\\t");
  CHECK(labels_of("x{a='it\\'s'}") == "__name__=x,a=it's");
  CHECK(labels_of("x{ a = \"1\" ,\tb=\"2\" , }") == "__name__=x,a=1,b=2");  // trailing comma
  CHECK(labels_of("{__name__=\"y\", a=\"1\"}") == "__name__=y,a=1");
  CHECK(labels_of("{a=\"1\"}") == "a=1");
  CHECK(labels_of("x{__name__=\"y\"}") == "__name__=x");  // the name outside wins, as in promtool
  CHECK(labels_of("x{a=\"\"}") == "__name__=x");          // an empty value is no label
  CHECK(labels_of("x{}") == "__name__=x");
  CHECK(labels_of("sum{by=\"offset\"}") == "__name__=sum,by=offset");
  CHECK(labels_of("offset") == "__name__=offset");
  CHECK(labels_of("_x{_a=\"\xe2\x82\xac\"}") == "__name__=_x,_a=\xe2\x82\xac");
  CHECK(labels_of("x{le=\"0.5\"}") == "__name__=x,le=0.5");
}

TEST_CASE("every malformed series is refused with the token and its offset", "[series_notation]") {
  struct Case {
    const char* series;
    const char* error;
  };
  const Case cases[] = {
      {"", "series at offset 0: the series is empty, expected a metric name or \"{\""},
      {"   ", "series at offset 0: the series is empty, expected a metric name or \"{\""},
      {"{}", "series at offset 0: the series has no metric name and no label value"},
      {" {a=\"\"}", "series at offset 1: the series has no metric name and no label value"},
      {"x {a=\"1\"}", "series at offset 1: no blank is allowed between the metric name and \"{\""},
      {"x y", "series at offset 2: unexpected \"y\" after the metric name"},
      {"x-y", "series at offset 1: unexpected \"-\" after the metric name"},
      {"1x", "series at offset 0: unexpected \"1x\", expected a metric name or \"{\""},
      {"\"x\"", "series at offset 0: unexpected \"\\\"\", expected a metric name or \"{\""},
      {"on",
       "series at offset 0: \"on\" is a PromQL keyword, not a metric name; write "
       "{__name__=\"on\"}"},
      {"BOOL{a=\"1\"}",
       "series at offset 0: \"BOOL\" is a PromQL keyword, not a metric name; "
       "write {__name__=\"BOOL\"}"},
      {"Inf",
       "series at offset 0: \"Inf\" is a PromQL keyword, not a metric name; write "
       "{__name__=\"Inf\"}"},
      {"x{a=\"1\"}{b=\"2\"}", "series at offset 8: unexpected \"{\" after the series"},
      {"x{a=\"1\"} 5", "series at offset 9: unexpected \"5\" after the series"},
      {"x{a=\"1\"", "series at offset 7: unexpected end of series, expected \",\" or \"}\""},
      {"x{", "series at offset 2: unexpected end of series, expected a label name or \"}\""},
      {"x{,}", "series at offset 2: unexpected \",\", expected a label name or \"}\""},
      {"x{a=\"1\",,}", "series at offset 8: unexpected \",\", expected a label name or \"}\""},
      {"x{1a=\"1\"}", "series at offset 2: unexpected \"1a\", expected a label name or \"}\""},
      {"x{a:b=\"1\"}",
       "series at offset 3: unexpected \":b\", expected \"=\" (a series has label "
       "values, not matchers)"},
      {"x{a!=\"1\"}",
       "series at offset 3: unexpected \"!=\", expected \"=\" (a series has label "
       "values, not matchers)"},
      {"x{a=~\"1\"}",
       "series at offset 3: unexpected \"=~\", expected \"=\" (a series has label "
       "values, not matchers)"},
      {"x{a}",
       "series at offset 3: unexpected \"}\", expected \"=\" (a series has label values, "
       "not matchers)"},
      {"x{a=1}", "series at offset 4: unexpected \"1\", expected a quoted label value"},
      {"x{a=\"1\" b=\"2\"}", "series at offset 8: unexpected \"b\", expected \",\" or \"}\""},
      {"x{a=\"1}", "series at offset 4: unterminated label value"},
      {"x{a=\"1\n\"}", "series at offset 4: unterminated label value"},
      {"x{a=`1}", "series at offset 4: unterminated label value"},
      {"x{a=\"1\\", "series at offset 4: unterminated label value"},
      {"x{a=\"\\q\"}", "series at offset 5: unknown escape sequence '\\q'"},
      {"x{a=\"\\'\"}", "series at offset 5: unknown escape sequence '\\''"},
      {"x{a='\\\"'}", "series at offset 5: unknown escape sequence '\\\"'"},
      {"x{a=\"\\x4\"}", "series at offset 5: \\x needs 2 hex digits"},
      {"x{a=\"\\ud800\"}", "series at offset 5: escape is not a valid code point"},
      {"x{a=\"\\400\"}", "series at offset 5: octal escape above \\377"},
      {"x{a=\"\\xff\"}", "series at offset 4: the value of label \"a\" is not valid UTF-8"},
      {"x{a=\"\xff\"}", "series at offset 4: the value of label \"a\" is not valid UTF-8"},
      {"x{a=\"1\",a=\"2\"}", "series at offset 8: label \"a\" is given twice"},
      {"{__name__=\"x\",__name__=\"y\"}", "series at offset 14: label \"__name__\" is given twice"},
      {"x{a=\"1\" # c}", "series at offset 8: unexpected \"#\", expected \",\" or \"}\""},
      {"x\xc3\xa9", "series at offset 1: unexpected \"\xc3\xa9\" after the metric name"},
  };
  for (const Case& c : cases) {
    INFO(c.series);
    CHECK(series_error(c.series) == c.error);
  }
}

TEST_CASE("parse_series_desc reports the series first, then the values", "[series_notation]") {
  std::string error;
  CHECK_FALSE(parse_series_desc("x{", "1 +", &error));
  CHECK(error == "series at offset 2: unexpected end of series, expected a label name or \"}\"");
  CHECK_FALSE(parse_series_desc("x", "1 +", &error));
  CHECK(error == "values at offset 3: \"+\" ends too early, expected a number after \"+\"");
  auto d = parse_series_desc("http_request_duration_seconds{job=\"api\", le=\"0.5\"}",
                             "0.2+0.1x2 _x3 stale 5 1e3 -2-1x4", &error);
  REQUIRE(d);
  CHECK(d->labels ==
        Labels{{"__name__", "http_request_duration_seconds"}, {"job", "api"}, {"le", "0.5"}});
  REQUIRE(d->values.size() == 14);
  CHECK(d->values[1] == 0.30000000000000004);  // 0.2 + 0.1, as promtool rounds it
  CHECK(d->values[2] == 0.4);
  CHECK_FALSE(d->values[3]);
  CHECK_FALSE(d->values[5]);
  CHECK(is_stale_marker(*d->values[6]));
  CHECK(d->values[7] == 5.0);
  CHECK(d->values[8] == 1000.0);
  CHECK(d->values[9] == -2.0);
  CHECK(d->values[13] == -6.0);
}

TEST_CASE("feed_series passes each present value at start + i * interval", "[series_notation]") {
  auto d = parse_series_desc("x{a=\"1\"}", "1 _ stale 4+1x1", nullptr);
  REQUIRE(d);
  Sink sink;
  CHECK(feed_series(*d, 1000, 60000, sink) == 4);
  REQUIRE(sink.announced.size() == 1);
  CHECK(sink.announced[0] == Labels{{"__name__", "x"}, {"a", "1"}});
  REQUIRE(sink.samples.size() == 4);
  CHECK(sink.samples[0] == std::pair<int64_t, double>{1000, 1.0});
  CHECK(sink.samples[1].first == 121000);  // the missing value took its step
  CHECK(is_stale_marker(sink.samples[1].second));
  CHECK(sink.samples[2] == std::pair<int64_t, double>{181000, 4.0});
  CHECK(sink.samples[3] == std::pair<int64_t, double>{241000, 5.0});

  Sink negative_start;  // promtool's tests may start before 0
  CHECK(feed_series(*d, -120000, 60000, negative_start) == 4);
  CHECK(negative_start.samples[0].first == -120000);
  CHECK(negative_start.samples[3].first == 120000);
}

TEST_CASE("feed_series: rejected series, missing values only, bad intervals, int64 overflow",
          "[series_notation]") {
  auto d = parse_series_desc("x", "1 2 3", nullptr);
  REQUIRE(d);
  Sink rejecting;
  rejecting.reject = true;
  CHECK(feed_series(*d, 0, 1000, rejecting) == 0);
  CHECK(rejecting.announced.size() == 1);
  CHECK(rejecting.samples.empty());

  Sink zero;
  CHECK(feed_series(*d, 0, 0, zero) == 0);
  CHECK(feed_series(*d, 0, -5, zero) == 0);
  CHECK(zero.announced.empty());

  auto missing = parse_series_desc("x", "_x3", nullptr);
  REQUIRE(missing);
  Sink none;
  CHECK(feed_series(*missing, 0, 1000, none) == 0);
  CHECK(none.announced.empty());  // nothing to say about a series without samples

  Sink edge;
  CHECK(feed_series(*d, INT64_MAX - 1500, 1000, edge) == 2);  // the third time is past int64
  CHECK(edge.samples.back().first == INT64_MAX - 500);
}

TEST_CASE("random bytes and mutated notation never crash the parsers", "[series_notation]") {
  std::mt19937 rng(20260101);
  const std::string alphabet = "0123456789.+-x_eE stale Inf NaN {}=,\"'`\\\n\t:abc\xff\xc3";
  const std::string seeds[] = {"0.2+0.1x30 _x3 stale 5 1e3 -2-1x4", "1x3 _ 2-1x2",
                               "x{a=\"1\", b='\\u00e9', c=`r`}", "{__name__=\"y\"}"};
  size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    if (round % 2 == 0) {
      size_t n = rng() % 40;
      for (size_t i = 0; i < n; ++i) {
        s += round % 4 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
      }
    } else {
      s = seeds[rng() % 4];
      for (int k = 0; k < 3; ++k) s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    }
    std::string error;
    auto values = parse_series_values(s, &error);
    if (values) {
      ++accepted;
      CHECK(values->size() <= kMaxSeriesValues);
    } else {
      CHECK(error.rfind("values at offset ", 0) == 0);
    }
    auto labels = parse_series_labels(s, &error);
    if (labels) {
      CHECK_FALSE(labels->empty());
    } else {
      CHECK(error.rfind("series at offset ", 0) == 0);
    }
  }
  CHECK(accepted > 100);  // the mutations keep many strings valid, so both paths are exercised
}

TEST_CASE("promtool 2.42 expands random values strings exactly as parse_series_values does",
          "[series_notation][conformance]") {
  // Random strings over the notation's tokens; each becomes one test group of a promtool test
  // file, whose series is asked for at every step. promtool reports a sample that no expected
  // sample matches, so `exp_samples: []` makes it print what it has. A group whose values it
  // cannot parse prints no sentinel (`vector(K)`, always reported), so refusals are seen too.
  std::string promtool = test::find_program("promtool");
  REQUIRE_FALSE(promtool.empty());
  const char* tokens[] = {"1",   "0",   "2", "10", "010", "08", ".5",  "5.", "1e3",  "1e",
                          "3",   "x",   "x", "x",  "+",   "-",  "-",   "_",  "_",    "stale",
                          "Inf", "nan", " ", " ",  "e",   ".",  "1.2", "x2", "+1x2", "-2x1"};
  std::mt19937 rng(42);
  struct Case {
    std::string values;
    std::optional<std::vector<std::optional<double>>> ours;
  };
  std::vector<Case> cases;
  while (cases.size() < 400) {
    std::string v;
    for (size_t n = 1 + rng() % 6; n > 0; --n) v += tokens[rng() % std::size(tokens)];
    auto ours = parse_series_values(v, nullptr);
    if (ours && ours->size() > 40) continue;
    cases.push_back({v, ours});
  }
  std::string yaml = "evaluation_interval: 1m\ntests:\n";
  for (size_t k = 0; k < cases.size(); ++k) {
    std::string K = std::to_string(k);
    yaml += "- interval: 1m\n  input_series:\n  - series: 'x{case=\"" + K + "\"}'\n    values: \"" +
            cases[k].values + "\"\n  promql_expr_test:\n  - expr: vector(" + K +
            ")\n    eval_time: 0m\n    exp_samples: []\n";
    size_t steps = (cases[k].ours ? cases[k].ours->size() : 0) + 3;
    for (size_t i = 0; i < steps; ++i) {
      yaml += "  - expr: 'x and (timestamp(x) == " + std::to_string(i * 60) +
              ")'\n    eval_time: " + std::to_string(i) + "m\n    exp_samples: []\n";
    }
  }
  test::TempDir dir;
  test::write_text(dir.file("series.yml"), yaml);
  test::ProcessResult r = test::run_process({promtool, "test", "rules", dir.file("series.yml")});
  const std::string out = r.out + r.err;
  REQUIRE(out.find("expr: \"vector(0)\"") != std::string::npos);  // the harness works

  // (case, step) -> the value promtool printed.
  std::map<std::pair<size_t, size_t>, std::string> got;
  const std::string expr_mark = "expr: \"x and (timestamp(x) == ";
  for (size_t at = out.find(expr_mark); at != std::string::npos; at = out.find(expr_mark, at + 1)) {
    size_t seconds = std::stoul(out.substr(at + expr_mark.size()));
    size_t g = out.find("got: {", at);
    size_t c = out.find("case=\"", g);
    REQUIRE(c != std::string::npos);
    size_t k = std::stoul(out.substr(c + 6));
    size_t v = out.find("} ", c) + 2;
    got[{k, seconds / 60}] = out.substr(v, out.find('\n', v) - v);
  }
  size_t accepted = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    INFO("values: \"" << cases[k].values << "\"");
    bool promtool_accepts =
        out.find("expr: \"vector(" + std::to_string(k) + ")\"") != std::string::npos;
    REQUIRE(promtool_accepts == cases[k].ours.has_value());
    if (!promtool_accepts) continue;
    ++accepted;
    const auto& ours = *cases[k].ours;
    for (size_t i = 0; i < ours.size() + 3; ++i) {
      INFO("step " << i);
      auto it = got.find({k, i});
      bool present = i < ours.size() && ours[i] && !is_stale_marker(*ours[i]);
      REQUIRE((it != got.end()) == present);
      if (!present) continue;
      double theirs = std::strtod(it->second.c_str(), nullptr);
      if (std::isnan(*ours[i])) {
        CHECK(std::isnan(theirs));
      } else {
        CHECK(theirs == *ours[i]);
      }
    }
  }
  CHECK(accepted > 50);
}
