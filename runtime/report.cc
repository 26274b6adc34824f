// Writes the HTML report: the page, its tables, and one SVG chart per expression with its time
// and value axes, series, thresholds and event markers; and the min/max reduction of series.
#include "runtime/report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string_view>

#include "interpreter/civil_time.h"
#include "runtime/policy_files.h"

namespace setpoint {
namespace {

// Text for HTML and SVG alike, in content and in attribute values. Control characters other
// than tab and newline are not allowed in either and become U+FFFD.
std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

// A coordinate with one decimal, never "-0.0".
std::string coord(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", std::round(v * 10) / 10 + 0.0);
  return buffer;
}

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

std::string utc(int64_t t_ms, const char* format) {
  int64_t seconds = t_ms >= 0 ? t_ms / 1000 : -((-t_ms + 999) / 1000);
  CivilTime c = civil_time(seconds);
  char buffer[96];
  std::string_view f(format);
  if (f == "time") {
    std::snprintf(buffer, sizeof buffer, "%02u:%02u", c.hour, c.minute);
  } else if (f == "seconds") {
    std::snprintf(buffer, sizeof buffer, "%02u:%02u:%02u", c.hour, c.minute, c.second);
  } else if (f == "day") {
    std::snprintf(buffer, sizeof buffer, "%02u-%02u", c.month, c.day);
  } else {
    std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02u:%02u:%02uZ",
                  static_cast<long long>(c.year), c.month, c.day, c.hour, c.minute, c.second);
  }
  return buffer;
}

// ---- the value axis ----

struct ReportAxis {
  double lo = 0, hi = 1, step = 0.2;
};

// Rounds [min, max] out to multiples of a step of 1, 2, 2.5 or 5 times a power of ten, for
// about five intervals.
ReportAxis nice_axis(double min, double max) {
  if (!(min <= max)) return {};
  if (min == max) {
    double pad = min == 0 ? 1 : std::fabs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  double raw = (max - min) / 5;
  double magnitude = std::pow(10, std::floor(std::log10(raw)));
  double norm = raw / magnitude;
  double step = (norm <= 1     ? 1
                 : norm <= 2   ? 2
                 : norm <= 2.5 ? 2.5
                 : norm <= 5   ? 5
                               : 10) *
                magnitude;
  ReportAxis a;
  a.step = step;
  a.lo = std::floor(min / step + 1e-9) * step;
  a.hi = std::ceil(max / step - 1e-9) * step;
  if (a.hi <= a.lo) a.hi = a.lo + step;
  return a;
}

struct ReportScale {
  double divisor = 1;
  std::string suffix;
};

// How tick labels read for a unit, given the largest value on the axis.
ReportScale axis_scale(const std::string& unit, double magnitude) {
  if (unit == "s") {
    if (magnitude < 1) return {0.001, "ms"};
    if (magnitude < 1000) return {1, "s"};
    if (magnitude < 36000) return {60, "m"};
    return {3600, "h"};
  }
  if (unit == "%") return {0.01, "%"};
  if (unit == "B") {
    static const char* const names[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double d = 1;
    size_t k = 0;
    while (k + 1 < std::size(names) && magnitude >= d * 1024) {
      d *= 1024;
      ++k;
    }
    return {d, names[k]};
  }
  std::string base = unit == "/s" ? "/s" : unit;
  if (magnitude >= 1e9) return {1e9, "G" + base};
  if (magnitude >= 1e6) return {1e6, "M" + base};
  if (magnitude >= 1e4) return {1e3, "k" + base};
  return {1, base};
}

// Enough decimals to tell ticks `step` apart, at most 6.
int decimals_for(double step) {
  for (int k = 0; k < 6; ++k) {
    double scaled = step * std::pow(10, k);
    if (std::fabs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) return k;
  }
  return 6;
}

// v and the axis are in the scale's units already.
std::string tick_label(double v, const ReportAxis& axis, const ReportScale& scale) {
  if (std::fabs(v) < axis.step * 1e-9) v = 0;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals_for(axis.step), v + 0.0);
  return buffer + scale.suffix;
}

// ---- the time axis ----

// Ticks at multiples of a step since the epoch (so at round UTC times), at most about 8.
std::vector<std::pair<int64_t, std::string>> time_ticks(int64_t from_ms, int64_t to_ms) {
  static const int64_t steps[] = {
      1'000,       2'000,       5'000,         10'000,        15'000,        30'000,
      60'000,      120'000,     300'000,       600'000,       900'000,       1'800'000,
      3'600'000,   7'200'000,   10'800'000,    21'600'000,    43'200'000,    86'400'000,
      172'800'000, 604'800'000, 1'209'600'000, 2'592'000'000, 7'776'000'000, 31'536'000'000};
  int64_t span = to_ms - from_ms, step = steps[std::size(steps) - 1];
  for (int64_t s : steps) {
    if (span / s <= 8) {
      step = s;
      break;
    }
  }
  const char* format = step < 60'000 ? "seconds" : step < 86'400'000 ? "time" : "day";
  std::vector<std::pair<int64_t, std::string>> out;
  int64_t first = from_ms >= 0 ? (from_ms + step - 1) / step * step : -(-from_ms / step) * step;
  int64_t last_day = INT64_MIN;
  for (int64_t t = first; t <= to_ms && out.size() < 40; t += step) {
    std::string label = utc(t, format);
    int64_t day = (t >= 0 ? t : t - 86'399'999) / 86'400'000;
    // The date where a day begins (and at the first tick), so the axis says which day it is.
    if (std::string_view(format) != "day" && day != last_day) label = utc(t, "day") + " " + label;
    last_day = day;
    out.emplace_back(t, std::move(label));
  }
  return out;
}

// ---- markers ----

struct ReportMarkStyle {
  const char* css;  // its class, also for tests and user style sheets
  const char* colour;
  const char* dash;  // "" solid
  bool line;         // a vertical line across the plot (else a dot at its top)
};

const ReportMarkStyle* mark_style(EventKind kind) {
  static const ReportMarkStyle applied{"applied", "#2ca02c", "", true};
  static const ReportMarkStyle proposed{"proposed", "#7f7f7f", "2 3", true};
  static const ReportMarkStyle rolled_back{"rolled_back", "#d62728", "6 3", true};
  static const ReportMarkStyle confirmed{"confirmed", "#2ca02c", "", false};
  static const ReportMarkStyle inconclusive{"inconclusive", "#b8860b", "", false};
  static const ReportMarkStyle regressed{"regressed", "#d62728", "", false};
  static const ReportMarkStyle quarantined{"quarantined", "#6a3d9a", "", false};
  static const ReportMarkStyle paused{"paused", "#6a3d9a", "", false};
  switch (kind) {
    case EventKind::Applied:
      return &applied;
    case EventKind::Proposed:
    case EventKind::WouldApply:
      return &proposed;
    case EventKind::RolledBack:
      return &rolled_back;
    case EventKind::Confirmed:
      return &confirmed;
    case EventKind::Inconclusive:
      return &inconclusive;
    case EventKind::Regressed:
      return &regressed;
    case EventKind::Quarantined:
      return &quarantined;
    case EventKind::Paused:
      return &paused;
    default:
      return nullptr;
  }
}

std::string mark_label(const Event& e) {
  std::string to = std::isnan(e.to) ? "" : " \xE2\x86\x92 " + number(e.to);
  switch (e.kind) {
    case EventKind::Applied:
      return e.knob + to;
    case EventKind::Proposed:
    case EventKind::WouldApply:
      return std::string(event_kind_name(e.kind)) + " " + e.knob + to;
    case EventKind::RolledBack:
      return "rollback " + e.knob + to;
    default:
      return event_kind_name(e.kind);
  }
}

const char* const kSeriesColours[] = {"#1f77b4", "#9467bd", "#17becf", "#8c564b", "#e377c2",
                                      "#7f7f7f", "#bcbd22", "#ff7f0e", "#393b79", "#637939"};
const char* const kThresholdColours[] = {"#e6550d", "#843c39", "#31a354", "#636363"};

struct ReportPlot {
  int64_t from_ms, to_ms;
  ReportAxis axis;  // in units of divisor, so that 0.25 s reads 250ms with a step of 50
  double divisor = 1;
  double x(int64_t t) const {
    if (to_ms <= from_ms) return kReportPlotLeft + kReportPlotWidth / 2;
    return kReportPlotLeft + static_cast<double>(t - from_ms) /
                                 static_cast<double>(to_ms - from_ms) * kReportPlotWidth;
  }
  double y(double v) const {
    return kReportPlotTop + (1 - (v / divisor - axis.lo) / (axis.hi - axis.lo)) * kReportPlotHeight;
  }
};

void write_series(const ReportSeries& s, const ReportPlot& plot, const char* colour,
                  std::ostream& out) {
  std::vector<std::pair<double, double>> run;
  auto flush = [&] {
    if (run.size() == 1) {
      out << "<circle cx=\"" << coord(run[0].first) << "\" cy=\"" << coord(run[0].second)
          << "\" r=\"2\" fill=\"" << colour << "\"/>\n";
    } else if (run.size() > 1) {
      out << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\" points=\"";
      for (size_t i = 0; i < run.size(); ++i) {
        out << (i ? " " : "") << coord(run[i].first) << "," << coord(run[i].second);
      }
      out << "\"/>\n";
    }
    run.clear();
  };
  for (const auto& [t, v] : s.points) {
    if (!std::isfinite(v) || t < plot.from_ms || t > plot.to_ms) {
      if (std::isfinite(v)) continue;  // outside the axis: not drawn, and not a gap either
      flush();
      continue;
    }
    run.emplace_back(plot.x(t), plot.y(v));
  }
  flush();
}

void write_markers(const ReportChart& chart, const std::vector<Event>& events,
                   const ReportPlot& plot, std::ostream& out) {
  double row_end[3] = {-1e9, -1e9, -1e9};  // where the last label of each row ends
  for (const Event& e : events) {
    const ReportMarkStyle* style = mark_style(e.kind);
    if (!style || e.t_ms < plot.from_ms || e.t_ms > plot.to_ms) continue;
    if (std::find(chart.policies.begin(), chart.policies.end(), e.policy) == chart.policies.end())
      continue;
    double x = plot.x(e.t_ms), top = kReportPlotTop, bottom = top + kReportPlotHeight;
    out << "<g class=\"marker " << style->css << "\"><title>" << escape(event_text(e))
        << "</title>";
    if (style->line) {
      out << "<line x1=\"" << coord(x) << "\" y1=\"" << coord(top) << "\" x2=\"" << coord(x)
          << "\" y2=\"" << coord(bottom) << "\" stroke=\"" << style->colour
          << "\" stroke-width=\"1.5\"";
      if (*style->dash) out << " stroke-dasharray=\"" << style->dash << "\"";
      out << "/>";
      // Applied: a triangle pointing up from the time axis; rolled back: one pointing down
      // from the top; proposed: hollow.
      bool down = e.kind == EventKind::RolledBack;
      double base = down ? top : bottom, tip = down ? top + 8 : bottom - 8;
      bool hollow = e.kind == EventKind::Proposed || e.kind == EventKind::WouldApply;
      out << "<path d=\"M" << coord(x - 5) << "," << coord(base) << " L" << coord(x + 5) << ","
          << coord(base) << " L" << coord(x) << "," << coord(tip) << " Z\" stroke=\""
          << style->colour << "\" fill=\"" << (hollow ? "#fff" : style->colour) << "\"/>";
    } else {
      out << "<circle cx=\"" << coord(x) << "\" cy=\"" << coord(top) << "\" r=\"4\" fill=\""
          << style->colour << "\"/>";
    }
    // The label goes in the lowest row where it does not overlap the one before it.
    std::string label = mark_label(e);
    double width = 6.0 * static_cast<double>(label.size()) + 4;
    double start = std::clamp(x - width / 2, 0.0, kReportChartWidth - width);
    size_t row = 0;
    for (size_t r = 0; r < 3; ++r) {
      if (row_end[r] <= start) {
        row = r;
        break;
      }
      if (row_end[r] < row_end[row]) row = r;
    }
    row_end[row] = start + width;
    out << "<text x=\"" << coord(start + width / 2) << "\" y=\"" << (12 + 12 * row)
        << "\" text-anchor=\"middle\" fill=\"" << style->colour << "\">" << escape(label)
        << "</text></g>\n";
  }
}

void write_chart(const ReportInput& input, const ReportChart& chart, const ReportLimits& limits,
                 std::ostream& out) {
  size_t shown = std::min(chart.series.size(), limits.max_series);
  std::vector<ReportSeries> series(chart.series.begin(), chart.series.begin() + shown);
  double min = INFINITY, max = -INFINITY;
  for (ReportSeries& s : series) {
    if (s.points.size() > limits.max_points) {
      ReportSeriesBuilder b(input.from_ms, input.to_ms, limits.max_points);
      for (const auto& [t, v] : s.points) b.add(t, v);
      s.points = b.finish();
    }
    for (const auto& [t, v] : s.points) {
      if (!std::isfinite(v) || t < input.from_ms || t > input.to_ms) continue;
      min = std::min(min, v);
      max = std::max(max, v);
    }
  }
  for (const ReportThreshold& th : chart.thresholds) {
    if (!std::isfinite(th.value)) continue;
    min = std::min(min, th.value);
    max = std::max(max, th.value);
  }
  // The scale first (ms, MiB, k), then round ticks in it: 1 MiB steps rather than 1e6 B.
  ReportScale scale =
      axis_scale(chart.unit, min <= max ? std::max(std::fabs(min), std::fabs(max)) : 0);
  ReportPlot plot{input.from_ms, input.to_ms,
                  min <= max ? nice_axis(min / scale.divisor, max / scale.divisor) : ReportAxis{},
                  scale.divisor};

  out << "<section class=\"chart\">\n<h2>" << escape(chart.title) << "</h2>\n";
  if (!chart.expression.empty() && chart.expression != chart.title) {
    out << "<p class=\"expr\"><code>" << escape(chart.expression) << "</code></p>\n";
  }
  if (!chart.uses.empty()) {
    out << "<p class=\"used\">used in ";
    for (size_t i = 0; i < chart.uses.size(); ++i) {
      out << (i ? "; " : "") << escape(chart.uses[i]);
    }
    out << "</p>\n";
  } else if (!chart.policies.empty()) {
    out << "<p class=\"used\">used by ";
    for (size_t i = 0; i < chart.policies.size(); ++i) {
      out << (i ? ", " : "") << escape(chart.policies[i]);
    }
    out << "</p>\n";
  }
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kReportChartWidth << "\" height=\""
      << kReportChartHeight << "\" viewBox=\"0 0 " << kReportChartWidth << " " << kReportChartHeight
      << "\" font-family=\"sans-serif\" font-size=\"10\">\n<title>" << escape(chart.title)
      << "</title>\n";
  double left = kReportPlotLeft, right = left + kReportPlotWidth, top = kReportPlotTop,
         bottom = top + kReportPlotHeight;
  out << "<rect x=\"" << coord(left) << "\" y=\"" << coord(top) << "\" width=\""
      << coord(kReportPlotWidth) << "\" height=\"" << coord(kReportPlotHeight)
      << "\" fill=\"#fff\" stroke=\"#999\"/>\n";
  // Value ticks, with grid lines.
  for (int k = 0; k <= 40; ++k) {
    double v = plot.axis.lo + k * plot.axis.step;
    if (v > plot.axis.hi + plot.axis.step * 1e-6) break;
    double y = plot.y(v * plot.divisor);
    out << "<line x1=\"" << coord(left) << "\" y1=\"" << coord(y) << "\" x2=\"" << coord(right)
        << "\" y2=\"" << coord(y) << "\" stroke=\"#eee\"/><text x=\"" << coord(left - 6)
        << "\" y=\"" << coord(y + 3) << "\" text-anchor=\"end\">"
        << escape(tick_label(v, plot.axis, scale)) << "</text>\n";
  }
  for (const auto& [t, label] : time_ticks(input.from_ms, input.to_ms)) {
    double x = plot.x(t);
    out << "<line x1=\"" << coord(x) << "\" y1=\"" << coord(top) << "\" x2=\"" << coord(x)
        << "\" y2=\"" << coord(bottom) << "\" stroke=\"#eee\"/><text x=\"" << coord(x) << "\" y=\""
        << coord(bottom + 14) << "\" text-anchor=\"middle\">" << escape(label) << "</text>\n";
  }
  out << "<text x=\"" << coord(right) << "\" y=\"" << coord(bottom + 30)
      << "\" text-anchor=\"end\" fill=\"#666\">UTC</text>\n";
  for (size_t i = 0; i < chart.thresholds.size(); ++i) {
    const ReportThreshold& th = chart.thresholds[i];
    if (!std::isfinite(th.value)) continue;
    const char* colour = kThresholdColours[i % std::size(kThresholdColours)];
    double y = plot.y(th.value);
    out << "<g class=\"threshold\"><title>" << escape(th.label) << "</title><line x1=\""
        << coord(left) << "\" y1=\"" << coord(y) << "\" x2=\"" << coord(right) << "\" y2=\""
        << coord(y) << "\" stroke=\"" << colour << "\" stroke-dasharray=\"6 4\"/><text x=\""
        << coord(right - 4) << "\" y=\"" << coord(y - 3)
        << "\" text-anchor=\"end\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\" "
           "fill=\""
        << colour << "\">" << escape(th.label) << "</text></g>\n";
  }
  for (size_t i = 0; i < series.size(); ++i) {
    write_series(series[i], plot, kSeriesColours[i % std::size(kSeriesColours)], out);
  }
  write_markers(chart, input.events, plot, out);
  out << "</svg>\n<ul class=\"legend\">\n";
  for (size_t i = 0; i < series.size(); ++i) {
    out << "<li><span class=\"sw\" style=\"border-color:"
        << kSeriesColours[i % std::size(kSeriesColours)] << "\"></span>"
        << escape(series[i].labels.empty() ? chart.title : series[i].labels) << "</li>\n";
  }
  for (size_t i = 0; i < chart.thresholds.size(); ++i) {
    out << "<li><span class=\"sw dash\" style=\"border-color:"
        << kThresholdColours[i % std::size(kThresholdColours)] << "\"></span>"
        << escape(chart.thresholds[i].label) << "</li>\n";
  }
  out << "</ul>\n";
  size_t left_out = chart.series_left_out + (chart.series.size() - shown);
  if (left_out > 0) {
    out << "<p class=\"note\">" << left_out << " more series not shown (at most "
        << limits.max_series << " per chart)</p>\n";
  }
  if (series.empty()) out << "<p class=\"note\">no value in this time range</p>\n";
  out << "</section>\n";
}

void write_table(const ReportTable& table, std::ostream& out) {
  out << "<table>\n<tr>";
  for (const std::string& c : table.columns) out << "<th>" << escape(c) << "</th>";
  out << "</tr>\n";
  for (const auto& row : table.rows) {
    out << "<tr>";
    for (const std::string& cell : row) out << "<td>" << escape(cell) << "</td>";
    out << "</tr>\n";
  }
  out << "</table>\n";
}

void write_events(const ReportInput& input, const ReportLimits& limits, std::ostream& out) {
  out << "<h2>Events</h2>\n";
  if (input.events.empty()) {
    out << "<p class=\"note\">no events</p>\n";
    return;
  }
  out << "<table class=\"events\">\n<tr><th>time (UTC)</th><th>policy</th><th>instance</th>"
         "<th>event</th><th>knob</th><th>reason</th></tr>\n";
  size_t rows = std::min(input.events.size(), limits.max_event_rows);
  for (size_t i = 0; i < rows; ++i) {
    const Event& e = input.events[i];
    std::string knob = e.knob;
    if (!knob.empty() && (!std::isnan(e.from) || !std::isnan(e.to))) {
      knob += " " + number(e.from) + " -> " + number(e.to);
    }
    out << "<tr class=\"" << event_kind_name(e.kind) << "\"><td>" << utc(e.t_ms, "rfc3339")
        << "</td><td>" << escape(e.policy) << "</td><td>" << escape(labels_text(e.instance))
        << "</td><td>" << event_kind_name(e.kind) << "</td><td>" << escape(knob) << "</td><td>"
        << escape(e.reason) << "</td></tr>\n";
  }
  out << "</table>\n";
  size_t left_out = input.events.size() - rows + input.events_left_out;
  if (left_out > 0) out << "<p class=\"note\">" << left_out << " more events not shown</p>\n";
}

const char* kStyle =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin:1.2em 0 .3em}"
    "p{margin:.2em 0}.note,.used,.expr{color:#555;font-size:.9em}"
    "table{border-collapse:collapse;font-size:.85em;margin:.5em 0}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}tr.rolled_back td,tr.regressed td{background:#fdecea}"
    "tr.applied td,tr.confirmed td{background:#eaf6ea}"
    ".legend{list-style:none;padding:0;margin:.2em 0;font-size:.85em}"
    ".legend li{display:inline-block;margin-right:1.5em}"
    ".sw{display:inline-block;width:24px;margin-right:4px;vertical-align:middle;"
    "border-top:2px solid}.sw.dash{border-top-style:dashed}"
    ".sw.dot{border-top-style:dotted}svg{display:block}";

}  // namespace

