// The result of a PromQL query, read from Prometheus's HTTP API or from `setpoint eval --format
// json`, and the comparison of two of them that the conformance test reports.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace setpoint::test {

using Labels = std::map<std::string, std::string>;

struct Point {
  double t, v;
};

struct ResultSeries {
  Labels labels;              // with __name__ where the result keeps it
  std::vector<Point> points;  // one for an instant vector (its time is not compared)
};

enum class Kind { Scalar, Vector, Matrix };

struct QueryResult {
  Kind kind = Kind::Vector;
  double scalar = 0;
  std::vector<ResultSeries> series;
};

// The body of /api/v1/query or /api/v1/query_range. Throws std::runtime_error with
// Prometheus's message when the query failed, and on malformed JSON.
QueryResult parse_prometheus(const std::string& body);

// `[{"labels": {...}, "value": v}]`, `{"scalar": v}` or `[{"labels": {...}, "values": [[t, v],
// ...]}]`, NaN and infinities as the strings "NaN", "+Inf", "-Inf". An empty list is a range when
// `range` is set. Throws on anything else.
QueryResult parse_setpoint(const std::string& text, bool range);

// Equal within 1e-9 relative (1e-12 absolute near 0); NaN equals NaN, an infinity itself only.
bool same_value(double a, double b);

// What differs between Prometheus's result (`want`) and setpoint's (`got`), a line each; empty
// when they agree: the same label sets, the same kind, the same times, equal values.
std::vector<std::string> compare(const QueryResult& want, const QueryResult& got);

// Both results, a row per series (for a range, per point that differs, and a count of those that
// agree): the series on a line, Prometheus's value and setpoint's under it. `got` is null when
// setpoint gave no result.
std::string side_by_side(const QueryResult& want, const QueryResult* got);

// `{code="200",job="api"}`: labels sorted by name, as PromQL selector text.
std::string label_text(const Labels& labels);

// The shortest text that reads back as exactly v; "NaN", "+Inf", "-Inf".
std::string number_text(double v);

}  // namespace setpoint::test
