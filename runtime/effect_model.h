// The effect model of an offline replay: how knob changes would have moved recorded metrics,
// written in TOML ([[effect]] tables, docs/effect-model.md) and applied to replayed samples.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "interpreter/labels.h"

namespace setpoint {

// A knob set during the replay: from old_value to new_value at t_ms.
struct KnobChange {
  int64_t t_ms = 0;
  std::string knob;
  double old_value = 0;
  double new_value = 0;
};

enum class EffectScale {
  PerDoubling,  // factor (1 + change)^log2(new / old): for knobs that scale (sizes, TTLs)
  PerUnit,      // factor (1 + change)^(new - old): for knobs that count (workers, replicas)
};

// Without `seed` every effect draws its noise from this one, so replays are reproducible.
inline constexpr uint64_t kDefaultEffectSeed = 1;

// One [[effect]] table.
struct Effect {
  std::string knob;    // the knob whose changes cause it
  std::string metric;  // the __name__ of the series it moves
  Labels labels;       // further equality matchers, sorted; a value "" means "label absent"
  EffectScale scale = EffectScale::PerDoubling;
  double change = 0;     // the relative move per doubling (or per unit); above -1
  int64_t delay_ms = 0;  // the effect of a change starts this long after it
  int64_t ramp_ms = 0;   // and grows linearly to full strength over this long (0: at once)
  double noise = 0;      // standard deviation of the multiplicative noise, relative: 0.02 is 2 %
  uint64_t seed = kDefaultEffectSeed;
  std::string where;  // "file:line:col" of its [[effect]] header, for messages
};

// Applies effects to recorded samples. Everything is a pure function of the effects, the
// changes and the sample, except counters: they keep one accumulator per series (below).
class EffectModel {
 public:
  // Parses the TOML text. Every error (TOML syntax, unknown keys, wrong types, values out of
  // range) is appended to `errors` as "file:line:col: message; hint: ...", sorted by position;
  // nullopt when there is any. A file with no [[effect]] is a model that changes nothing.
  static std::optional<EffectModel> parse(std::string_view toml, std::string_view file,
                                          std::vector<std::string>& errors);

  const std::vector<Effect>& effects() const { return effects_; }

  // _total, _count, _sum and _bucket: the names of counters, whose increments are moved.
  static bool is_counter(std::string_view metric_name);

  // The product, over the effects that match the series, of each effect's factor at t (over
  // every change of its knob made more than delay before t) and its noise factor at t.
  // 1 for a series no effect matches.
  double factor(const Labels& series, int64_t t_ms, const std::vector<KnobChange>& changes) const;

  // What a replay should see in place of `recorded` (series' labels as in interpreter/labels.h).
  // A value that is not finite (NaN, the staleness marker, infinities) passes through unchanged.
  // Gauges: recorded * factor(...). Counters (is_counter on __name__): every increment between
  // two samples of the series is multiplied by the factor at the later one and added to the
  // previous output, so the output never decreases where the recording does not; a decrease of
  // the recording is a counter reset, and the output restarts at recorded * factor. A series'
  // first sample passes unchanged (its value holds the increments before the replay). So a
  // counter's samples must come in time order: one at the time of the previous sample returns
  // the previous output, and an earlier one starts the series afresh. Series are independent,
  // so their samples may interleave in any order.
  double apply(const Labels& series, int64_t t_ms, double recorded,
               const std::vector<KnobChange>& changes);

  // The changes that an effect of their knob cannot use, one message for each such pair (a
  // per_doubling effect needs both values above 0, a per_unit one finite values). apply() and
  // factor() leave such a change out.
  std::vector<std::string> unusable_changes(const std::vector<KnobChange>& changes) const;

  // Forgets every counter accumulator, to replay again from the start.
  void reset() { counters_.clear(); }

 private:
  struct CounterState {
    int64_t last_t = 0;
    double last_recorded = 0;
    double last_out = 0;
    double offset = 0;  // output - recorded: the sum of (factor - 1) * increment since a reset
  };

  // The indices of the effects that match the series, into `out` (cleared first).
  void matching(const Labels& series, std::vector<uint32_t>& out) const;
  double factor_of(const std::vector<uint32_t>& matched, const Labels& series, int64_t t_ms,
                   const std::vector<KnobChange>& changes) const;

  std::vector<Effect> effects_;
  std::unordered_map<std::string, CounterState> counters_;  // by encoded labels
  std::vector<uint32_t> matched_;                           // reused by apply()
};

}  // namespace setpoint
