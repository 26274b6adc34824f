// PromQL's range-vector functions (rate, increase, *_over_time, ...) over the samples of one
// series in a window (start, end], exactly as Prometheus computes them: extrapolation to the
// window edges, counter resets, Kahan-compensated sums. No state: the caller hands in the
// samples, oldest first, stale markers already left out.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "interpreter/labels.h"

namespace setpoint {

// Whether `name` is a range-vector function this file computes.
bool is_range_function(std::string_view name);

// Computes `name` over `samples` for a window (start_ms, end_ms] evaluated at end_ms.
// `args` are the function's scalar arguments in PromQL order, without the range vector
// (quantile_over_time's q; predict_linear's t; holt_winters' sf and tf).
// Returns nullopt where Prometheus returns no sample for the series (too few samples, ...).
std::optional<double> range_function(std::string_view name, std::span<const Sample> samples,
                                     int64_t start_ms, int64_t end_ms,
                                     std::span<const double> args = {});

// The same for a window that ends before the evaluation time (an offset): predict_linear
// predicts from `eval_ms`, as Prometheus does; every other function ignores it.
std::optional<double> range_function_at(std::string_view name, std::span<const Sample> samples,
                                        int64_t start_ms, int64_t end_ms, int64_t eval_ms,
                                        std::span<const double> args = {});

// Prometheus' quantile (used by quantile_over_time and the quantile aggregation): linear
// interpolation between the closest ranks; q < 0 is -Inf, q > 1 is +Inf, NaN q is NaN; no
// values is NaN. `values` is reordered.
double quantile(double q, std::span<double> values);

// Prometheus' order for quantiles: NaN before every number. A strict weak order (NaNs are
// equivalent), so it can keep a sorted container.
bool quantile_less(double a, double b);
// quantile() of values already sorted by quantile_less, for callers that keep them sorted.
double quantile_of_sorted(double q, std::span<const double> sorted);

}  // namespace setpoint
