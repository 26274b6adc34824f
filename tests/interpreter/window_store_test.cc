// The window store: series identity, the append rules and limits with their counters, and what
// range and instant selectors see (Prometheus 3.x: windows open on the left).
#include "interpreter/window_store.h"

#include <catch2/catch.hpp>
#include <cmath>

using namespace setpoint;

namespace {

Labels series_labels(const std::string& name, const std::string& instance) {
  return {{"__name__", name}, {"instance", instance}};
}

std::vector<int64_t> times(const std::vector<Sample>& samples) {
  std::vector<int64_t> t;
  for (const Sample& s : samples) t.push_back(s.t_ms);
  return t;
}

std::vector<int64_t> range_times(const WindowStore& store, uint32_t id, int64_t from, int64_t to) {
  std::vector<Sample> out;
  store.range(id, from, to, out);
  return times(out);
}

}  // namespace

TEST_CASE("a label set names one series, whatever the order it is written in") {
  WindowStore store;
  uint32_t a = store.series(series_labels("up", "a"));
  uint32_t b = store.series(series_labels("up", "b"));
  uint32_t c = store.series({{"__name__", "down"}, {"instance", "a"}});
  CHECK(a == 0);
  CHECK(b == 1);
  CHECK(c == 2);
  CHECK(store.series(series_labels("up", "a")) == a);
  // Not normalized by the caller: still the same series.
  CHECK(store.series({{"instance", "a"}, {"__name__", "up"}, {"zone", ""}}) == a);
  // A value containing what would be a separator in a naive key is a different series.
  CHECK(store.series({{"__name__", "up"}, {"instance", "a\"}, {x=\"b"}}) == 3);
  CHECK(store.series_count() == 4);
  CHECK(store.labels(b) == series_labels("up", "b"));
  CHECK(store.series_named("up") == std::vector<uint32_t>{0, 1, 3});
  CHECK(store.series_named("down") == std::vector<uint32_t>{2});
  CHECK(store.series_named("nothing").empty());
  CHECK(store.all_series() == std::vector<uint32_t>{0, 1, 2, 3});
}

TEST_CASE("samples older than or as old as a series' newest are refused and counted") {
  WindowStore store;
  uint32_t id = store.series(series_labels("up", "a"));
  CHECK(store.append(id, 1000, 1) == WindowStore::Append::Accepted);
  CHECK(store.append(id, 2000, 2) == WindowStore::Append::Accepted);
  CHECK(store.append(id, 1500, 3) == WindowStore::Append::OutOfOrder);
  CHECK(store.append(id, 2000, 4) == WindowStore::Append::Duplicate);
  store.sample(id, 500, 5);  // through SampleSink: refused the same way
  CHECK(store.append(id, 3000, 6) == WindowStore::Append::Accepted);
  const StoreCounters& c = store.counters();
  CHECK(c.accepted == 3);
  CHECK(c.out_of_order == 2);
  CHECK(c.duplicate == 1);
  CHECK(store.sample_count() == 3);
  std::vector<Sample> out;
  store.range(id, 0, 10000, out);
  REQUIRE(out.size() == 3);
  CHECK(out[1].value == 2);  // the duplicate did not overwrite
}

TEST_CASE("series beyond max_series are refused, and so are their samples") {
  WindowStore store(StoreLimits{.max_series = 2});
  uint32_t a = store.series(series_labels("up", "a"));
  uint32_t b = store.series(series_labels("up", "b"));
  CHECK(store.series(series_labels("up", "c")) == kRejectedSeries);
  CHECK(store.series(series_labels("up", "a")) == a);  // known series are still found
  CHECK(b == 1);
  store.sample(kRejectedSeries, 1000, 1);
  CHECK(store.append(kRejectedSeries, 2000, 1) == WindowStore::Append::Rejected);
  CHECK(store.append(7, 2000, 1) == WindowStore::Append::Rejected);  // never handed out
  CHECK(store.counters().rejected_series == 3);
  CHECK(store.series_count() == 2);
}

