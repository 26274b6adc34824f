// PromQL's functions of instant vectors and scalars: math, clamping, time and date, absent,
// sorting, label rewriting and histogram_quantile. The range-vector functions are in
// range_functions.cc.
#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>
#include <regex>
#include <unordered_map>

#include "interpreter/civil_time.h"
#include "interpreter/evaluator.h"

namespace setpoint {
namespace {

double go_round(double v, double to_nearest) {
  double inverse = 1.0 / to_nearest;
  return std::floor(v * inverse + 0.5) / inverse;
}

double sgn(double v) {
  if (std::isnan(v)) return v;
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

// Go's math.Max / math.Min: NaN wins.
double go_max(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }
double go_min(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); }

using Math = double (*)(double);
const std::map<std::string_view, Math>& math_functions() {
  static const std::map<std::string_view, Math> table = {
      {"abs", [](double v) { return std::fabs(v); }},
      {"ceil", [](double v) { return std::ceil(v); }},
      {"floor", [](double v) { return std::floor(v); }},
      {"exp", [](double v) { return std::exp(v); }},
      {"ln", [](double v) { return std::log(v); }},
      {"log2", [](double v) { return std::log2(v); }},
      {"log10", [](double v) { return std::log10(v); }},
      {"sqrt", [](double v) { return std::sqrt(v); }},
      {"sgn", sgn},
      {"sin", [](double v) { return std::sin(v); }},
      {"cos", [](double v) { return std::cos(v); }},
      {"tan", [](double v) { return std::tan(v); }},
      {"asin", [](double v) { return std::asin(v); }},
      {"acos", [](double v) { return std::acos(v); }},
      {"atan", [](double v) { return std::atan(v); }},
      {"deg", [](double v) { return v * 180 / std::numbers::pi; }},
      {"rad", [](double v) { return v * std::numbers::pi / 180; }},
  };
  return table;
}

double date_part(std::string_view name, double seconds) {
  CivilTime c = civil_time(static_cast<int64_t>(std::floor(seconds)));
  if (name == "day_of_month") return c.day;
  if (name == "day_of_week") return c.weekday;
  if (name == "day_of_year") return c.day_of_year;
  if (name == "days_in_month") return c.days_in_month;
  if (name == "hour") return c.hour;
  if (name == "minute") return c.minute;
  if (name == "month") return c.month;
  return static_cast<double>(c.year);
}

bool is_date_function(std::string_view name) {
  return name == "day_of_month" || name == "day_of_week" || name == "day_of_year" ||
         name == "days_in_month" || name == "hour" || name == "minute" || name == "month" ||
         name == "year";
}

void set_label(Labels& labels, const std::string& name, const std::string& value) {
  std::erase_if(labels, [&](const Label& l) { return l.name == name; });
  if (!value.empty()) labels.push_back({name, value});
  std::sort(labels.begin(), labels.end());
}

// Go's regexp.Expand for `$1`, `${1}` and `$$` (named groups are not supported by std::regex).
std::string expand(const std::string& replacement, const std::smatch& m) {
  std::string out;
  for (size_t i = 0; i < replacement.size(); ++i) {
    char c = replacement[i];
    if (c != '$' || i + 1 == replacement.size()) {
      out += c;
      continue;
    }
    if (replacement[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    size_t start = i + 1, end;
    bool braced = replacement[start] == '{';
    if (braced) ++start;
    end = start;
    while (end < replacement.size() && std::isdigit(static_cast<unsigned char>(replacement[end])))
      ++end;
    if (end == start || (braced && (end >= replacement.size() || replacement[end] != '}'))) {
      out += c;
      continue;
    }
    size_t group = std::stoul(replacement.substr(start, end - start));
    if (group < m.size()) out += m[group].str();
    i = braced ? end : end - 1;
  }
  return out;
}

void require_unique(const Vector& v) {
  std::vector<LabelSetId> seen;
  for (const VectorSample& s : v) seen.push_back(s.labels);
  std::sort(seen.begin(), seen.end());
  if (std::adjacent_find(seen.begin(), seen.end()) != seen.end()) {
    throw EvalError("vector cannot contain metrics with the same labelset");
  }
}

// Prometheus' bucketQuantile over classic (le-labelled) buckets.
double bucket_quantile(double q, std::vector<std::pair<double, double>> buckets) {
  if (std::isnan(q)) return NAN;
  if (q < 0) return -INFINITY;
  if (q > 1) return INFINITY;
  std::sort(buckets.begin(), buckets.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  if (buckets.empty() || !std::isinf(buckets.back().first) || buckets.back().first < 0) {
    return NAN;
  }
  // Buckets with the same bound are one bucket; counts are made monotonic.
  std::vector<std::pair<double, double>> merged;
  for (const auto& b : buckets) {
    if (!merged.empty() && merged.back().first == b.first) {
      merged.back().second += b.second;
    } else {
      merged.push_back(b);
    }
  }
  for (size_t i = 1; i < merged.size(); ++i) {
    if (merged[i].second < merged[i - 1].second) merged[i].second = merged[i - 1].second;
  }
  if (merged.size() < 2) return NAN;
  double observations = merged.back().second;
  if (observations == 0) return NAN;
  double rank = q * observations;
  size_t b = 0;
  while (b < merged.size() - 1 && merged[b].second < rank) ++b;
  if (b == merged.size() - 1) return merged[merged.size() - 2].first;
  if (b == 0 && merged[0].first <= 0) return merged[0].first;
  double start = 0, end = merged[b].first, count = merged[b].second;
  if (b > 0) {
    start = merged[b - 1].first;
    count -= merged[b - 1].second;
    rank -= merged[b - 1].second;
  }
  return start + (end - start) * (rank / count);
}

Value histogram_quantile(double q, const Vector& v, uint32_t slot, int64_t t_ms,
                         LabelTable& table) {
  static const std::vector<std::string_view> kLe = {"le"};
  std::unordered_map<LabelSetId, size_t> index;
  std::vector<std::pair<LabelSetId, std::vector<std::pair<double, double>>>> groups;
  for (const VectorSample& s : v) {
    std::string_view le = label_value(table.get(s.labels), "le");
    if (le.empty()) continue;
    std::string text(le);
    char* end = nullptr;
    double bound = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0') continue;
    LabelSetId key = table.project(slot, s.labels, kLe, false);  // without le and __name__
    auto [it, fresh] = index.emplace(key, groups.size());
    if (fresh) groups.push_back({key, {}});
    groups[it->second].second.push_back({bound, s.value});
  }
  Value out;
  for (auto& [key, buckets] : groups) {
    out.vector.push_back({key, bucket_quantile(q, std::move(buckets)), t_ms});
  }
  return out;
}

template <typename F>
Value map_vector(const Value& v, int64_t t_ms, LabelTable& table, F f) {
  // A knob's value is a scalar, and policies compute new knob values with the same functions:
  // clamp(cache_ttl * 2, 30s, 10m).
  if (v.type == ValueType::Scalar) return Value::of_scalar(f(v.scalar));
  Value out;
  out.vector.reserve(v.vector.size());
  for (const VectorSample& s : v.vector) {
    out.vector.push_back({table.without_name(s.labels), f(s.value), t_ms});
  }
  return out;
}

}  // namespace

Value instant_function(std::string_view name, uint32_t slot, const std::vector<const Value*>& args,
                       const Expr* first_selector, int64_t t_ms, LabelTable& table) {
  double now = static_cast<double>(t_ms) / 1000.0;
  if (auto found = math_functions().find(name); found != math_functions().end()) {
    return map_vector(*args[0], t_ms, table, found->second);
  }
  if (name == "time") return Value::of_scalar(now);
  if (name == "pi") return Value::of_scalar(std::numbers::pi);
  if (name == "scalar") {
    const Vector& v = args[0]->vector;
    return Value::of_scalar(v.size() == 1 ? v[0].value : NAN);
  }
  if (name == "vector") {
    Value out;
    out.vector.push_back({LabelTable::kEmpty, args[0]->scalar, t_ms});
    return out;
  }
  if (name == "round") {
    double to = args.size() > 1 ? args[1]->scalar : 1;
    return map_vector(*args[0], t_ms, table, [to](double v) { return go_round(v, to); });
  }
  if (name == "clamp") {
    double lo = args[1]->scalar, hi = args[2]->scalar;
    if (hi < lo) return Value{};
    return map_vector(*args[0], t_ms, table, [=](double v) { return go_max(lo, go_min(hi, v)); });
  }
  if (name == "clamp_min") {
    double lo = args[1]->scalar;
    return map_vector(*args[0], t_ms, table, [=](double v) { return go_max(lo, v); });
  }
  if (name == "clamp_max") {
    double hi = args[1]->scalar;
    return map_vector(*args[0], t_ms, table, [=](double v) { return go_min(hi, v); });
  }
  if (name == "timestamp") {
    Value out;
    for (const VectorSample& s : args[0]->vector) {
      out.vector.push_back(
          {table.without_name(s.labels), static_cast<double>(s.t_ms) / 1000.0, t_ms});
    }
    return out;
  }
  if (is_date_function(name)) {
    if (args.empty()) {
      Value out;
      out.vector.push_back({LabelTable::kEmpty, date_part(name, now), t_ms});
      return out;
    }
    return map_vector(*args[0], t_ms, table, [name](double v) { return date_part(name, v); });
  }
  if (name == "absent") {
    Value out;
    if (!args.empty() && !args[0]->vector.empty()) return out;
    Labels labels;
    std::vector<std::string_view> seen;
    if (first_selector) {
      for (const Matcher& m : first_selector->matchers) {
        if (m.label == "__name__") continue;
        std::string label(m.label);
        bool had = std::find(seen.begin(), seen.end(), m.label) != seen.end();
        if (m.op == MatchOp::Equal && !had) {
          set_label(labels, label, m.value);
          seen.push_back(m.label);
        } else {
          set_label(labels, label, "");
        }
      }
    }
    out.vector.push_back({table.intern(labels), 1, t_ms});
    return out;
  }
  if (name == "sort" || name == "sort_desc") {
    Value out = *args[0];
    bool desc = name == "sort_desc";
    std::stable_sort(out.vector.begin(), out.vector.end(),
                     [desc](const VectorSample& a, const VectorSample& b) {
                       if (std::isnan(a.value)) return false;
                       if (std::isnan(b.value)) return true;
                       return desc ? a.value > b.value : a.value < b.value;
                     });
    return out;
  }
  if (name == "label_replace") {
    const std::string& dst = args[1]->string;
    const std::string& replacement = args[2]->string;
    const std::string& src = args[3]->string;
    std::regex re;
    try {
      re = std::regex("^(?:" + args[4]->string + ")$");
    } catch (const std::regex_error&) {
      throw EvalError("invalid regular expression in label_replace(): " + args[4]->string);
    }
    Value out = *args[0];
    for (VectorSample& s : out.vector) {
      Labels labels = table.get(s.labels);
      std::string value(label_value(labels, src));
      std::smatch m;
      if (!std::regex_match(value, m, re)) continue;
      set_label(labels, dst, expand(replacement, m));
      s.labels = table.intern(labels);
      s.t_ms = t_ms;
    }
    require_unique(out.vector);
    return out;
  }
  if (name == "label_join") {
    const std::string& dst = args[1]->string;
    const std::string& separator = args[2]->string;
    Value out = *args[0];
    for (VectorSample& s : out.vector) {
      Labels labels = table.get(s.labels);
      std::string joined;
      for (size_t i = 3; i < args.size(); ++i) {
        if (i > 3) joined += separator;
        joined += label_value(labels, args[i]->string);
      }
      set_label(labels, dst, joined);
      s.labels = table.intern(labels);
      s.t_ms = t_ms;
    }
    require_unique(out.vector);
    return out;
  }
  if (name == "histogram_quantile")
    return histogram_quantile(args[0]->scalar, args[1]->vector, slot, t_ms, table);
  throw EvalError("function " + std::string(name) + "() is not supported by setpoint eval");
}

}  // namespace setpoint
