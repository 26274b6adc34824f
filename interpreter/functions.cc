#include "interpreter/functions.h"

namespace setpoint {

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::Unknown:
      return "unknown";
    case ValueType::Scalar:
      return "scalar";
    case ValueType::Vector:
      return "instant vector";
    case ValueType::Matrix:
      return "range vector";
    case ValueType::String:
      return "string";
  }
  return "unknown";
}

const std::vector<FunctionSignature>& all_functions() {
  constexpr auto S = ValueType::Scalar;
  constexpr auto V = ValueType::Vector;
  constexpr auto M = ValueType::Matrix;
  constexpr auto T = ValueType::String;
  using U = UnitRule;
  static const std::vector<FunctionSignature> table = {
      {"abs", {V}, 1, false, V, U::Keep},
      {"absent", {V}, 1, false, V, U::Plain},
      {"absent_over_time", {M}, 1, false, V, U::Plain},
      {"acos", {V}, 1, false, V, U::Plain},
      {"asin", {V}, 1, false, V, U::Plain},
      {"atan", {V}, 1, false, V, U::Plain},
      {"avg_over_time", {M}, 1, false, V, U::Keep},
      {"ceil", {V}, 1, false, V, U::Keep},
      {"changes", {M}, 1, false, V, U::Plain},
      {"clamp", {V, S, S}, 3, false, V, U::Keep},
      {"clamp_max", {V, S}, 2, false, V, U::Keep},
      {"clamp_min", {V, S}, 2, false, V, U::Keep},
      {"cos", {V}, 1, false, V, U::Plain},
      {"count_over_time", {M}, 1, false, V, U::Plain},
      {"day_of_month", {V}, 0, false, V, U::Plain},
      {"day_of_week", {V}, 0, false, V, U::Plain},
      {"day_of_year", {V}, 0, false, V, U::Plain},
      {"days_in_month", {V}, 0, false, V, U::Plain},
      {"deg", {V}, 1, false, V, U::Plain},
      {"delta", {M}, 1, false, V, U::Keep},
      {"deriv", {M}, 1, false, V, U::PerSecond},
      {"exp", {V}, 1, false, V, U::Plain},
      {"floor", {V}, 1, false, V, U::Keep},
      {"histogram_quantile", {S, V}, 2, false, V, U::Bucket},
      {"holt_winters", {M, S, S}, 3, false, V, U::Keep},
      {"hour", {V}, 0, false, V, U::Plain},
      {"idelta", {M}, 1, false, V, U::Keep},
      {"increase", {M}, 1, false, V, U::Keep},
      {"irate", {M}, 1, false, V, U::PerSecond},
      {"label_join", {V, T, T, T}, 3, true, V, U::Keep},
      {"label_replace", {V, T, T, T, T}, 5, false, V, U::Keep},
      {"last_over_time", {M}, 1, false, V, U::Keep},
      {"ln", {V}, 1, false, V, U::Plain},
      {"log10", {V}, 1, false, V, U::Plain},
      {"log2", {V}, 1, false, V, U::Plain},
      {"mad_over_time", {M}, 1, false, V, U::Keep},
      {"max_over_time", {M}, 1, false, V, U::Keep},
      {"min_over_time", {M}, 1, false, V, U::Keep},
      {"minute", {V}, 0, false, V, U::Plain},
      {"month", {V}, 0, false, V, U::Plain},
      {"pi", {}, 0, false, S, U::Plain},
      {"predict_linear", {M, S}, 2, false, V, U::Keep},
      {"present_over_time", {M}, 1, false, V, U::Plain},
      {"quantile_over_time", {S, M}, 2, false, V, U::FromSecond},
      {"rad", {V}, 1, false, V, U::Plain},
      {"rate", {M}, 1, false, V, U::PerSecond},
      {"resets", {M}, 1, false, V, U::Plain},
      {"round", {V, S}, 1, false, V, U::Keep},
      {"scalar", {V}, 1, false, S, U::Keep},
      {"sgn", {V}, 1, false, V, U::Plain},
      {"sin", {V}, 1, false, V, U::Plain},
      {"sort", {V}, 1, false, V, U::Keep},
      {"sort_desc", {V}, 1, false, V, U::Keep},
      {"sqrt", {V}, 1, false, V, U::Plain},
      {"stddev_over_time", {M}, 1, false, V, U::Keep},
      {"stdvar_over_time", {M}, 1, false, V, U::Plain},
      {"sum_over_time", {M}, 1, false, V, U::Keep},
      {"tan", {V}, 1, false, V, U::Plain},
      {"time", {}, 0, false, S, U::Seconds},
      {"timestamp", {V}, 1, false, V, U::Seconds},
      {"vector", {S}, 1, false, V, U::Keep},
      {"year", {V}, 0, false, V, U::Plain},
  };
  return table;
}

const FunctionSignature* find_function(std::string_view name) {
  for (const auto& f : all_functions()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool aggregation_takes_parameter(std::string_view op) {
  return op == "topk" || op == "bottomk" || op == "quantile" || op == "count_values";
}

}  // namespace setpoint
