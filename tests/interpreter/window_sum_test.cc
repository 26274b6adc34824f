// Sums kept across evaluations: a sliding window answers what the function computed from the
// window's samples answers, through markers, NaN, overflow, late samples, retention and time
// going back.
#include "interpreter/window_sum.h"

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

// What a fresh computation over (t - range, t] gives, the reference for every answer.
std::optional<double> fresh(const WindowStore& store, uint32_t id, std::string_view name,
                            int64_t t_ms) {
  std::vector<Sample> window;
  store.range(id, t_ms - kRange, t_ms, window);
  if (window.empty()) return std::nullopt;
  return range_function_at(name, window, t_ms - kRange, t_ms, t_ms, {});
}

struct Slider {
  Slider(WindowStore& s, uint32_t series, std::string_view function)
      : store(s), id(series), name(function) {}
  WindowStore& store;
  uint32_t id;
  std::string_view name;
  WindowSum sum;
  std::vector<Sample> scratch;
  std::optional<double> at(int64_t t_ms) {
    return sum.at(*WindowSum::kind_of(name), name, store.positioned(id), t_ms, kRange, scratch);
  }
};

}  // namespace

TEST_CASE("only sum, avg and count over time slide", "[window_sum]") {
  CHECK(WindowSum::kind_of("sum_over_time") == WindowSum::Fn::Sum);
  CHECK(WindowSum::kind_of("avg_over_time") == WindowSum::Fn::Avg);
  CHECK(WindowSum::kind_of("count_over_time") == WindowSum::Fn::Count);
  CHECK_FALSE(WindowSum::kind_of("max_over_time"));
  CHECK_FALSE(WindowSum::kind_of("rate"));
}

