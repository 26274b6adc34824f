// What a PromQL expression evaluates to at one time: a scalar, a string, an instant vector (one
// sample per label set) or a range vector (the samples of each series in a window). Label sets
// are ids into the evaluator's LabelTable, so values are flat arrays of plain structs.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "interpreter/functions.h"
#include "interpreter/label_table.h"

namespace setpoint {

struct VectorSample {
  LabelSetId labels;
  double value;
  int64_t t_ms;  // the sample's own time for a selector, else the evaluation time
};

// Leaves elements uninitialized on resize(): filters size their output to the input, then
// write each kept sample once, and zeroing it first cost as much as the filtering.
template <typename T>
struct UninitializedAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <typename U>
  UninitializedAllocator(const UninitializedAllocator<U>&) {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using Vector = std::vector<VectorSample, UninitializedAllocator<VectorSample>>;

// A range vector: every series' samples in one flat array, each series a slice of it.
struct Matrix {
  struct Series {
    LabelSetId labels = LabelTable::kEmpty;
    uint32_t begin = 0, end = 0;  // [begin, end) in points
  };
  std::vector<Series> series;
  std::vector<Sample> points;  // oldest first within each series
  int64_t start_ms = 0;        // the window is (start, end]
  int64_t end_ms = 0;
};

struct Value {
  ValueType type = ValueType::Vector;
  double scalar = 0;
  std::string string;
  Vector vector;
  Matrix matrix;

  static Value of_scalar(double v) {
    Value out;
    out.type = ValueType::Scalar;
    out.scalar = v;
    return out;
  }
};

// A query that Prometheus would refuse at run time (many-to-many matching, duplicate series in a
// result): the evaluation of that expression stops with this message.
class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace setpoint
