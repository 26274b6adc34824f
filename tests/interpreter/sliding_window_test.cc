// The sliding window against range_function(): for random streams and random slides, every
// incremental answer equals the one computed from scratch over the same samples.
#include "interpreter/sliding_window.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>

#include "interpreter/range_functions.h"

using namespace setpoint;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

bool same(std::optional<double> a, std::optional<double> b) {
  if (!a || !b) return !a && !b;
  return std::isnan(*a) ? std::isnan(*b) : *a == *b;
}

// Within 1e-9 of the expected value, relative (or both NaN, or equal infinities).
bool close(std::optional<double> got, std::optional<double> want) {
  if (!got || !want) return !got && !want;
  if (std::isnan(*want) || std::isinf(*want)) return same(got, want);
  return std::fabs(*got - *want) <= 1e-9 * std::fabs(*want) + 1e-300;
}

// Every answer of `w` against range_function over `held`, the samples it should hold.
void check_against_scratch(const SlidingWindow& w, const std::vector<Sample>& held) {
  REQUIRE(w.count() == held.size());
  auto scratch = [&](const char* fn, std::vector<double> args = {}) {
    return range_function(fn, held, INT64_MIN / 2, INT64_MAX / 2, args);
  };
  CHECK(same(w.min(), scratch("min_over_time")));
  CHECK(same(w.max(), scratch("max_over_time")));
  CHECK(same(w.evaluate("count_over_time"), scratch("count_over_time")));
  CHECK(same(w.evaluate("last_over_time"), scratch("last_over_time")));
  CHECK(same(w.evaluate("present_over_time"), scratch("present_over_time")));
  for (double q : {0.0, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0}) {
    INFO("q=" << q);
    CHECK(same(w.quantile(q), scratch("quantile_over_time", {q})));
  }
  CHECK(close(w.sum(), scratch("sum_over_time")));
  CHECK(close(w.avg(), scratch("avg_over_time")));
  CHECK(close(w.stdvar(), scratch("stdvar_over_time")));
  CHECK(close(w.stddev(), scratch("stddev_over_time")));
}

}  // namespace

TEST_CASE("sliding aggregates equal range_function over random streams and slides") {
  std::mt19937 rng(20240611);
  // Value shapes a metric takes: a gauge around zero, a counter, a level far from zero with
  // small noise (hard for variance), and integers with many ties (for min/max/quantile).
  std::uniform_real_distribution<double> gauge(-100, 100);
  std::uniform_real_distribution<double> noise(0, 1);
  std::uniform_int_distribution<int> small(0, 5);
  std::uniform_int_distribution<int> step(1, 30'000);
  std::uniform_int_distribution<int> burst(0, 8);
  for (int shape = 0; shape < 4; ++shape) {
    INFO("shape " << shape);
    SlidingWindow w;
    std::vector<Sample> all;  // everything pushed, oldest first
    size_t begin = 0;         // all[begin..] is what the window holds
    size_t longest = 0;
    int64_t t = 0;
    double counter = 0;
    for (int round = 0; round < 400; ++round) {
      for (int k = burst(rng); k > 0; --k) {
        t += step(rng);
        double v = 0;
        switch (shape) {
          case 0:
            v = gauge(rng);
            break;
          case 1:
            v = counter += noise(rng) * 10;
            break;
          case 2:
            v = 1e4 + noise(rng);
            break;
          default:
            v = small(rng);
            break;
        }
        REQUIRE(w.push({t, v}));
        all.push_back({t, v});
      }
      // Move the left edge to a random distance behind the newest sample (it never moves
      // back): phases of short windows, sometimes empty, and of long ones that grow to a
      // few hundred samples.
      int64_t lag_max = (round / 50) % 2 ? 200'000 : 20'000'000;
      int64_t edge = t - std::uniform_int_distribution<int64_t>(0, lag_max)(rng);
      w.evict_through(edge);
      while (begin < all.size() && all[begin].t_ms <= edge) ++begin;
      std::vector<Sample> held(all.begin() + static_cast<std::ptrdiff_t>(begin), all.end());
      longest = std::max(longest, held.size());
      INFO("round " << round << ", " << held.size() << " samples");
      check_against_scratch(w, held);
    }
    CHECK(longest >= 100);  // the long phases did test long windows
  }
}

TEST_CASE("sliding aggregates follow Prometheus over NaN and infinities") {
  SlidingWindow w;
  std::vector<Sample> held;
  const double values[] = {kNaN, 3, -0.0, 0.0, kInf, 2, kNaN, -kInf, 5, 1};
  int64_t t = 0;
  for (double v : values) {
    t += 1000;
    w.push({t, v});
    held.push_back({t, v});
    check_against_scratch(w, held);
  }
  while (!held.empty()) {
    w.evict_through(held.front().t_ms);
    held.erase(held.begin());
    check_against_scratch(w, held);
  }
}

TEST_CASE("min and max skip NaN unless every value is NaN") {
  SlidingWindow w;
  w.push({1, kNaN});
  REQUIRE(w.min());
  CHECK(std::isnan(*w.min()));
  w.push({2, 4});
  w.push({3, kNaN});
  w.push({4, 7});
  CHECK(w.min() == 4.0);
  CHECK(w.max() == 7.0);
  w.evict_through(2);
  CHECK(w.min() == 7.0);
  w.evict_through(4);
  CHECK_FALSE(w.min());
}

TEST_CASE("the average survives a sum that overflows, as in Prometheus") {
  // functions.test, metric8: 9.988465674311579e+307 twice has that average.
  SlidingWindow w;
  w.push({1, 9.988465674311579e+307});
  w.push({2, 9.988465674311579e+307});
  CHECK(w.sum() == kInf);
  CHECK(w.avg() == 9.988465674311579e+307);
}

TEST_CASE("samples out of time order and stale markers are not taken") {
  SlidingWindow w;
  CHECK(w.push({1000, 1}));
  CHECK_FALSE(w.push({1000, 2}));
  CHECK_FALSE(w.push({500, 3}));
  CHECK_FALSE(w.push({2000, stale_marker()}));
  CHECK(w.count() == 1);
  CHECK(w.last()->value == 1);
  CHECK(w.first()->t_ms == 1000);
}

TEST_CASE("an empty window answers nothing, and evaluate names what it keeps") {
  SlidingWindow w;
  CHECK_FALSE(w.sum());
  CHECK_FALSE(w.avg());
  CHECK_FALSE(w.min());
  CHECK_FALSE(w.stddev());
  CHECK_FALSE(w.last());
  CHECK_FALSE(w.quantile(0.5));
  CHECK_FALSE(w.evaluate("count_over_time"));
  w.push({1, 2});
  w.push({2, 4});
  CHECK(w.evaluate("quantile_over_time", std::vector<double>{0.5}) == 3.0);
  CHECK_FALSE(w.evaluate("quantile_over_time"));  // no q
  CHECK_FALSE(w.evaluate("rate"));
  CHECK(w.keeps("stddev_over_time"));
  CHECK_FALSE(w.keeps("rate"));
  SlidingWindow no_order(false);
  no_order.push({1, 2});
  CHECK_FALSE(no_order.quantile(0.5));
  CHECK_FALSE(no_order.keeps("quantile_over_time"));
  CHECK(no_order.sum() == 2.0);
  w.clear();
  CHECK(w.count() == 0);
  CHECK(w.push({1, 5}));  // after clear, earlier times are fine again
}
