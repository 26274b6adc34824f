// A series' identity: its label pairs, sorted by name, with the metric name as `__name__`.
// Plain values so that readers, the window store and the evaluator share one representation.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace setpoint {

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
  auto operator<=>(const Label&) const = default;
};

// Sorted by name, names unique, no empty values (Prometheus treats an empty value as absent).
using Labels = std::vector<Label>;

// A label set that does not change, shared by the events that name it: copying one costs a
// reference count, not a vector and its strings (a replay makes ten million events). Reads as
// the Labels it holds.
class SharedLabels {
 public:
  SharedLabels() = default;
  SharedLabels(Labels labels)  // NOLINT: any label set can be shared
      : labels_(std::make_shared<const Labels>(std::move(labels))) {}
  explicit SharedLabels(std::shared_ptr<const Labels> labels) : labels_(std::move(labels)) {}
  const Labels& get() const { return labels_ ? *labels_ : none(); }
  operator const Labels&() const { return get(); }  // NOLINT: reads as Labels
  bool empty() const { return get().empty(); }
  Labels::const_iterator begin() const { return get().begin(); }
  Labels::const_iterator end() const { return get().end(); }
  friend bool operator==(const SharedLabels& a, const SharedLabels& b) {
    return a.labels_ == b.labels_ || a.get() == b.get();
  }
  friend bool operator==(const SharedLabels& a, const Labels& b) { return a.get() == b; }

 private:
  static const Labels& none() {
    static const Labels empty;
    return empty;
  }
  std::shared_ptr<const Labels> labels_;
};

// Sorts by name and drops pairs with an empty value; a repeated name keeps its last value.
void normalize_labels(Labels& labels);

// Whether two label sets can describe the same thing: one is a subset of the other, __name__
// aside. A fleet-wide value (no labels) fits every instance; a per-instance one its own.
bool labels_compatible(const Labels& a, const Labels& b);

// The value of a label, "" when absent.
std::string_view label_value(const Labels& labels, std::string_view name);

// `metric{a="1", b="2"}` as Prometheus prints a series; `{a="1"}` without a metric name.
std::string labels_text(const Labels& labels);

// A Prometheus staleness marker: a NaN with this exact bit pattern ends a series at once.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
inline double stale_marker() {
  double v;
  std::memcpy(&v, &kStaleNaNBits, sizeof v);
  return v;
}
inline bool is_stale_marker(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits == kStaleNaNBits;
}

// Durations in the AST are seconds; times here are milliseconds.
inline int64_t seconds_to_ms(double seconds) {
  return static_cast<int64_t>(seconds * 1000.0 + (seconds < 0 ? -0.5 : 0.5));
}

// One recorded point: milliseconds since the Unix epoch (Prometheus' resolution) and a value.
struct Sample {
  int64_t t_ms = 0;
  double value = 0;
};

// Where readers put what they parse: a series is announced once (by its labels) and its
// samples then refer to it by the number series() returned, so a hot loop never rebuilds labels.
class SampleSink {
 public:
  virtual ~SampleSink() = default;
  // Returns a number for this series, or kRejectedSeries when the sink will not take it
  // (a series limit): its samples are then not passed on.
  virtual uint32_t series(const Labels& labels) = 0;
  // A series a reader remembers from an earlier read (a scrape source's cache of series text):
  // the sink may still refuse it for this read, by the same limit as series().
  virtual uint32_t series_again(uint32_t id) { return id; }
  virtual void sample(uint32_t series, int64_t t_ms, double value) = 0;
};
inline constexpr uint32_t kRejectedSeries = UINT32_MAX;

}  // namespace setpoint
