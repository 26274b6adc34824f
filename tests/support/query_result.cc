// The result of a PromQL query, read from Prometheus's HTTP API or from `setpoint eval --format
// json`, and the comparison of two of them that the conformance test reports.
#include "support/query_result.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>

namespace setpoint::test {

using nlohmann::json;

std::string label_text(const Labels& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) out += (out.size() > 1 ? "," : "") + k + "=\"" + v + "\"";
  return out + "}";
}

std::string number_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
  return std::string(buf, r.ptr);
}

namespace {

const char* kind_name(Kind k) {
  return k == Kind::Scalar ? "a scalar" : k == Kind::Vector ? "an instant vector" : "a range";
}

// Both sides print NaN and infinities as strings; Prometheus prints every value as a string.
double json_number(const json& j) {
  if (j.is_number()) return j.get<double>();
  if (!j.is_string()) throw std::runtime_error("not a number: " + j.dump());
  std::string s = j.get<std::string>();
  if (s == "NaN") return std::nan("");
  if (s == "+Inf" || s == "Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) {
    throw std::runtime_error("not a number: " + s);
  }
  return v;
}

Labels json_labels(const json& j) {
  Labels labels;
  for (const auto& [k, v] : j.items()) labels[k] = v.get<std::string>();
  return labels;
}

std::map<std::string, const ResultSeries*> by_labels(const QueryResult& r, const char* who,
                                                     std::vector<std::string>& problems) {
  std::map<std::string, const ResultSeries*> out;
  for (const ResultSeries& s : r.series) {
    if (!out.emplace(label_text(s.labels), &s).second) {
      problems.push_back(std::string(who) + " returned " + label_text(s.labels) + " twice");
    }
  }
  return out;
}

}  // namespace

QueryResult parse_prometheus(const std::string& body) {
  json j = json::parse(body);
  if (j.value("status", "") != "success") {
    throw std::runtime_error("prometheus refused the query: " + j.value("error", body));
  }
  const json& data = j.at("data");
  std::string type = data.at("resultType");
  QueryResult r;
  if (type == "scalar") {
    r.kind = Kind::Scalar;
    r.scalar = json_number(data.at("result").at(1));
    return r;
  }
  if (type != "vector" && type != "matrix") throw std::runtime_error("result type " + type);
  r.kind = type == "vector" ? Kind::Vector : Kind::Matrix;
  for (const json& s : data.at("result")) {
    ResultSeries series{json_labels(s.at("metric")), {}};
    if (r.kind == Kind::Vector) {
      series.points.push_back({json_number(s.at("value").at(0)), json_number(s.at("value").at(1))});
    } else {
      for (const json& p : s.at("values"))
        series.points.push_back({json_number(p.at(0)), json_number(p.at(1))});
    }
    r.series.push_back(std::move(series));
  }
  return r;
}

QueryResult parse_setpoint(const std::string& text, bool range) {
  json j = json::parse(text);
  QueryResult r;
  if (j.is_object() && j.contains("scalar")) {
    r.kind = Kind::Scalar;
    r.scalar = json_number(j.at("scalar"));
    return r;
  }
  if (!j.is_array()) throw std::runtime_error("neither a scalar nor a list of series");
  r.kind = range ? Kind::Matrix : Kind::Vector;
  for (const json& s : j) {
    ResultSeries series{json_labels(s.at("labels")), {}};
    if (s.contains("values")) {
      r.kind = Kind::Matrix;
      for (const json& p : s.at("values"))
        series.points.push_back({json_number(p.at(0)), json_number(p.at(1))});
    } else {
      r.kind = Kind::Vector;
      series.points.push_back({0, json_number(s.at("value"))});
    }
    r.series.push_back(std::move(series));
  }
  return r;
}

// NaN equals NaN, an infinity only itself, others within 1e-9 relative. The 1e-12 absolute floor
// lets a result that is mathematically 0 (the delta of a flat window) differ by rounding noise
// between summation orders (2.42 sums naively, 3.x and setpoint may use Kahan).
bool same_value(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  if (std::isinf(a) || std::isinf(b)) return false;
  double diff = std::fabs(a - b);
  return diff <= 1e-9 * std::max(std::fabs(a), std::fabs(b)) || diff <= 1e-12;
}

