// Damping of knob changes, as the Kubernetes HPA's `behavior` damps replica changes: a
// stabilization window per direction, a tolerance dead-band and a maximum step per period.
// What a declaration says and what is wrong with it (E0610), and what the engine does with it:
// plain data and pure functions; the engine keeps one KnobHistory per damped knob.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <string_view>

#include "grammar/ast.h"
#include "grammar/diagnostic.h"
#include "grammar/literal.h"

namespace setpoint {

// What a knob's declaration says (`stabilize up 0s down 5m, tolerance 10%, max step 8 per 1m`).
struct KnobDamping {
  double up_seconds = 0;    // stabilization window for increases; 0: none
  double down_seconds = 0;  // for decreases
  double tolerance = 0;     // a ratio, 0.1 for 10%; 0: none
  double max_step = 0;      // in the knob's unit, or a ratio when step_is_ratio; 0: none
  bool step_is_ratio = false;
  double step_seconds = 0;

  bool operator==(const KnobDamping&) const = default;
  bool stabilizes() const { return up_seconds > 0 || down_seconds > 0; }
  bool any() const { return stabilizes() || tolerance > 0 || max_step > 0; }
  // How long the history must reach back.
  double keep_seconds() const { return std::max({up_seconds, down_seconds, step_seconds}); }
};

// The longest stabilization window and max step period a knob may declare (E0610): the HPA's
// limit for its windows, and a day for steps, which bounds the history the engine keeps.
inline constexpr double kMaxStabilizeSeconds = 3600;
inline constexpr double kMaxStepSeconds = 86400;

struct DampingRecommendation {
  int64_t t_ms = 0;
  double value = 0;
};
// A change the engine made to the knob (an action, or the rollback of one); `action` names the
// action, so a change whose actuator failed can be taken back out.
struct DampingChange {
  int64_t t_ms = 0;
  double delta = 0;
  uint64_t action = 0;
};

// What damping remembers of one knob: the values recommended for it, one or more per
// evaluation (the value a policy computed, or the current value when none did), and the changes
// made to it, each only as long as a window or period still reaches back to it.
struct KnobHistory {
  std::deque<DampingRecommendation> recommendations;
  std::deque<DampingChange> changes;
};

// The outcome for one `set` of a damped knob.
struct DampedStep {
  double value = 0;           // what to set; the current value when nothing changes
  double recommendation = 0;  // what to record as this evaluation's recommendation
  std::string skip;           // why nothing changes (value is the current one)
  std::string note;           // how the value was damped, when it differs from what was asked
};

namespace damping_detail {

inline std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", v);
  return buffer;
}

inline std::string percent(double ratio) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g%%", ratio * 100);
  return buffer;
}

inline std::string duration(double seconds) {
  char buffer[32];
  if (seconds >= 3600 && std::fmod(seconds, 3600) == 0) {
    std::snprintf(buffer, sizeof buffer, "%gh", seconds / 3600);
  } else if (seconds >= 60 && std::fmod(seconds, 60) == 0) {
    std::snprintf(buffer, sizeof buffer, "%gm", seconds / 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%gs", seconds);
  }
  return buffer;
}

inline int64_t ms(double seconds) { return static_cast<int64_t>(std::llround(seconds * 1000)); }

}  // namespace damping_detail

// A knob's damping as declared: options the checker refused (E0610) read as absent.
inline KnobDamping knob_damping(const Module& module, const Item& knob) {
  KnobDamping d;
  for (const KnobOption& o : knob.options) {
    const Expr* amount = o.amount == kNoExpr ? nullptr : &module.expr(o.amount);
    switch (o.kind) {
      case KnobOptionKind::Stabilize:
        if (o.up.valid) d.up_seconds = std::min(o.up.seconds, kMaxStabilizeSeconds);
        if (o.down.valid) d.down_seconds = std::min(o.down.seconds, kMaxStabilizeSeconds);
        break;
      case KnobOptionKind::Tolerance:
        if (amount->unit == Unit::Percent && amount->number > 0 && amount->number < 1)
          d.tolerance = amount->number;
        break;
      case KnobOptionKind::MaxStep:
        if (amount->number > 0 && std::isfinite(amount->number) && o.per.valid &&
            o.per.seconds > 0) {
          d.max_step = amount->number;
          d.step_is_ratio = amount->unit == Unit::Percent && knob.knob_type != KnobType::Percent;
          d.step_seconds = std::min(o.per.seconds, kMaxStepSeconds);
        }
        break;
    }
  }
  return d;
}

