// The HTML report of a replay (and of the daemon's live demo): one self-contained page with an
// SVG chart per expression, markers for what the policies did, and tables of events and counts.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "interpreter/engine_event.h"

namespace setpoint {

// One series of a chart: its label set as Prometheus prints it and its values in time order.
// A NaN (or an infinity) is a time without a value: the line has a gap there.
struct ReportSeries {
  std::string labels;
  std::vector<std::pair<int64_t, double>> points;
};

struct ReportThreshold {
  std::string label;  // "enable_cache trigger > 500ms"
  double value = 0;
};

struct ReportChart {
  std::string title;       // the let name, or the expression as written
  std::string expression;  // as written (shown under the title when it differs)
  std::string unit;        // "s", "%", "B", "/s" or "": how axis labels read (500ms, 80%)
  std::vector<ReportThreshold> thresholds;
  std::vector<std::string> policies;  // whose events are marked on this chart
  std::vector<std::string> uses;      // where it appears: "enable_cache expect decreases by 20%"
  std::vector<ReportSeries> series;
  size_t series_left_out = 0;  // series the caller already dropped, added to the note
};

// A table of text cells: the per-policy summary.
struct ReportTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

struct ReportInput {
  std::string title;
  std::vector<std::string> notes;  // lines under the title: what was replayed, with what
  int64_t from_ms = 0;             // the time axis of every chart
  int64_t to_ms = 0;
  ReportTable summary;
  std::vector<ReportChart> charts;
  std::vector<Event> events;  // in time order
  size_t events_left_out = 0;
};

// What keeps a report small whatever the input.
struct ReportLimits {
  size_t max_points = 1600;  // per series: min and max of each of max_points / 2 time columns
  size_t max_series = 10;    // per chart: the first ones, the rest counted in a note
  size_t max_event_rows = 2000;
};

// The geometry of every chart, in SVG user units: the plot area is [left, left + width] by
// [top, top + height]; times map linearly from from_ms..to_ms, values from the y axis' range
// (rounded out to "nice" ticks) bottom to top. Above the plot, three rows of marker labels.
inline constexpr int kReportChartWidth = 890;
inline constexpr int kReportChartHeight = 300;
inline constexpr double kReportPlotLeft = 70;
inline constexpr double kReportPlotTop = 44;
inline constexpr double kReportPlotWidth = 800;
inline constexpr double kReportPlotHeight = 220;

// Writes the page: inline CSS and SVG only (no script, no external resource), every string
// escaped, the same bytes for the same input.
void write_report(const ReportInput& input, std::ostream& out, const ReportLimits& limits = {});

// Writes a finished page to `path` atomically. A new file is as readable as any new file
// (0666 less the umask: the temporary file behind it was private); an existing one keeps its
// mode. False with `error` set when it cannot be written.
bool write_report_file(const std::string& path, const std::string& html, std::string& error);

// Collects one series point by point in time order while keeping memory bounded: once it holds
// 4 x max_points points it keeps only the minimum, the maximum and the first and last gap of
// each of max_points / 2 time columns of from_ms..to_ms, so a spike survives. finish() returns
// the points, reduced that way if there are more than max_points (at most max_points values).
class ReportSeriesBuilder {
 public:
  ReportSeriesBuilder(int64_t from_ms, int64_t to_ms, size_t max_points);
  void add(int64_t t_ms, double value);
  size_t size() const { return points_.size(); }
  std::vector<std::pair<int64_t, double>> finish();

 private:
  void reduce();
  int64_t from_ms_, to_ms_;
  size_t max_points_;
  std::vector<std::pair<int64_t, double>> points_;
};

}  // namespace setpoint