TEST_CASE("a window sliding one sample a step keeps exact integer sums, averages and counts",
          "[window_sum]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider sum{store, id, "sum_over_time"}, avg{store, id, "avg_over_time"},
      count{store, id, "count_over_time"};
  for (int k = 0; k < 200; ++k) {
    int64_t t = 1'000'000 + k * 15'000;
    store.append(id, t, k % 7);
    // Four samples in (t - 60s, t] once the window is full: the left edge is open.
    CHECK(*count.at(t) == std::min(k + 1, 4));
    CHECK(*sum.at(t) == *fresh(store, id, "sum_over_time", t));
    CHECK(*avg.at(t) == *fresh(store, id, "avg_over_time", t));
  }
  // The last window holds 196..199 % 7 = 0, 1, 2, 3.
  CHECK(*sum.at(1'000'000 + 199 * 15'000) == 6);
  CHECK(*avg.at(1'000'000 + 199 * 15'000 + 1) == 1.5);  // a millisecond on: the same samples
}

TEST_CASE("a window with no sample has no value, and picks up again when samples return",
          "[window_sum]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider avg{store, id, "avg_over_time"};
  CHECK_FALSE(avg.at(1'000));  // nothing yet
  store.append(id, 10'000, 4);
  CHECK(*avg.at(10'000) == 4);
  CHECK(*avg.at(69'999) == 4);
  CHECK_FALSE(avg.at(70'000));  // 10s is now exactly on the open left edge
  CHECK_FALSE(avg.at(500'000));
  store.append(id, 600'000, 8);
  store.append(id, 610'000, 2);
  CHECK(*avg.at(610'000) == 5);
}

TEST_CASE("a stale marker is no sample, and the window sums again once it has left",
          "[window_sum]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider sum{store, id, "sum_over_time"}, count{store, id, "count_over_time"};
  store.append(id, 10'000, 1);
  store.append(id, 20'000, stale_marker());
  store.append(id, 30'000, 2);
  CHECK(*sum.at(30'000) == 3);
  CHECK(*count.at(30'000) == 2);
  store.append(id, 75'000, 5);
  CHECK(*sum.at(75'000) == 7);  // 10s left; the marker (20s) is still inside: ignored
  store.append(id, 85'000, 1);
  CHECK(*sum.at(85'000) == 8);  // the marker has left
  CHECK(*count.at(85'000) == 3);
}

TEST_CASE("NaN and Inf count as Prometheus counts them, and leave the window with their sample",
          "[window_sum]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider sum{store, id, "sum_over_time"}, avg{store, id, "avg_over_time"};
  double inf = std::numeric_limits<double>::infinity();
  store.append(id, 10'000, 1);
  store.append(id, 20'000, std::nan(""));
  CHECK(std::isnan(*sum.at(20'000)));
  store.append(id, 30'000, inf);
  CHECK(std::isnan(*avg.at(30'000)));
  store.append(id, 85'000, 3);  // 10s and the NaN (20s) have left; Inf (30s) is in
  CHECK(*sum.at(85'000) == inf);
  store.append(id, 95'000, 5);  // only 85s and 95s remain: a plain sum once more
  CHECK(*sum.at(95'000) == 8);
  CHECK(*avg.at(95'000) == 4);
}

TEST_CASE("values whose sum overflows average as Prometheus' incremental mean does",
          "[window_sum]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider avg{store, id, "avg_over_time"}, sum{store, id, "sum_over_time"};
  double big = std::numeric_limits<double>::max();
  store.append(id, 10'000, big);
  store.append(id, 20'000, big);
  CHECK(*avg.at(20'000) == big);  // the sum is Inf; the mean is not
  CHECK(*sum.at(20'000) == std::numeric_limits<double>::infinity());
  store.append(id, 75'000, 2);
  store.append(id, 81'000, 4);  // both big values have left
  CHECK(*avg.at(81'000) == 3);
  CHECK(*sum.at(81'000) == 6);
}

TEST_CASE("a late sample, older than the last evaluation but inside the window, is counted",
          "[window_sum]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider sum{store, id, "sum_over_time"};
  store.append(id, 10'000, 1);
  CHECK(*sum.at(30'000) == 1);
  store.append(id, 25'000, 2);  // arrived after the evaluation at 30s
  CHECK(*sum.at(40'000) == 3);
  CHECK(*sum.at(40'000) == *fresh(store, id, "sum_over_time", 40'000));
}

TEST_CASE("samples the store drops or a step back in time restart the window from the store",
          "[window_sum]") {
  StoreLimits limits;
  limits.max_samples_per_series = 2;  // keeps only the two newest samples
  WindowStore store(limits);
  uint32_t id = store.series({{"__name__", "x"}});
  Slider sum{store, id, "sum_over_time"};
  for (int k = 0; k < 50; ++k) {
    int64_t t = 100'000 + k * 10'000;
    store.append(id, t, k);
    // The store holds k-1 and k; the window of 60 s would hold six samples, but has two.
    CHECK(*sum.at(t) == (k == 0 ? 0 : 2 * k - 1));
  }
  // Back to an earlier time: what the store holds then.
  CHECK(*sum.at(100'000 + 48 * 10'000) == 48);
}

TEST_CASE("positions survive the buffer dropping its dead prefix", "[window_sum]") {
  StoreLimits limits;
  limits.retention_ms = 30'000;
  WindowStore store(limits);
  uint32_t id = store.series({{"__name__", "x"}});
  for (int k = 0; k < 1000; ++k) {
    store.append(id, k * 10'000, k);
    WindowStore::Positioned p = store.positioned(id);
    // Retention keeps the samples of the last 30 s: k-3..k (the oldest exactly 30 s old).
    uint64_t oldest = k < 3 ? 0 : k - 3;
    REQUIRE(p.first == oldest);
    REQUIRE(p.samples.size() == k - oldest + 1);
    REQUIRE(p.samples.front().value == static_cast<double>(oldest));
  }
}

TEST_CASE("over many steps of fractional values a sliding sum is the fresh one to the last bit",
          "[window_sum]") {
  WindowStore store;
  uint32_t id = store.series({{"__name__", "x"}});
  Slider sum{store, id, "sum_over_time"}, avg{store, id, "avg_over_time"};
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> value(-1e3, 1e6);
  for (int k = 0; k < 20'000; ++k) {
    int64_t t = k * 1'000 + static_cast<int64_t>(rng() % 900);  // irregular intervals
    store.append(id, t, value(rng));
    std::optional<double> s = sum.at(t), a = avg.at(t);
    std::optional<double> fs = fresh(store, id, "sum_over_time", t);
    std::optional<double> fa = fresh(store, id, "avg_over_time", t);
    REQUIRE(same_answer(s, fs));
    REQUIRE(same_answer(a, fa));
  }
}