// Reports what is wrong with a knob's damping options: each is given once (E0610), with
// values the engine can use (E0610), a max step in the knob's unit or a percentage (E0403).
inline void check_knob_damping(const Module& mod, const Item& it, Diagnostics& diags) {
  auto quoted = [](std::string_view s) { return "'" + std::string(s) + "'"; };
  const SourceFile* file = mod.file.get();
  auto bad = [&](Span span, const std::string& message, const std::string& hint = {}) {
    return &diags.add(Code::BadDamping, file, span, message, hint);
  };
  Unit want = it.knob_type == KnobType::Duration  ? Unit::Seconds
              : it.knob_type == KnobType::Bytes   ? Unit::Bytes
              : it.knob_type == KnobType::Percent ? Unit::Percent
                                                  : Unit::None;
  std::string kind = (it.knob_type == KnobType::Int ? "an " : "a ") +
                     std::string(knob_type_name(it.knob_type)) + " knob";
  const KnobOption* seen[3] = {};
  for (const KnobOption& o : it.options) {
    const KnobOption*& first = seen[static_cast<size_t>(o.kind)];
    if (first) {
      bad(o.keyword_span, quoted(knob_option_keyword(o.kind)) + " is given twice",
          "keep one of them")
          ->notes.push_back({file, first->keyword_span, "first given here"});
      continue;
    }
    first = &o;
    const Expr* amount = o.amount == kNoExpr ? nullptr : &mod.expr(o.amount);
    switch (o.kind) {
      case KnobOptionKind::Stabilize:
        for (const Duration* d : {&o.up, &o.down}) {
          if (d->valid && d->seconds > kMaxStabilizeSeconds) {
            bad(d->span, "a stabilization window is at most 1h, found " + quoted(d->text),
                "the Kubernetes HPA allows at most 3600s too");
          }
        }
        break;
      case KnobOptionKind::Tolerance:
        if (amount->unit != Unit::Percent) {
          bad(amount->span,
              "a tolerance is a percentage of the current value, found " + quoted(amount->text),
              "write `tolerance 10%`");
        } else if (!(amount->number > 0 && amount->number < 1)) {
          bad(amount->span,
              "a tolerance must be more than 0% and less than 100%, found " + quoted(amount->text));
        }
        break;
      case KnobOptionKind::MaxStep:
        if (!(amount->number > 0) || !std::isfinite(amount->number)) {
          bad(amount->span, "a max step must be more than 0, found " + quoted(amount->text));
        } else if (amount->unit != want && amount->unit != Unit::Percent) {
          diags.add(Code::KnobUnit, file, amount->span,
                    "max step " + quoted(amount->text) + " is " +
                        (amount->unit == Unit::None ? std::string("a plain number")
                                                    : std::string("a ") + unit_name(amount->unit)) +
                        ", but " + quoted(it.name.text) + " is " + kind,
                    "write it in the knob's unit, or as a percentage of its value");
        } else if (it.knob_type == KnobType::Int && amount->unit == Unit::None &&
                   amount->number != std::floor(amount->number)) {
          diags.add(Code::KnobUnit, file, amount->span,
                    quoted(it.name.text) + " is an int knob; max step " + quoted(amount->text) +
                        " is not a whole number",
                    "");
        }
        if (o.per.valid && o.per.seconds == 0) {
          bad(o.per.span, "the period of a max step must be more than 0s");
        } else if (o.per.valid && o.per.seconds > kMaxStepSeconds) {
          bad(o.per.span, "the period of a max step is at most 24h, found " + quoted(o.per.text));
        }
        break;
    }
  }
}