void write_report(const ReportInput& input, std::ostream& out, const ReportLimits& limits) {
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
      << escape(input.title) << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n<h1>"
      << escape(input.title) << "</h1>\n";
  for (const std::string& n : input.notes) out << "<p class=\"note\">" << escape(n) << "</p>\n";
  out << "<p class=\"note\">from " << utc(input.from_ms, "rfc3339") << " to "
      << utc(input.to_ms, "rfc3339") << "</p>\n";
  if (!input.summary.columns.empty()) {
    out << "<h2>Summary</h2>\n";
    write_table(input.summary, out);
  }
  out << "<ul class=\"legend\">"
         "<li><span class=\"sw\" style=\"border-color:#2ca02c\"></span>applied</li>"
         "<li><span class=\"sw dash\" style=\"border-color:#d62728\"></span>rolled back</li>"
         "<li><span class=\"sw dot\" style=\"border-color:#7f7f7f\"></span>proposed, dry-run</li>"
         "<li>&#9679; verdicts: confirmed, inconclusive, regressed</li></ul>\n";
  for (const ReportChart& chart : input.charts) write_chart(input, chart, limits, out);
  write_events(input, limits, out);
  out << "</body>\n</html>\n";
}

// ---- the series builder ----

ReportSeriesBuilder::ReportSeriesBuilder(int64_t from_ms, int64_t to_ms, size_t max_points)
    : from_ms_(from_ms),
      to_ms_(std::max(from_ms, to_ms)),
      max_points_(std::max<size_t>(2, max_points)) {}

