// PromQL's function signatures: argument types, result type, and how each function carries the
// unit of its input (rate of a _seconds_total counter is a ratio; count_over_time has no unit).
#pragma once

#include <string_view>
#include <vector>

namespace setpoint {

// PromQL's value types.
enum class ValueType : uint8_t { Unknown, Scalar, Vector, Matrix, String };
const char* value_type_name(ValueType type);  // "scalar", "instant vector", "range vector", ...

enum class UnitRule : uint8_t {
  Keep,        // the unit of the vector or range argument
  Plain,       // a count or a dimensionless value
  PerSecond,   // rate/irate/deriv: seconds per second is a ratio, counts per second are plain
  FromSecond,  // the unit of the second argument (quantile_over_time)
  Bucket,      // histogram_quantile: the unit of the histogram's base metric
  Seconds,     // time(), timestamp()
};

struct FunctionSignature {
  std::string_view name;
  std::vector<ValueType> params;
  size_t required;  // the first `required` params are mandatory
  bool variadic;    // the last param may repeat
  ValueType result;
  UnitRule unit;
};

const FunctionSignature* find_function(std::string_view name);
const std::vector<FunctionSignature>& all_functions();

// Aggregation operators that take a parameter before the vector (topk(3, x)).
bool aggregation_takes_parameter(std::string_view op);

}  // namespace setpoint