// Forgets what no window or period reaches any more, and bounds what is kept whatever the rate
// of evaluations.
inline void prune_history(KnobHistory& h, const KnobDamping& d, int64_t t_ms) {
  constexpr size_t kMaxEntries = 100'000;
  int64_t windows = damping_detail::ms(std::max(d.up_seconds, d.down_seconds));
  while (!h.recommendations.empty() && (h.recommendations.front().t_ms <= t_ms - windows ||
                                        h.recommendations.size() > kMaxEntries)) {
    h.recommendations.pop_front();
  }
  int64_t period = damping_detail::ms(d.step_seconds);
  while (!h.changes.empty() &&
         (h.changes.front().t_ms <= t_ms - period || h.changes.size() > kMaxEntries)) {
    h.changes.pop_front();
  }
}

// Damps a change of `knob` from `current` to `wanted` at t, in this order, as the HPA does:
//  1. the tolerance: a value within it of the current one is no change at all;
//  2. stabilization: the value is brought within [lowest recommendation of the `up` window,
//     highest of the `down` window], this recommendation included: an increase goes no higher
//     than the least anyone recommended lately, a decrease no lower than the most;
//  3. the max step: no further than the step from the value at the start of the period, which
//     is the current value less the changes made within it (a percentage is of that value,
//     rounded away from it for an int knob so that a small knob can still move).
// Windows and periods are left-open: (t - window, t].
inline DampedStep damp_step(const KnobDamping& d, const KnobHistory& h, std::string_view knob,
                            bool integer, double current, double wanted, int64_t t_ms) {
  using namespace damping_detail;
  DampedStep out{current, wanted, {}, {}};
  if (d.tolerance > 0 && std::abs(wanted - current) <= d.tolerance * std::abs(current)) {
    out.recommendation = current;
    out.skip = "within the " + percent(d.tolerance) + " tolerance of the current value";
    return out;
  }
  if (wanted == current) return out;  // as for a knob without damping: set to what it is
  bool up = wanted > current;
  double value = wanted;
  std::string why;
  if (d.stabilizes()) {
    double window_s = up ? d.up_seconds : d.down_seconds;
    int64_t cutoff = t_ms - ms(window_s);
    double safest = wanted;  // the lowest (up) or highest (down) recommendation in the window
    for (const DampingRecommendation& r : h.recommendations) {
      if (r.t_ms <= cutoff) continue;
      safest = up ? std::min(safest, r.value) : std::max(safest, r.value);
    }
    std::string which = up ? "lowest" : "highest";
    if (up ? safest <= current : safest >= current) {
      out.skip = "stabilizing: the " + which + " recommendation for " + std::string(knob) +
                 " in the last " + duration(window_s) + " is " + number(safest);
      return out;
    }
    if (safest != wanted) {
      value = safest;
      why = "the " + which + " recommendation of the last " + duration(window_s);
    }
  }
  if (d.max_step > 0) {
    double start = current;
    int64_t cutoff = t_ms - ms(d.step_seconds);
    for (const DampingChange& c : h.changes) {
      if (c.t_ms > cutoff) start -= c.delta;
    }
    double amount = d.step_is_ratio ? d.max_step * std::abs(start) : d.max_step;
    double hi = start + amount, lo = start - amount;
    if (integer && d.step_is_ratio) {
      hi = std::ceil(hi);
      lo = std::floor(lo);
    }
    // Never past the current value the other way, should it already lie outside the step.
    double limited =
        up ? std::min(value, std::max(hi, current)) : std::max(value, std::min(lo, current));
    std::string step = (d.step_is_ratio ? percent(d.max_step) : number(d.max_step)) + " per " +
                       duration(d.step_seconds);
    if (limited == current) {
      out.skip = "the max step of " + step + " for " + std::string(knob) + " is used up";
      return out;
    }
    if (limited != value) {
      value = limited;
      why += (why.empty() ? "" : ", ") + ("max step " + step);
    }
  }
  out.value = value;
  if (!why.empty()) out.note = "damped from " + number(wanted) + ": " + why;
  return out;
}

}  // namespace setpoint