void ReportSeriesBuilder::add(int64_t t_ms, double value) {
  if (!std::isfinite(value)) {
    // One gap is as good as many.
    if (points_.empty() || std::isnan(points_.back().second)) return;
    value = NAN;
  }
  points_.emplace_back(t_ms, value);
  if (points_.size() >= 4 * max_points_) reduce();
}

std::vector<std::pair<int64_t, double>> ReportSeriesBuilder::finish() {
  size_t values = 0;
  for (const auto& p : points_) values += !std::isnan(p.second);
  if (values > max_points_) reduce();
  return std::move(points_);
}

// Keeps, per time column, the first minimum, the first maximum and the first and last gap, in
// time order. What it keeps of a column holds that column's extremes and gaps, so reducing
// again (as more points arrive) gives what one reduction of all the points would.
void ReportSeriesBuilder::reduce() {
  int64_t columns = static_cast<int64_t>(max_points_ / 2);
  int64_t span = to_ms_ - from_ms_ + 1;
  auto column = [&](int64_t t) {
    int64_t d = std::clamp<int64_t>(t - from_ms_, 0, span - 1);
    return static_cast<int64_t>(static_cast<long double>(d) * columns / span);
  };
  std::vector<std::pair<int64_t, double>> out;
  size_t i = 0;
  while (i < points_.size()) {
    int64_t c = column(points_[i].first);
    size_t end = i;
    size_t lo = SIZE_MAX, hi = SIZE_MAX, first_gap = SIZE_MAX, last_gap = SIZE_MAX;
    for (; end < points_.size() && column(points_[end].first) == c; ++end) {
      double v = points_[end].second;
      if (std::isnan(v)) {
        if (first_gap == SIZE_MAX) first_gap = end;
        last_gap = end;
        continue;
      }
      if (lo == SIZE_MAX || v < points_[lo].second) lo = end;
      if (hi == SIZE_MAX || v > points_[hi].second) hi = end;
    }
    size_t keep[4] = {lo, hi, first_gap, last_gap};
    std::sort(std::begin(keep), std::end(keep));
    for (size_t k = 0; k < 4; ++k) {
      if (keep[k] == SIZE_MAX || (k > 0 && keep[k] == keep[k - 1])) continue;
      const auto& p = points_[keep[k]];
      if (std::isnan(p.second) && !out.empty() && std::isnan(out.back().second)) continue;
      out.push_back(p);
    }
    i = end;
  }
  points_ = std::move(out);
}

bool write_report_file(const std::string& path, const std::string& html, std::string& error) {
  struct stat st {};
  bool existed = ::stat(path.c_str(), &st) == 0;
  if (!write_file_atomically(path, html, error)) return false;
  if (!existed) {
    mode_t mask = ::umask(0);
    ::umask(mask);
    ::chmod(path.c_str(), 0666 & ~mask);
  }
  return true;
}

}  // namespace setpoint