std::vector<std::string> compare(const QueryResult& want, const QueryResult& got) {
  std::vector<std::string> problems;
  if (want.kind != got.kind) {
    problems.push_back(std::string("prometheus returned ") + kind_name(want.kind) + ", setpoint " +
                       kind_name(got.kind));
    return problems;
  }
  if (want.kind == Kind::Scalar) {
    if (!same_value(want.scalar, got.scalar)) problems.push_back("the scalars differ");
    return problems;
  }
  auto wanted = by_labels(want, "prometheus", problems);
  auto gotten = by_labels(got, "setpoint", problems);
  for (const auto& [key, w] : wanted) {
    auto it = gotten.find(key);
    if (it == gotten.end()) {
      problems.push_back("missing from setpoint: " + key);
      continue;
    }
    const auto &wp = w->points, &gp = it->second->points;
    if (want.kind == Kind::Vector) {
      if (!same_value(wp[0].v, gp[0].v)) problems.push_back("the values differ for " + key);
      continue;
    }
    for (size_t i = 0; i < std::max(wp.size(), gp.size()); ++i) {
      if (i >= wp.size() || i >= gp.size() || std::fabs(wp[i].t - gp[i].t) > 1e-6) {
        problems.push_back(key + ": the timestamps differ from point " + std::to_string(i) +
                           " (prometheus has " + std::to_string(wp.size()) + ", setpoint " +
                           std::to_string(gp.size()) + ")");
        break;
      }
      if (!same_value(wp[i].v, gp[i].v)) {
        problems.push_back(key + ": the values differ at " + number_text(wp[i].t));
        break;
      }
    }
  }
  for (const auto& [key, g] : gotten) {
    if (!wanted.count(key)) problems.push_back("extra in setpoint: " + key);
  }
  return problems;
}

std::string side_by_side(const QueryResult& want, const QueryResult* got) {
  std::vector<std::array<std::string, 3>> rows{{"", "prometheus", "setpoint"}};
  auto scalar = [](const QueryResult* r) {
    return !r ? "(no result)" : r->kind == Kind::Scalar ? number_text(r->scalar) : "(not scalar)";
  };
  if (want.kind == Kind::Scalar || (got && got->kind == Kind::Scalar)) {
    rows.push_back({"scalar", scalar(&want), scalar(got)});
  }
  std::vector<std::string> ignored;
  auto wanted = by_labels(want, "prometheus", ignored);
  auto gotten = got ? by_labels(*got, "setpoint", ignored) : decltype(wanted){};
  std::set<std::string> keys;
  for (const auto* m : {&wanted, &gotten}) {
    for (const auto& [key, s] : *m) keys.insert(key);
  }
  using Values = std::pair<std::optional<double>, std::optional<double>>;
  for (const std::string& key : keys) {
    std::map<double, Values> at;  // time (0 in an instant vector) -> both values
    if (wanted.count(key)) {
      for (const Point& p : wanted[key]->points)
        at[want.kind == Kind::Matrix ? p.t : 0].first = p.v;
    }
    if (gotten.count(key)) {
      for (const Point& p : gotten[key]->points)
        at[got->kind == Kind::Matrix ? p.t : 0].second = p.v;
    }
    size_t agree = 0, shown = 0;
    for (const auto& [t, v] : at) {
      bool range = want.kind == Kind::Matrix;
      if (range && v.first && v.second && same_value(*v.first, *v.second)) {
        ++agree;
      } else if (!range || ++shown <= 5) {
        rows.push_back({range ? key + " @" + number_text(t) : key,
                        v.first ? number_text(*v.first) : "-",
                        v.second ? number_text(*v.second)
                        : got    ? "-"
                                 : "(no result)"});
      }
    }
    if (shown > 5) rows.push_back({key, "... " + std::to_string(shown - 5) + " more differ", ""});
    if (agree > 0) {
      rows.push_back(
          {key, std::to_string(agree) + (agree == 1 ? " point agrees" : " points agree"), ""});
    }
  }
  // A series on its line, both values under it: Catch2 wraps messages at 80 columns, and long
  // label sets would wrap a table with the values beside them.
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row[1].size());
  std::string out;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) out += "    " + rows[i][0] + "\n";
    std::string values = rows[i][1] + std::string(width - rows[i][1].size() + 2, ' ') + rows[i][2];
    out += "        " + values.substr(0, values.find_last_not_of(' ') + 1) + "\n";
  }
  return out;
}

}  // namespace setpoint::test
