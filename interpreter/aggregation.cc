// PromQL's aggregation operators over an instant vector, grouped by (...) or without (...):
// sum avg min max count group stddev stdvar quantile topk bottomk count_values. Sums are
// Kahan-compensated and averages incremental, as in Prometheus 3.x.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <unordered_map>

#include "interpreter/evaluator.h"
#include "interpreter/kahan_sum.h"
#include "interpreter/range_functions.h"

namespace setpoint {
namespace {

struct Group {
  LabelSetId labels;
  std::vector<const VectorSample*> members;
};

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  // Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal that round-trips.
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v) break;
  }
  std::string s = buffer;
  if (s.find('e') != std::string::npos) {
    std::snprintf(buffer, sizeof buffer, "%.17f", v);
    s = buffer;
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

double aggregate_values(std::string_view op, const std::vector<const VectorSample*>& m,
                        double parameter) {
  if (op == "sum") {
    double sum = 0, c = 0;
    for (const VectorSample* s : m) kahan_inc(s->value, sum, c);
    return sum + c;
  }
  if (op == "avg") {
    // Incremental mean with compensation, falling back as Prometheus does around infinities.
    double mean = 0, c = 0, count = 0;
    for (const VectorSample* s : m) {
      ++count;
      if (std::isinf(mean)) {
        if (std::isinf(s->value) && (mean > 0) == (s->value > 0)) continue;
        if (!std::isinf(s->value) && !std::isnan(s->value)) continue;
      }
      kahan_inc(s->value / count - (mean + c) / count, mean, c);
    }
    return std::isinf(mean) ? mean : mean + c;
  }
  if (op == "min" || op == "max") {
    double v = m.front()->value;
    for (const VectorSample* s : m) {
      // NaN loses to any number, as in Prometheus.
      if (std::isnan(v) || (op == "min" ? s->value < v : s->value > v)) v = s->value;
    }
    return v;
  }
  if (op == "count") return static_cast<double>(m.size());
  if (op == "group") return 1;
  if (op == "stddev" || op == "stdvar") {
    double count = 0, mean = 0, m2 = 0;
    for (const VectorSample* s : m) {
      ++count;
      double delta = s->value - mean;
      mean += delta / count;
      m2 += delta * (s->value - mean);
    }
    double var = m2 / count;
    return op == "stddev" ? std::sqrt(var) : var;
  }
  if (op == "quantile") {
    std::vector<double> values;
    for (const VectorSample* s : m) values.push_back(s->value);
    return quantile(parameter, values);
  }
  throw EvalError("aggregation " + std::string(op) + " is not supported");
}

}  // namespace

Value aggregate(const Expr& e, uint32_t slot, const Value* parameter, const Value& operand,
                int64_t t_ms, LabelTable& table) {
  std::string_view op = e.text;
  Value out;
  // Groups in the order their first member appears, as Prometheus orders them.
  std::vector<Group> groups;
  std::unordered_map<LabelSetId, size_t> index;
  for (const VectorSample& s : operand.vector) {
    LabelSetId key = e.grouping == Grouping::None ? LabelTable::kEmpty
                                                  : table.project(slot, s.labels, e.grouping_labels,
                                                                  e.grouping == Grouping::By);
    auto [it, fresh] = index.emplace(key, groups.size());
    if (fresh) groups.push_back({key, {}});
    groups[it->second].members.push_back(&s);
  }
  if (op == "topk" || op == "bottomk") {
    double k = parameter ? parameter->scalar : 0;
    if (std::isnan(k)) throw EvalError("Parameter value is NaN");
    if (k < 1) return out;
    size_t keep = k >= 1e18 ? SIZE_MAX : static_cast<size_t>(k);
    bool top = op == "topk";
    for (Group& g : groups) {
      std::vector<const VectorSample*>& m = g.members;
      // NaN sorts last either way; equal values keep their input order.
      std::stable_sort(m.begin(), m.end(), [&](const VectorSample* a, const VectorSample* b) {
        if (std::isnan(a->value)) return false;
        if (std::isnan(b->value)) return true;
        return top ? a->value > b->value : a->value < b->value;
      });
      m.resize(std::min(keep, m.size()));
      for (const VectorSample* s : m) out.vector.push_back({s->labels, s->value, t_ms});
    }
    return out;
  }
  if (op == "count_values") {
    std::string label = parameter ? parameter->string : "";
    std::unordered_map<LabelSetId, size_t> counted;
    for (const Group& g : groups) {
      for (const VectorSample* s : g.members) {
        Labels l = table.get(g.labels);
        std::erase_if(l, [&](const Label& x) { return x.name == label; });
        l.push_back({label, format_value(s->value)});
        std::sort(l.begin(), l.end());
        LabelSetId id = table.intern(l);
        auto [it, fresh] = counted.emplace(id, out.vector.size());
        if (fresh) out.vector.push_back({id, 0, t_ms});
        out.vector[it->second].value += 1;
      }
    }
    return out;
  }
  double p = parameter ? parameter->scalar : 0;
  out.vector.reserve(groups.size());
  for (const Group& g : groups) {
    out.vector.push_back({g.labels, aggregate_values(op, g.members, p), t_ms});
  }
  return out;
}

}  // namespace setpoint
