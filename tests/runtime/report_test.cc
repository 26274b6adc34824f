// The HTML report writer on tiny inputs: exact SVG coordinates of series, gaps, thresholds and
// markers, unit-aware axis labels, escaping, bounds on points and series, and determinism.
#include "runtime/report.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>

using namespace setpoint;

namespace {

// 2026-01-01T10:00:00Z; the charts span 100 s, so 1 s is 8 units across the 800-unit plot.
constexpr int64_t kFrom = 1767261600000;
constexpr int64_t kTo = kFrom + 100'000;

ReportInput input_with(std::vector<std::pair<int64_t, double>> points) {
  ReportInput in;
  in.title = "replay";
  in.from_ms = kFrom;
  in.to_ms = kTo;
  ReportChart chart;
  chart.title = "latency";
  chart.policies = {"p"};
  chart.series.push_back({"{job=\"api\"}", std::move(points)});
  in.charts.push_back(std::move(chart));
  return in;
}

std::string html(const ReportInput& in, const ReportLimits& limits = {}) {
  std::ostringstream out;
  write_report(in, out, limits);
  return out.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

Event event(int64_t t_ms, const std::string& policy, EventKind kind) {
  Event e;
  e.t_ms = t_ms;
  e.policy = policy;
  e.instance = Labels{{"job", "api"}};
  e.kind = kind;
  return e;
}

}  // namespace

TEST_CASE("three samples become one polyline at known coordinates", "[report]") {
  // Values 0..10 give the axis 0..10: y = 264 at 0, 44 at 10; x = 70 at from, 870 at to.
  std::string page = html(input_with({{kFrom, 0}, {kFrom + 50'000, 5}, {kTo, 10}}));
  CHECK(count(page, "<polyline") == 1);
  CHECK(page.find("points=\"70.0,264.0 470.0,154.0 870.0,44.0\"") != std::string::npos);
  CHECK(count(page, "<svg") == 1);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("http://") == page.find("http://www.w3.org/2000/svg"));  // no external URL
}

TEST_CASE("a time without a value splits the polyline in two", "[report]") {
  std::string page = html(input_with(
      {{kFrom, 0}, {kFrom + 25'000, 2}, {kFrom + 50'000, NAN}, {kFrom + 75'000, 8}, {kTo, 10}}));
  CHECK(count(page, "<polyline") == 2);
  CHECK(page.find("points=\"70.0,264.0 270.0,220.0\"") != std::string::npos);
  CHECK(page.find("points=\"670.0,88.0 870.0,44.0\"") != std::string::npos);
}

TEST_CASE("a value alone between gaps is drawn as a dot", "[report]") {
  std::string page =
      html(input_with({{kFrom, 0}, {kFrom + 25'000, NAN}, {kFrom + 50'000, 5}, {kTo, NAN}}));
  CHECK(count(page, "<polyline") == 0);
  CHECK(page.find("<circle cx=\"70.0\" cy=\"264.0\" r=\"2\"") != std::string::npos);
  CHECK(page.find("<circle cx=\"470.0\" cy=\"44.0\" r=\"2\"") != std::string::npos);
}

TEST_CASE("a threshold is a dashed line at its value, in the legend too", "[report]") {
  ReportInput in = input_with({{kFrom, 0}, {kTo, 10}});
  in.charts[0].thresholds.push_back({"p trigger > 5", 5});
  std::string page = html(in);
  CHECK(page.find("<line x1=\"70.0\" y1=\"154.0\" x2=\"870.0\" y2=\"154.0\" stroke=\"#e6550d\" "
                  "stroke-dasharray=\"6 4\"/>") != std::string::npos);
  CHECK(page.find("<li><span class=\"sw dash\" style=\"border-color:#e6550d\"></span>p trigger "
                  "&gt; 5</li>") != std::string::npos);
}

TEST_CASE("a threshold outside the values widens the axis so it shows", "[report]") {
  ReportInput in = input_with({{kFrom, 0}, {kTo, 4}});
  in.charts[0].thresholds.push_back({"p when < 10", 10});
  std::string page = html(in);
  CHECK(page.find("y1=\"44.0\" x2=\"870.0\" y2=\"44.0\" stroke=\"#e6550d\"") != std::string::npos);
}

TEST_CASE("an applied event of a policy using the chart is a marker at its time", "[report]") {
  ReportInput in = input_with({{kFrom, 0}, {kTo, 10}});
  Event applied = event(kFrom + 25'000, "p", EventKind::Applied);
  applied.knob = "cache_ttl";
  applied.from = 60;
  applied.to = 120;
  in.events.push_back(applied);
  in.events.push_back(event(kFrom + 50'000, "other", EventKind::RolledBack));
  Event back = event(kFrom + 75'000, "p", EventKind::RolledBack);
  back.knob = "cache_ttl";
  back.from = 120;
  back.to = 60;
  in.events.push_back(back);
  std::string page = html(in);
  CHECK(page.find("<g class=\"marker applied\"><title>2026-01-01T10:00:25Z p{job=&quot;api&quot;} "
                  "applied cache_ttl 60 -&gt; 120</title><line x1=\"270.0\" y1=\"44.0\" "
                  "x2=\"270.0\" y2=\"264.0\" stroke=\"#2ca02c\"") != std::string::npos);
  // The rollback of `other` is not on this chart: only that of p, dashed, at 75 s.
  CHECK(count(page, "<g class=\"marker rolled_back\">") == 1);
  CHECK(page.find("<line x1=\"670.0\" y1=\"44.0\" x2=\"670.0\" y2=\"264.0\" stroke=\"#d62728\" "
                  "stroke-width=\"1.5\" stroke-dasharray=\"6 3\"/>") != std::string::npos);
  // Both are in the events table, with the knob's change.
  CHECK(page.find("<tr class=\"applied\"><td>2026-01-01T10:00:25Z</td><td>p</td><td>"
                  "{job=&quot;api&quot;}</td><td>applied</td><td>cache_ttl 60 -&gt; 120</td>"
                  "<td></td></tr>") != std::string::npos);
  CHECK(count(page, "<tr class=\"rolled_back\">") == 2);
}

TEST_CASE("verdicts are labelled dots, stacked in rows when they meet", "[report]") {
  ReportInput in = input_with({{kFrom, 0}, {kTo, 10}});
  in.events.push_back(event(kFrom + 50'000, "p", EventKind::Confirmed));
  in.events.push_back(event(kFrom + 50'000, "p", EventKind::Regressed));
  in.events.push_back(event(kFrom + 50'000, "p", EventKind::Inconclusive));
  std::string page = html(in);
  CHECK(page.find("<circle cx=\"470.0\" cy=\"44.0\" r=\"4\" fill=\"#2ca02c\"/><text x=\"470.0\" "
                  "y=\"12\" text-anchor=\"middle\" fill=\"#2ca02c\">confirmed</text>") !=
        std::string::npos);
  CHECK(page.find("y=\"24\" text-anchor=\"middle\" fill=\"#d62728\">regressed</text>") !=
        std::string::npos);
  CHECK(page.find("y=\"36\" text-anchor=\"middle\" fill=\"#b8860b\">inconclusive</text>") !=
        std::string::npos);
}

TEST_CASE("axis labels follow the unit and the time axis is in UTC", "[report]") {
  ReportInput in = input_with({{kFrom, 0.2}, {kTo, 0.8}});
  in.charts[0].unit = "s";
  in.to_ms = kFrom + 40 * 60'000;  // 40 minutes: a tick every 5
  std::string page = html(in);
  CHECK(page.find(">200ms</text>") != std::string::npos);
  CHECK(page.find(">800ms</text>") != std::string::npos);
  CHECK(page.find(">01-01 10:00</text>") != std::string::npos);
  CHECK(page.find(">10:05</text>") != std::string::npos);
  CHECK(page.find(">10:40</text>") != std::string::npos);
  CHECK(count(page, "text-anchor=\"middle\">10:") == 8);

  in.charts[0].unit = "%";
  in.charts[0].series[0].points = {{kFrom, 0.5}, {kTo, 0.9}};
  page = html(in);
  CHECK(page.find(">50%</text>") != std::string::npos);
  CHECK(page.find(">90%</text>") != std::string::npos);

  in.charts[0].unit = "B";
  in.charts[0].series[0].points = {{kFrom, 0}, {kTo, 4 * 1048576.0}};
  page = html(in);
  CHECK(page.find(">4MiB</text>") != std::string::npos);
}

TEST_CASE("labels and policy names from outside are escaped, never markup", "[report]") {
  ReportInput in = input_with({{kFrom, 0}, {kTo, 1}});
  in.title = "<script>alert(1)</script>";
  in.charts[0].series[0].labels = "{job=\"<script>alert(2)</script>\"}";
  in.charts[0].policies = {"<script>p</script>"};
  in.charts[0].thresholds.push_back({"<b>x</b> & 'y'", 0.5});
  in.events.push_back(event(kFrom + 10'000, "<script>p</script>", EventKind::Applied));
  in.events.back().reason = "<img src=x onerror=alert(3)>";
  in.summary = {{"policy"}, {{"<script>p</script>"}}};
  std::string page = html(in);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("<img") == std::string::npos);
  CHECK(page.find("<b>x") == std::string::npos);
  CHECK(page.find("{job=&quot;&lt;script&gt;alert(2)&lt;/script&gt;&quot;}") != std::string::npos);
  CHECK(page.find("<td>&lt;script&gt;p&lt;/script&gt;</td>") != std::string::npos);
  CHECK(page.find("&lt;b&gt;x&lt;/b&gt; &amp; &#39;y&#39;") != std::string::npos);
  CHECK(page.find("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>") != std::string::npos);
}

TEST_CASE("downsampling keeps at most the limit of points and keeps a spike", "[report]") {
  std::vector<std::pair<int64_t, double>> points;
  for (int64_t k = 0; k < 10'000; ++k) points.emplace_back(kFrom + k * 10, k == 5'003 ? 100 : 1);
  ReportLimits limits;
  limits.max_points = 100;
  std::string page = html(input_with(points), limits);
  // The axis is 0..100: the spike is at the top of the plot, the rest at y = 261.8.
  size_t start = page.find("points=\"");
  REQUIRE(start != std::string::npos);
  std::string drawn = page.substr(start, page.find('"', start + 8) - start);
  CHECK(count(drawn, ",") <= 100);
  CHECK(count(drawn, ",44.0") == 1);
  CHECK(count(drawn, ",261.8") >= 49);

  ReportSeriesBuilder b(kFrom, kFrom + 100'000, 100);
  for (const auto& [t, v] : points) b.add(t, v == 100 ? -5 : v);  // a dip survives too
  b.add(kFrom + 100'000, NAN);
  std::vector<std::pair<int64_t, double>> kept = b.finish();
  size_t values = 0, dips = 0;
  for (const auto& [t, v] : kept) {
    values += !std::isnan(v);
    dips += v == -5;
  }
  CHECK(values <= 100);
  CHECK(dips == 1);
  CHECK(std::isnan(kept.back().second));  // the gap at the end is kept
}

TEST_CASE("a builder under its limit keeps every point and one gap per run of gaps", "[report]") {
  ReportSeriesBuilder b(kFrom, kTo, 100);
  b.add(kFrom, NAN);  // no gap before the first value
  b.add(kFrom + 1'000, 1);
  b.add(kFrom + 2'000, NAN);
  b.add(kFrom + 3'000, INFINITY);
  b.add(kFrom + 4'000, 2);
  std::vector<std::pair<int64_t, double>> kept = b.finish();
  REQUIRE(kept.size() == 3);
  CHECK(kept[0] == std::pair<int64_t, double>(kFrom + 1'000, 1));
  CHECK(kept[1].first == kFrom + 2'000);
  CHECK(std::isnan(kept[1].second));
  CHECK(kept[2] == std::pair<int64_t, double>(kFrom + 4'000, 2));
}

TEST_CASE("a chart shows at most the limit of series and says how many it left out", "[report]") {
  ReportInput in = input_with({{kFrom, 0}, {kTo, 1}});
  for (int k = 0; k < 11; ++k) {
    in.charts[0].series.push_back({"{k=\"" + std::to_string(k) + "\"}", {{kFrom, 0}, {kTo, 1}}});
  }
  in.charts[0].series_left_out = 3;
  std::string page = html(in);
  CHECK(count(page, "<polyline") == 10);
  CHECK(page.find("<p class=\"note\">5 more series not shown (at most 10 per chart)</p>") !=
        std::string::npos);
}

TEST_CASE("the same input writes the same bytes", "[report]") {
  ReportInput in = input_with({{kFrom, 0.25}, {kFrom + 40'000, NAN}, {kTo, 0.75}});
  in.charts[0].unit = "%";
  in.charts[0].thresholds.push_back({"p trigger > 50%", 0.5});
  in.events.push_back(event(kFrom + 30'000, "p", EventKind::Applied));
  in.summary = {{"policy", "fired"}, {{"p", "1"}}};
  in.charts.push_back(in.charts[0]);
  in.charts[1].title = "second";
  std::string first = html(in);
  CHECK(first == html(in));
  CHECK(count(first, "<svg") == 2);
  CHECK(first.find("<table>\n<tr><th>policy</th><th>fired</th></tr>\n<tr><td>p</td><td>1</td>"
                   "</tr>\n</table>") != std::string::npos);
}