TEST_CASE("retention drops samples older than the newest minus the retention") {
  WindowStore store(StoreLimits{.retention_ms = 10'000});
  uint32_t id = store.series(series_labels("up", "a"));
  for (int64_t t = 0; t <= 30'000; t += 5'000) store.append(id, t, static_cast<double>(t));
  // Newest 30s: 20s is exactly at the cutoff and kept, 15s is older and dropped.
  CHECK(range_times(store, id, -1, 100'000) == std::vector<int64_t>{20'000, 25'000, 30'000});
  CHECK(store.counters().evicted == 4);
  CHECK(store.oldest_ms() == 20'000);
  CHECK(store.newest_ms() == 30'000);
}

TEST_CASE("a series with a steady live count holds at most 1.25 times its samples") {
  // A scrape every second and a 6-minute retention, as the daemon runs: 361 samples live.
  WindowStore store(StoreLimits{.retention_ms = 360'000});
  uint32_t id = store.series(series_labels("up", "a"));
  for (int64_t t = 0; t < 3'600'000; t += 1000) store.append(id, t, 1);
  CHECK(store.sample_count() == 361);
  CHECK(store.sample_bytes() >= 361 * sizeof(Sample));
  CHECK(store.sample_bytes() <= 361 * 5 / 4 * sizeof(Sample) + 4 * sizeof(Sample));
  std::vector<Sample> out;
  store.range(id, 3'239'000, 3'599'000, out);
  REQUIRE(out.size() == 360);
  CHECK(out.front().t_ms == 3'240'000);
  CHECK(out.back().t_ms == 3'599'000);
}

TEST_CASE("max_samples_per_series keeps the newest samples through many compactions") {
  WindowStore store(StoreLimits{.max_samples_per_series = 3});
  uint32_t id = store.series(series_labels("up", "a"));
  uint32_t other = store.series(series_labels("up", "b"));
  for (int64_t t = 1; t <= 1000; ++t) store.append(id, t, static_cast<double>(t) * 2);
  store.append(other, 5, 1);
  std::vector<Sample> out;
  store.range(id, 0, 2000, out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].t_ms == 998);
  CHECK(out[0].value == 1996);
  CHECK(out[2].t_ms == 1000);
  CHECK(store.counters().evicted == 997);
  CHECK(store.sample_count() == 4);
  // The ring never holds much more than what is live.
  CHECK(store.sample_bytes() <= 16 * sizeof(Sample));
  CHECK(store.oldest_ms() == 5);
  CHECK(store.append(id, 1000, 0) == WindowStore::Append::Duplicate);
}

TEST_CASE("a range selector sees the samples after from up to and including to, no stale markers") {
  WindowStore store;
  uint32_t id = store.series(series_labels("up", "a"));
  for (int64_t t = 0; t <= 60'000; t += 15'000) store.append(id, t, 1);
  store.append(id, 75'000, stale_marker());
  store.append(id, 90'000, 2);
  CHECK(range_times(store, id, 0, 60'000) == std::vector<int64_t>{15'000, 30'000, 45'000, 60'000});
  CHECK(range_times(store, id, -1, 0) == std::vector<int64_t>{0});
  CHECK(range_times(store, id, 14'999, 15'000) == std::vector<int64_t>{15'000});
  CHECK(range_times(store, id, 15'000, 29'999).empty());
  CHECK(range_times(store, id, 60'000, 90'000) == std::vector<int64_t>{90'000});
  CHECK(range_times(store, id, 90'000, 60'000).empty());  // an inverted window
  CHECK(range_times(store, 42, 0, 90'000).empty());       // an unknown series
}

TEST_CASE("a range view shows the store's own samples unless a stale marker is in the range") {
  WindowStore store;
  uint32_t id = store.series(series_labels("up", "a"));
  for (int64_t t = 0; t <= 60'000; t += 15'000) store.append(id, t, static_cast<double>(t));
  std::vector<Sample> scratch;
  std::span<const Sample> view = store.range_view(id, 0, 60'000, scratch);
  REQUIRE(view.size() == 4);
  CHECK(view.front().t_ms == 15'000);
  CHECK(view.back().value == 60'000);
  CHECK(scratch.empty());  // viewed in place, not copied
  CHECK(store.range_view(id, 60'000, 90'000, scratch).empty());
  CHECK(store.range_view(id, 90'000, 60'000, scratch).empty());
  CHECK(store.range_view(42, 0, 90'000, scratch).empty());

  store.append(id, 75'000, stale_marker());
  store.append(id, 90'000, 2);
  view = store.range_view(id, 30'000, 90'000, scratch);
  REQUIRE(view.size() == 3);  // 45s, 60s and 90s: the marker at 75s is left out
  CHECK(view.data() == scratch.data());
  CHECK(view[1].t_ms == 60'000);
  CHECK(view[2].t_ms == 90'000);
  // A range that starts at or after the newest marker is viewed in place again.
  view = store.range_view(id, 75'000, 90'000, scratch);
  REQUIRE(view.size() == 1);
  CHECK(view.front().value == 2);
  CHECK(view.data() != scratch.data());
}

TEST_CASE("an instant selector sees the newest sample within the lookback, edge excluded") {
  WindowStore store;
  uint32_t id = store.series(series_labels("up", "a"));
  store.append(id, 10'000, 1);
  store.append(id, 20'000, 2);
  CHECK_FALSE(store.instant(id, 9'999));
  CHECK(store.instant(id, 10'000)->value == 1);
  CHECK(store.instant(id, 19'999)->value == 1);
  CHECK(store.instant(id, 20'000)->value == 2);
  // 5 minutes after the newest sample it is exactly lookback old: no longer seen (3.x).
  CHECK(store.instant(id, 20'000 + kLookbackMs - 1)->t_ms == 20'000);
  CHECK_FALSE(store.instant(id, 20'000 + kLookbackMs));
  CHECK(store.instant(id, 25'000, 5'001)->value == 2);
  CHECK_FALSE(store.instant(id, 25'000, 5'000));
  CHECK_FALSE(store.instant(id, 25'000, 0));
  CHECK_FALSE(store.instant(99, 25'000));
}

TEST_CASE("a stale marker ends a series for instant selectors from its timestamp") {
  WindowStore store;
  uint32_t id = store.series(series_labels("up", "a"));
  store.append(id, 10'000, 1);
  CHECK(store.append(id, 20'000, stale_marker()) == WindowStore::Append::Accepted);
  CHECK(store.instant(id, 19'999)->value == 1);
  CHECK_FALSE(store.instant(id, 20'000));
  CHECK_FALSE(store.instant(id, 60'000));
  store.append(id, 30'000, 3);
  CHECK(store.instant(id, 30'000)->value == 3);
  // A NaN that is not the marker is a value like any other.
  store.append(id, 40'000, std::nan(""));
  REQUIRE(store.instant(id, 40'000));
  CHECK(std::isnan(store.instant(id, 40'000)->value));
}

TEST_CASE("an empty store has no newest or oldest time, and unknown ids have no labels") {
  WindowStore store;
  CHECK_FALSE(store.newest_ms());
  CHECK_FALSE(store.oldest_ms());
  CHECK(store.sample_count() == 0);
  CHECK(store.labels(3).empty());
  store.series(series_labels("up", "a"));  // a series without samples
  CHECK_FALSE(store.newest_ms());
}

TEST_CASE("buffers of series scraped together drop their dead prefixes at different ticks") {
  StoreLimits limits;
  limits.retention_ms = 60'000;
  WindowStore store(limits);
  constexpr int kSeries = 200;
  std::vector<uint32_t> ids;
  for (int i = 0; i < kSeries; ++i)
    ids.push_back(store.series(series_labels("x", std::to_string(i))));
  std::vector<const Sample*> where(kSeries, nullptr);
  size_t most_moved_at_once = 0, moves = 0;
  for (int k = 0; k < 1000; ++k) {
    size_t moved = 0;
    for (int i = 0; i < kSeries; ++i) {
      store.append(ids[i], k * 1000, k);
      const Sample* now = store.positioned(ids[i]).samples.data();
      // The oldest live sample moves back to the start of its buffer: a drop or a growth.
      if (k >= 200 && now < where[i]) ++moved;
      where[i] = now;
    }
    most_moved_at_once = std::max(most_moved_at_once, moved);
    moves += moved;
  }
  // 61 live samples in a buffer of 74: each drops its prefix every 8 to 13 ticks, by series.
  // Buffers that all moved together would move 200 at once every 13 ticks.
  CHECK(moves > 800 * kSeries / 13);
  CHECK(most_moved_at_once < kSeries / 2);
  // What a buffer holds is what the retention keeps, whenever its prefix went.
  for (uint32_t id : ids) CHECK(store.positioned(id).samples.size() == 61);
}

// Windows are found from the newest end (first_after): every boundary a query can take, in
// buffers of 0 to 70 samples with uneven gaps, answers what a filter over all samples answers.
TEST_CASE("ranges, views and instants answer as a filter over every sample would") {
  for (int n = 0; n <= 70; ++n) {
    WindowStore store;
    uint32_t id = store.series(series_labels("x", std::to_string(n)));
    std::vector<int64_t> held;
    int64_t t = 1000;
    for (int i = 0; i < n; ++i) {
      t += 1 + (i * 7919) % 5;  // gaps of 1 to 5 ms, so boundaries fall on and between samples
      store.append(id, t, i);
      held.push_back(t);
    }
    std::vector<Sample> scratch;
    size_t queries = 0;
    for (int64_t from = 990; from <= t + 2; ++from) {
      for (int64_t to = from + 1; to <= t + 3; to += 3) {
        std::vector<int64_t> expected;
        for (int64_t h : held) {
          if (h > from && h <= to) expected.push_back(h);
        }
        std::span<const Sample> view = store.range_view(id, from, to, scratch);
        std::vector<int64_t> viewed;
        for (const Sample& s : view) viewed.push_back(s.t_ms);
        REQUIRE(range_times(store, id, from, to) == expected);
        REQUIRE(viewed == expected);
        ++queries;
      }
      // Instant at `from` with a 4 ms lookback: the newest held sample in (from - 4, from].
      std::optional<int64_t> newest;
      for (int64_t h : held) {
        if (h > from - 4 && h <= from) newest = h;
      }
      std::optional<Sample> seen = store.instant(id, from, 4);
      REQUIRE(seen.has_value() == newest.has_value());
      if (seen) REQUIRE(seen->t_ms == *newest);
    }
    CHECK(queries > 0);
  }
}
