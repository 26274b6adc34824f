// The checker: names, PromQL types, units, knob bounds and the required shape of every policy,
// across all files of a policy set. Results go into side tables keyed by expression id; the AST
// is never modified.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"
#include "interpreter/functions.h"
#include "interpreter/knob_damping.h"

namespace setpoint {

// The physical unit a value carries, inferred from literals, metric name suffixes
// (_seconds, _bytes, _ratio, _total), functions (rate of a counter is per second) and knob
// types. Plain is a count or a dimensionless number; Ratio a fraction such as 80%.
enum class Dim : uint8_t { Unknown, Plain, Seconds, Bytes, Ratio, PerSecond };
const char* dim_name(Dim dim);

enum class NameKind : uint8_t { None, Let, Knob, Metric };

struct ExprInfo {
  ValueType type = ValueType::Unknown;
  Dim dim = Dim::Unknown;
  NameKind name = NameKind::None;  // for Name expressions
  uint32_t target = 0;             // NameKind::Let: item index in the module; Knob: knob index
};

struct KnobInfo {
  std::string_view name;
  KnobType type = KnobType::Int;
  double min = 0;
  double max = 0;
  uint32_t module = 0;
  uint32_t item = 0;
  KnobDamping damping;
};

// Time-zone names come from the system's tz database, which only the runtime may read.
class ZoneDatabase {
 public:
  virtual ~ZoneDatabase() = default;
  virtual bool contains(std::string_view zone) const = 0;
  virtual std::vector<std::string> names() const = 0;
};

struct CheckOptions {
  const ZoneDatabase* zones = nullptr;  // when null, only "UTC" is known
};

struct CheckedProgram {
  std::vector<std::vector<ExprInfo>> exprs;  // [module][expr id]
  std::vector<KnobInfo> knobs;
};

// Whether `baseline` appears anywhere in an expression.
bool contains_baseline(const Module& module, ExprId id);

CheckedProgram check_program(const std::vector<Module>& modules, Diagnostics& diagnostics,
                             const CheckOptions& options = {});

}  // namespace setpoint
