// Ordered windows kept across evaluations: min, max and quantile over a sliding window answer
// what the function computed from the window's samples answers, through ties, NaN, stale
// markers, late samples, retention and time going back.
#include "interpreter/window_order.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>

#include "interpreter/range_functions.h"
#include "support/same_answer.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

constexpr int64_t kRange = 60'000;  // [1m]

std::optional<double> fresh(const WindowStore& store, uint32_t id, std::string_view name,
                            int64_t t_ms, std::span<const double> args) {
  std::vector<Sample> window;
  store.range(id, t_ms - kRange, t_ms, window);
  if (window.empty()) return std::nullopt;
  return range_function_at(name, window, t_ms - kRange, t_ms, t_ms, args);
}

struct Slider {
  Slider(WindowStore& s, uint32_t series, std::string_view function, double q = 0)
      : store(s), id(series), name(function), args{q} {}
  WindowStore& store;
  uint32_t id;
  std::string_view name;
  std::vector<double> args;
  WindowOrder order;
  std::optional<double> at(int64_t t_ms) {
    return order.at(*WindowOrder::kind_of(name), store.positioned(id), t_ms, kRange, args);
  }
  std::optional<double> fresh_at(int64_t t_ms) const { return fresh(store, id, name, t_ms, args); }
};

}  // namespace

TEST_CASE("only min, max and quantile over time are kept in order", "[window_order]") {
  CHECK(WindowOrder::kind_of("min_over_time") == WindowOrder::Fn::Min);
  CHECK(WindowOrder::kind_of("max_over_time") == WindowOrder::Fn::Max);
  CHECK(WindowOrder::kind_of("quantile_over_time") == WindowOrder::Fn::Quantile);
  CHECK_FALSE(WindowOrder::kind_of("avg_over_time"));
  CHECK_FALSE(WindowOrder::kind_of("stddev_over_time"));
}

TEST_CASE("min and max follow the window as its extremes enter and leave", "[window_order]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider min{store, id, "min_over_time"}, max{store, id, "max_over_time"};
  // At a 15 s step a [1m] window holds four samples.
  const double values[] = {5, 3, 8, 1, 9, 9, 2, 7, 7, 7, 4};
  const double mins[] = {5, 3, 3, 1, 1, 1, 1, 2, 2, 2, 4};
  const double maxs[] = {5, 5, 8, 8, 9, 9, 9, 9, 9, 7, 7};
  for (int k = 0; k < 11; ++k) {
    int64_t t = 1'000'000 + k * 15'000;
    store.append(id, t, values[k]);
    INFO("sample " << k);
    CHECK(*min.at(t) == mins[k]);
    CHECK(*max.at(t) == maxs[k]);
  }
  CHECK_FALSE(min.at(1'000'000 + 10 * 15'000 + kRange));  // the last sample is on the open edge
}

TEST_CASE("quantiles of the sliding window interpolate between ranks as Prometheus does",
          "[window_order]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider median{store, id, "quantile_over_time", 0.5}, p90{store, id, "quantile_over_time", 0.9},
      above{store, id, "quantile_over_time", 1.5}, below{store, id, "quantile_over_time", -1};
  for (int k = 0; k < 6; ++k) store.append(id, 5'000 + k * 10'000, 10 - k);  // 10 9 8 7 6 5
  // (0, 60s] holds all six: the median sits between 7 and 8.
  CHECK(*median.at(60'000) == 7.5);
  // (10s, 70s] holds 9 8 7 6 5: the median is 7, the 0.9 quantile at rank 3.6 is 8 + 0.6.
  CHECK(*median.at(70'000) == 7);
  double weight = 0.9 * 4 - 3;  // 0.6 as the rank's fraction comes out in doubles
  CHECK(*p90.at(70'000) == 8 * (1 - weight) + 9 * weight);
  CHECK(*above.at(70'000) == std::numeric_limits<double>::infinity());
  CHECK(*below.at(70'000) == -std::numeric_limits<double>::infinity());
  store.append(id, 75'000, 100);
  // (20s, 80s] holds 8 7 6 5 100: the 0.9 quantile now lies between 8 and 100.
  CHECK(*median.at(80'000) == 7);
  CHECK(*p90.at(80'000) == 8 * (1 - weight) + 100 * weight);
  WindowOrder no_q;
  CHECK_FALSE(no_q.at(WindowOrder::Fn::Quantile, store.positioned(id), 60'000, kRange, {}));
}

TEST_CASE("NaN is passed over by min and max until it is all the window holds", "[window_order]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider min{store, id, "min_over_time"}, max{store, id, "max_over_time"},
      median{store, id, "quantile_over_time", 0.5};
  store.append(id, 10'000, std::nan(""));
  CHECK(std::isnan(*min.at(10'000)));
  CHECK(std::isnan(*max.at(10'000)));
  store.append(id, 20'000, 4);
  store.append(id, 30'000, 2);
  CHECK(*min.at(30'000) == 2);
  CHECK(*max.at(30'000) == 4);
  // NaN sorts first: NaN 2 4, the median is 2.
  CHECK(*median.at(30'000) == 2);
  store.append(id, 85'000, std::nan(""));  // 10s and 20s have left: 2 and NaN
  CHECK(*min.at(85'000) == 2);
  // NaN 2: the median interpolates with NaN, as Prometheus' does.
  CHECK(std::isnan(*median.at(85'000)));
  CHECK(same_answer(median.at(85'000),
                    fresh(store, id, "quantile_over_time", 85'000, std::vector{0.5})));
  store.append(id, 140'000, std::nan(""));  // only the two NaNs remain
  CHECK(std::isnan(*max.at(140'000)));
}

TEST_CASE("a stale marker is no sample to an ordered window", "[window_order]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider max{store, id, "max_over_time"}, median{store, id, "quantile_over_time", 0.5};
  store.append(id, 10'000, 1);
  store.append(id, 20'000, stale_marker());
  store.append(id, 30'000, 3);
  CHECK(*max.at(30'000) == 3);
  CHECK(*median.at(30'000) == 2);
  CHECK_FALSE(max.at(89'000 + 1'000));  // 30s has left with the marker and 10s
  store.append(id, 95'000, stale_marker());
  CHECK_FALSE(median.at(95'000));  // a marker alone is no sample
}

TEST_CASE("dropped samples and a step back in time restart an ordered window from the store",
          "[window_order]") {
  StoreLimits limits;
  limits.max_samples_per_series = 2;  // keeps only the two newest samples
  WindowStore store(limits);
  uint32_t id = store.series({{"__name__", "x"}});
  Slider min{store, id, "min_over_time"}, max{store, id, "max_over_time"};
  for (int k = 0; k < 50; ++k) {
    int64_t t = 100'000 + k * 10'000;
    store.append(id, t, k % 2 == 0 ? k : -k);
    // The store holds k-1 and k; the window of 60 s would hold six samples, but has two.
    double older = k == 0 ? 0 : ((k - 1) % 2 == 0 ? k - 1 : 1 - k);
    double newer = k % 2 == 0 ? k : -k;
    CHECK(*min.at(t) == std::min(older, newer));
    CHECK(*max.at(t) == std::max(older, newer));
  }
  CHECK(*max.at(100'000 + 48 * 10'000) == 48);  // back in time: 47 is gone, -47 with it
}

TEST_CASE(
    "over many irregular steps, ties, NaNs and markers, ordered windows answer as a fresh "
    "computation does",
    "[window_order]") {
  StoreLimits limits;
  limits.retention_ms = 90'000;  // the buffer drops its dead prefix as it goes
  WindowStore store(limits);
  uint32_t id = store.series({{"__name__", "x"}});
  Slider min{store, id, "min_over_time"}, max{store, id, "max_over_time"},
      p25{store, id, "quantile_over_time", 0.25}, p99{store, id, "quantile_over_time", 0.99};
  std::mt19937_64 rng(11);
  int64_t t = 0;
  for (int k = 0; k < 20'000; ++k) {
    t += 1 + static_cast<int64_t>(rng() % 9'000);  // from 1 ms to 9 s apart
    uint64_t pick = rng() % 100;
    double v = pick < 3    ? std::nan("")
               : pick < 5  ? stale_marker()
               : pick < 50 ? static_cast<double>(rng() % 5)  // many ties
                           : std::ldexp(static_cast<double>(rng() % 1'000'000), -7);
    store.append(id, t, v);
    // Evaluations now and then fall between samples, or skip several.
    if (rng() % 4 == 0) continue;
    int64_t at = t + static_cast<int64_t>(rng() % 3'000);
    INFO("step " << k << " at " << at);
    REQUIRE(same_answer(min.at(at), min.fresh_at(at)));
    REQUIRE(same_answer(max.at(at), max.fresh_at(at)));
    REQUIRE(same_answer(p25.at(at), p25.fresh_at(at)));
    REQUIRE(same_answer(p99.at(at), p99.fresh_at(at)));
  }
}
