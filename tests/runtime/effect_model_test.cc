// The effect model: exact factors for per_doubling, per_unit, delays, ramps and label matchers;
// counters moved through their increments; deterministic noise; every TOML error exactly.
#include "runtime/effect_model.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>

using namespace setpoint;

namespace {

EffectModel model(const std::string& toml) {
  std::vector<std::string> errors;
  auto m = EffectModel::parse(toml, "effects.toml", errors);
  INFO(toml);
  for (const std::string& e : errors) UNSCOPED_INFO(e);
  REQUIRE(m);
  REQUIRE(errors.empty());
  return std::move(*m);
}

std::vector<std::string> errors_of(const std::string& toml) {
  std::vector<std::string> errors;
  auto m = EffectModel::parse(toml, "effects.toml", errors);
  CHECK_FALSE(m);
  return errors;
}

Labels series(std::string name, Labels more = {}) {
  more.push_back({"__name__", std::move(name)});
  normalize_labels(more);
  return more;
}

constexpr int64_t kMinute = 60000;

}  // namespace

TEST_CASE("per_doubling moves a gauge by (1+g)^log2(new/old), strictly after the delay",
          "[effect_model]") {
  EffectModel m = model(R"(
[[effect]]
knob = "cache_ttl"
metric = "latency_seconds"
per_doubling = -0.25
delay = "1m"
)");
  Labels s = series("latency_seconds");
  std::vector<KnobChange> changes = {{0, "cache_ttl", 30, 60}};
  CHECK(m.apply(s, 0, 2.0, changes) == 2.0);
  CHECK(m.apply(s, kMinute, 2.0, changes) == 2.0);  // the change acts on what comes after
  CHECK(m.apply(s, kMinute + 1, 2.0, changes) == 1.5);
  // A second change, 60 -> 240, is two more doublings: 0.75 * 0.75^2.
  changes.push_back({2 * kMinute, "cache_ttl", 60, 240});
  CHECK(m.apply(s, 3 * kMinute, 2.0, changes) == 1.5);
  CHECK(m.apply(s, 3 * kMinute + 1, 2.0, changes) == 0.84375);
  CHECK(m.factor(s, 3 * kMinute + 1, changes) == 0.421875);
  // Back to 30 cancels both: 0.75^(1 + 2 - 3) is 1.
  changes.push_back({4 * kMinute, "cache_ttl", 240, 30});
  CHECK(m.apply(s, 6 * kMinute, 2.0, changes) == Approx(2.0).epsilon(1e-15));
  // The order of the change list does not matter: the factors multiply.
  std::vector<KnobChange> reversed(changes.rbegin(), changes.rend());
  CHECK(m.factor(s, 3 * kMinute + 1, reversed) == 0.421875);
}

TEST_CASE("per_unit compounds (1+g) for every +1 of the knob", "[effect_model]") {
  EffectModel m = model(R"(
[[effect]]
knob = "workers"
metric = "queue_depth"
per_unit = -0.5
)");
  Labels s = series("queue_depth");
  std::vector<KnobChange> changes = {{1000, "workers", 2, 4}};  // delay 0 by default
  CHECK(m.apply(s, 1000, 80, changes) == 80);
  CHECK(m.apply(s, 1001, 80, changes) == 20);  // 0.5^2
  changes.push_back({2000, "workers", 4, 3});
  CHECK(m.apply(s, 2001, 80, changes) == 40);  // 0.5^2 * 0.5^-1
  changes.push_back({3000, "workers", 3, 3.5});
  CHECK(m.factor(s, 3001, changes) == Approx(0.5 * std::sqrt(0.5)).epsilon(1e-15));
}

TEST_CASE("a ramp moves the factor linearly from 1 to full strength", "[effect_model]") {
  EffectModel m = model(R"(
[[effect]]
knob = "k"
metric = "g"
per_doubling = -0.5
delay = "1m"
ramp = "2m"
)");
  Labels s = series("g");
  std::vector<KnobChange> changes = {{0, "k", 1, 2}};
  CHECK(m.factor(s, kMinute, changes) == 1);
  CHECK(m.factor(s, kMinute + kMinute / 2, changes) == 0.875);  // a quarter of the way to 0.5
  CHECK(m.factor(s, 2 * kMinute, changes) == 0.75);
  CHECK(m.factor(s, 3 * kMinute, changes) == 0.5);
  CHECK(m.factor(s, 60 * kMinute, changes) == 0.5);
  // Two changes ramp each on its own clock, and multiply.
  changes.push_back({2 * kMinute, "k", 2, 4});
  CHECK(m.factor(s, 4 * kMinute, changes) == 0.5 * 0.75);
}

TEST_CASE("metric and labels select the series, other knobs and series are untouched",
          "[effect_model]") {
  EffectModel m = model(R"(
[[effect]]
knob = "k"
metric = "x"
labels = { job = "api", canary = "" }
per_doubling = 1
)");
  std::vector<KnobChange> changes = {{0, "k", 1, 2}, {0, "other", 1, 1000}};
  CHECK(m.apply(series("x", {{"job", "api"}}), 10, 3, changes) == 6);
  CHECK(m.apply(series("x", {{"job", "api"}, {"instance", "a"}}), 10, 3, changes) == 6);
  CHECK(m.apply(series("x", {{"job", "web"}}), 10, 3, changes) == 3);
  CHECK(m.apply(series("x", {{"job", "api"}, {"canary", "1"}}), 10, 3, changes) == 3);
  CHECK(m.apply(series("x"), 10, 3, changes) == 3);
  CHECK(m.apply(series("y", {{"job", "api"}}), 10, 3, changes) == 3);
  CHECK(m.apply(Labels{{"job", "api"}}, 10, 3, changes) == 3);  // no metric name at all
  CHECK(m.factor(series("x", {{"job", "web"}}), 10, changes) == 1);
}

TEST_CASE("several effects on one series multiply", "[effect_model]") {
  EffectModel m = model(R"(
[[effect]]
knob = "a"
metric = "x"
per_doubling = 1

[[effect]]
knob = "b"
metric = "x"
per_unit = -0.75
delay = "1s"
)");
  std::vector<KnobChange> changes = {{0, "a", 1, 4}, {0, "b", 0, 1}};
  CHECK(m.effects().size() == 2);
  CHECK(m.factor(series("x"), 500, changes) == 4);
  CHECK(m.factor(series("x"), 1001, changes) == 1);  // 2^2 * 0.25
}

TEST_CASE("changes an effect cannot use are left out and listed", "[effect_model]") {
  EffectModel m = model(R"(
[[effect]]
knob = "ttl"
metric = "x"
per_doubling = -0.25

[[effect]]
knob = "ttl"
metric = "y"
per_unit = 1
)");
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<KnobChange> changes = {
      {0, "ttl", 0, 30}, {5, "ttl", 30, -1}, {7, "ttl", 30, inf}, {9, "ttl", 1, 2}};
  CHECK(m.factor(series("x"), 10, changes) == 0.75);  // only the last one counts
  CHECK(m.factor(series("y"), 10, changes) == 1);     // 2^30 * 2^-31 * 2^1: all but the infinity
  CHECK(m.unusable_changes(changes) ==
        std::vector<std::string>{
            "knob \"ttl\" changed from 0 to 30 at 0 ms: the effect at effects.toml:2:1 works per "
            "doubling and needs both values above 0, so it leaves this change out",
            "knob \"ttl\" changed from 30 to -1 at 5 ms: the effect at effects.toml:2:1 works per "
            "doubling and needs both values above 0, so it leaves this change out",
            "knob \"ttl\" changed from 30 to inf at 7 ms: the effect at effects.toml:2:1 works "
            "per doubling and needs both values above 0, so it leaves this change out",
            "knob \"ttl\" changed from 30 to inf at 7 ms: the effect at effects.toml:7:1 works "
            "per unit and needs finite values, so it leaves this change out",
        });
}

TEST_CASE("counters: increments are moved, resets restart the output, first samples pass",
          "[effect_model]") {
  EffectModel m = model(R"(
[[effect]]
knob = "k"
metric = "requests_total"
per_doubling = 1
)");
  Labels s = series("requests_total");
  std::vector<KnobChange> changes = {{100, "k", 1, 2}};
  CHECK(m.apply(s, 0, 10, changes) == 10);
  CHECK(m.apply(s, 100, 20, changes) == 20);  // factor 1 up to the change
  CHECK(m.apply(s, 200, 30, changes) == 40);  // +10 recorded, +20 replayed
  CHECK(m.apply(s, 300, 35, changes) == 50);
  CHECK(m.apply(s, 300, 35, changes) == 50);  // asked again: the same answer
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(m.apply(s, 350, nan, changes)));  // NaN passes, the state stays
  CHECK(is_stale_marker(m.apply(s, 360, stale_marker(), changes)));
  CHECK(m.apply(s, 400, 5, changes) == 10);  // a reset: 5 since it, moved to 10
  CHECK(m.apply(s, 500, 8, changes) == 16);
  CHECK(m.apply(s, 50, 7, changes) == 7);    // earlier than the last: the series starts afresh
  CHECK(m.apply(s, 200, 9, changes) == 11);  // +2 recorded, moved by the factor at 200
  // The four suffixes of counters, and only as suffixes.
  CHECK(EffectModel::is_counter("a_total"));
  CHECK(EffectModel::is_counter("a_count"));
  CHECK(EffectModel::is_counter("a_sum"));
  CHECK(EffectModel::is_counter("a_bucket"));
  CHECK_FALSE(EffectModel::is_counter("a_totals"));
  CHECK_FALSE(EffectModel::is_counter("total"));
  // reset() forgets the accumulators.
  m.reset();
  CHECK(m.apply(s, 600, 100, changes) == 100);
}

TEST_CASE("a counter with noise never decreases, and is the same whatever the interleaving",
          "[effect_model]") {
  const char* toml = R"(
[[effect]]
knob = "k"
metric = "bytes_total"
per_doubling = -0.5
noise = 1
seed = 3
)";
  std::vector<KnobChange> changes = {{0, "k", 1, 2}};
  Labels a = series("bytes_total", {{"instance", "a"}});
  Labels b = series("bytes_total", {{"instance", "b"}});
  std::mt19937 rng(5);
  std::vector<double> recorded;
  double v = 0;
  for (int i = 0; i < 2000; ++i) recorded.push_back(v += rng() % 100);

  EffectModel one_by_one = model(toml);
  std::vector<double> out_a, out_b;
  for (int i = 0; i < 2000; ++i)
    out_a.push_back(one_by_one.apply(a, i * 1000, recorded[i], changes));
  for (int i = 0; i < 2000; ++i)
    out_b.push_back(one_by_one.apply(b, i * 1000, recorded[i], changes));
  size_t moved = 0;
  for (int i = 1; i < 2000; ++i) {
    REQUIRE(out_a[i] >= out_a[i - 1]);
    REQUIRE(out_b[i] >= out_b[i - 1]);
    if (out_a[i] != recorded[i]) ++moved;
  }
  CHECK(moved > 1900);
  CHECK(out_a != out_b);  // each series has noise of its own

  EffectModel interleaved = model(toml);
  for (int i = 0; i < 2000; ++i) {
    CHECK(interleaved.apply(b, i * 1000, recorded[i], changes) == out_b[i]);
    CHECK(interleaved.apply(a, i * 1000, recorded[i], changes) == out_a[i]);
  }
}

TEST_CASE("noise is a pure function of seed, series and time, and starts with the effect",
          "[effect_model]") {
  const char* toml = R"(
[[effect]]
knob = "k"
metric = "g"
per_doubling = 0
noise = 0.02
seed = 7
delay = "10s"
)";
  EffectModel m = model(toml);
  Labels s = series("g", {{"job", "api"}});
  std::vector<KnobChange> changes = {{0, "k", 1, 2}};
  CHECK(m.factor(s, 10000, changes) == 1);  // before the delay is over: no noise
  const int n = 20000;
  std::vector<double> forward;
  for (int i = 0; i < n; ++i) forward.push_back(m.apply(s, 10001 + i * 15000, 1.0, changes));
  EffectModel again = model(toml);
  for (int i = n - 1; i >= 0; --i) {
    REQUIRE(again.apply(s, 10001 + i * 15000, 1.0, changes) == forward[i]);
  }
  // The noise is Gaussian with sd 2 %: over 20000 draws the mean is 1 within 5 standard errors
  // (0.0007) and the sd within 3 %.
  double sum = 0, sq = 0;
  for (double f : forward) {
    sum += f;
    sq += (f - 1) * (f - 1);
  }
  CHECK(sum / n == Approx(1).margin(0.0007));
  CHECK(std::sqrt(sq / n) == Approx(0.02).epsilon(0.03));
  // Another seed, another series, another time: other noise.
  EffectModel other =
      model(std::string(toml).replace(std::string(toml).find("seed = 7"), 8, "seed = 8"));
  CHECK(other.factor(s, 10001, changes) != forward[0]);
  CHECK(m.factor(series("g", {{"job", "web"}}), 10001, changes) != forward[0]);
  CHECK(m.factor(s, 10002, changes) != forward[0]);
  CHECK(m.factor(s, 10001, changes) == forward[0]);
}

TEST_CASE("a file without effects is a model that changes nothing", "[effect_model]") {
  for (const char* toml : {"", "# only a comment\n"}) {
    EffectModel m = model(toml);
    CHECK(m.effects().empty());
    CHECK(m.apply(series("x_total"), 5, 7, {{0, "k", 1, 2}}) == 7);
  }
}

TEST_CASE("every field is read into the effect", "[effect_model]") {
  EffectModel m = model(R"(
[[effect]]
knob = "cache_ttl"
metric = "http_request_duration_seconds"
labels = { job = "api", code = "200" }
per_unit = 0.01
delay = "1h30m"
ramp = "500ms"
noise = 0.5
seed = -1
[[effect]]
knob = "b"
metric = "m:rate5m"
per_doubling = 2
delay = "0"
)");
  REQUIRE(m.effects().size() == 2);
  const Effect& e = m.effects()[0];
  CHECK(e.knob == "cache_ttl");
  CHECK(e.metric == "http_request_duration_seconds");
  CHECK(e.labels == Labels{{"code", "200"}, {"job", "api"}});
  CHECK(e.scale == EffectScale::PerUnit);
  CHECK(e.change == 0.01);
  CHECK(e.delay_ms == 5400000);
  CHECK(e.ramp_ms == 500);
  CHECK(e.noise == 0.5);
  CHECK(e.seed == UINT64_MAX);
  CHECK(e.where == "effects.toml:2:1");
  const Effect& f = m.effects()[1];
  CHECK(f.scale == EffectScale::PerDoubling);
  CHECK(f.change == 2);
  CHECK(f.delay_ms == 0);
  CHECK(f.ramp_ms == 0);
  CHECK(f.noise == 0);
  CHECK(f.seed == kDefaultEffectSeed);
  CHECK(f.where == "effects.toml:11:1");
}

TEST_CASE("every mistake in the TOML is reported with file:line:col and a hint", "[effect_model]") {
  struct Case {
    std::string toml;
    std::vector<std::string> errors;
  };
  const std::string head = "[[effect]]\nknob = \"k\"\nmetric = \"m\"\n";
  const Case cases[] = {
      {"[[effect]]\nknob = \"k\"\nmetric = \"m\"\nper_doubling = 0.1\ndealy = \"1m\"\n",
       {"effects.toml:5:1: unknown key \"dealy\" in [[effect]]; hint: did you mean 'delay'?"}},
      {"[[effect]]\nknob = \"k\"\nmetric = \"m\"\nper_doubling = 0.1\ncolour = 1\n",
       {"effects.toml:5:1: unknown key \"colour\" in [[effect]]; hint: the keys are knob, metric, "
        "labels, per_doubling, per_unit, delay, ramp, noise and seed"}},
      {"efect = 1\n", {"effects.toml:1:1: unknown key \"efect\"; hint: did you mean 'effect'?"}},
      {"\"we\\\"ird\" = 1\n",
       {"effects.toml:1:1: unknown key \"we\\\"ird\"; hint: the file holds [[effect]] tables and "
        "nothing else"}},
      {"title = \"x\"\n",
       {"effects.toml:1:1: unknown key \"title\"; hint: the file holds [[effect]] tables and "
        "nothing else"}},
      {"[effect]\nknob = \"k\"\n",
       {"effects.toml:1:2: \"effect\" must be an array of tables, not a table; hint: write each "
        "one as [[effect]], with double brackets"}},
      {"[[effect]]\n",
       {"effects.toml:1:1: [[effect]] has no \"knob\"; hint: name the knob whose change causes "
        "the effect: knob = \"cache_ttl\"",
        "effects.toml:1:1: [[effect]] has no \"metric\"; hint: name the metric it moves: metric = "
        "\"http_request_duration_seconds\"",
        "effects.toml:1:1: [[effect]] has neither \"per_doubling\" nor \"per_unit\"; hint: say "
        "how far the metric moves: per_doubling = -0.25 (-25 % for each doubling of the knob) or "
        "per_unit = 0.01 (+1 % for each +1)"}},
      {"[[effect]]\nknob = 5\nmetric = [\"m\"]\nper_unit = \"0.1\"\n",
       {"effects.toml:2:8: \"knob\" must be a string, not an integer; hint: write knob = "
        "\"cache_ttl\"",
        "effects.toml:3:10: \"metric\" must be a string, not an array; hint: write metric = "
        "\"http_request_duration_seconds\"",
        "effects.toml:4:12: \"per_unit\" must be a number, not a string; hint: a relative change: "
        "0.01 means each +1 of the knob moves the metric by +1 %"}},
      {"[[effect]]\nknob = \"\"\nmetric = \"http-requests\"\nper_doubling = 0.1\n",
       {"effects.toml:2:8: \"knob\" is empty; hint: name the knob whose change causes the effect",
        "effects.toml:3:10: \"http-requests\" is not a metric name; hint: a metric name is "
        "letters, digits, \"_\" and \":\", not starting with a digit"}},
      {head + "per_doubling = -1\n",
       {"effects.toml:4:16: per_doubling = -1 would make the metric's factor 1 + (-1) = 0, which "
        "is not positive; hint: it must be above -1: -0.25 means each doubling of the knob moves "
        "the metric by -25 %"}},
      {head + "per_unit = -1.5\n",
       {"effects.toml:4:12: per_unit = -1.5 would make the metric's factor 1 + (-1.5) = -0.5, "
        "which is not positive; hint: it must be above -1: 0.01 means each +1 of the knob moves "
        "the metric by +1 %"}},
      {head + "per_doubling = nan\n",
       {"effects.toml:4:16: \"per_doubling\" must be finite; hint: a relative change: -0.25 means "
        "each doubling of the knob moves the metric by -25 %"}},
      {head + "per_unit = 0.1\nper_doubling = 0.1\n",
       {"effects.toml:5:1: [[effect]] has both \"per_doubling\" and \"per_unit\"; hint: keep "
        "per_doubling for knobs that scale (sizes, TTLs) or per_unit for knobs that count "
        "(workers, replicas)"}},
      {head + "per_doubling = 0.1\nper_unit = 0.1\n",
       {"effects.toml:5:1: [[effect]] has both \"per_doubling\" and \"per_unit\"; hint: keep "
        "per_doubling for knobs that scale (sizes, TTLs) or per_unit for knobs that count "
        "(workers, replicas)"}},
      {head + "per_doubling = 0.1\ndelay = 60\nramp = true\n",
       {"effects.toml:5:9: \"delay\" must be a duration string, not an integer; hint: write delay "
        "= \"60s\" for seconds",
        "effects.toml:6:8: \"ramp\" must be a duration string, not a boolean; hint: write ramp = "
        "\"1m\""}},
      {head + "per_doubling = 0.1\ndelay = \"5min\"\nramp = \"60\"\n",
       {"effects.toml:5:9: \"delay\" is not a duration: unknown unit 'min'; hint: write 'm'",
        "effects.toml:6:8: \"ramp\" is not a duration: \"60\"; hint: durations look like 30s, 1m "
        "or 1h30m"}},
      {head + "per_doubling = 0.1\ndelay = \"-1m\"\nramp = \"11y\"\n",
       {"effects.toml:5:9: \"delay\" is not a duration: invalid number '-1m'; hint: durations "
        "look like 30s, 1m or 1h30m",
        "effects.toml:6:8: \"ramp\" is longer than 10 years; hint: an effect this slow never "
        "shows within a replay"}},
      {head + "per_doubling = 0.1\nnoise = 1.5\nseed = 1.5\n",
       {"effects.toml:5:9: noise = 1.5 is outside 0 to 1; hint: it is a standard deviation "
        "relative to the value: 0.02 is 2 %",
        "effects.toml:6:8: \"seed\" must be an integer, not a float; hint: write seed = 7"}},
      {head + "per_doubling = 0.1\nnoise = -0.1\n",
       {"effects.toml:5:9: noise = -0.1 is outside 0 to 1; hint: it is a standard deviation "
        "relative to the value: 0.02 is 2 %"}},
      {head + "per_doubling = 0.1\nlabels = \"job=api\"\n",
       {"effects.toml:5:10: \"labels\" must be a table, not a string; hint: write labels = { job "
        "= \"api\" }"}},
      {head + "per_doubling = 0.1\nlabels = { __name__ = \"x\", \"1x\" = \"a\", job = 1 }\n",
       {"effects.toml:5:12: labels cannot match \"__name__\"; hint: the metric name goes in "
        "metric = \"...\"",
        "effects.toml:5:28: \"1x\" is not a label name; hint: a label name is letters, digits and "
        "\"_\", not starting with a digit",
        "effects.toml:5:46: the value of label \"job\" must be a string, not an integer; hint: "
        "write job = \"api\""}},
      {"[[effect]]\nknob = \"a\"\nmetric = \"m\"\nper_unit = 1\n[[effect]]\nknob = 1\n",
       {"effects.toml:5:1: [[effect]] has no \"metric\"; hint: name the metric it moves: metric = "
        "\"http_request_duration_seconds\"",
        "effects.toml:5:1: [[effect]] has neither \"per_doubling\" nor \"per_unit\"; hint: say "
        "how far the metric moves: per_doubling = -0.25 (-25 % for each doubling of the knob) or "
        "per_unit = 0.01 (+1 % for each +1)",
        "effects.toml:6:8: \"knob\" must be a string, not an integer; hint: write knob = "
        "\"cache_ttl\""}},
      {"[[effect]]\nknob = \n",
       {"effects.toml:2:8: invalid TOML: Error while parsing key-value pair: expected value, saw "
        "'\\n'"}},
      {"[[effect]]\nknob = \"a\"\nknob = \"b\"\n",
       {"effects.toml:3:8: invalid TOML: Error while parsing key-value pair: cannot redefine "
        "existing string 'knob'"}},
  };
  for (const Case& c : cases) {
    INFO(c.toml);
    CHECK(errors_of(c.toml) == c.errors);
  }
}

TEST_CASE("random bytes and mutated files never crash the TOML reader", "[effect_model]") {
  const std::string valid = R"([[effect]]
knob = "cache_ttl"
metric = "http_request_duration_seconds"
labels = { job = "api" }
per_doubling = -0.25
delay = "1m"
ramp = "2m"
noise = 0.02
seed = 7
)";
  std::mt19937 rng(99);
  const std::string alphabet = "[]{}=\"'#\n .,-+0123456789abcdefxyz_\\\xff\xc3";
  size_t accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string s = valid;
    if (round % 3 == 0) {
      s.assign(rng() % 200, ' ');
      for (char& c : s) c = static_cast<char>(rng() % 256);
    } else {
      for (int k = 0; k < 1 + round % 4; ++k)
        s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    }
    std::vector<std::string> errors;
    auto m = EffectModel::parse(s, "fuzz.toml", errors);
    if (m) {
      ++accepted;
      CHECK(errors.empty());
      for (const Effect& e : m->effects()) CHECK(e.change > -1);
      m->apply(Labels{{"__name__", "http_request_duration_seconds"}, {"job", "api"}}, 100000, 1.0,
               {{0, "cache_ttl", 1, 2}});
    } else {
      REQUIRE_FALSE(errors.empty());
      for (const std::string& e : errors) CHECK(e.rfind("fuzz.toml:", 0) == 0);
    }
  }
  CHECK(accepted > 100);
}

TEST_CASE("the worked example of docs/effect-model.md", "[effect_model]") {
  EffectModel m = model(R"(
[[effect]]
knob = "cache_ttl"
metric = "api_latency_p99_seconds"
labels = { job = "api" }
per_doubling = -0.25
delay = "1m"
ramp = "2m"

[[effect]]
knob = "workers"
metric = "jobs_processed_total"
per_unit = 0.05
delay = "30s"
)");
  const int64_t t10 = 10 * kMinute;
  std::vector<KnobChange> changes = {{t10, "cache_ttl", 30, 120}, {t10, "workers", 4, 6}};
  Labels p99 = series("api_latency_p99_seconds", {{"job", "api"}});
  CHECK(m.apply(p99, t10 + kMinute, 0.8, changes) == 0.8);
  CHECK(m.apply(p99, t10 + 2 * kMinute, 0.8, changes) == 0.625);  // factor 0.78125
  CHECK(m.apply(p99, t10 + 3 * kMinute, 0.8, changes) == 0.45);   // factor 0.5625
  Labels jobs = series("jobs_processed_total", {{"job", "batch"}});
  CHECK(m.apply(jobs, t10, 1000, changes) == 1000);
  CHECK(m.apply(jobs, t10 + kMinute, 1100, changes) == 1110.25);  // +100 * 1.05^2
  CHECK(m.apply(jobs, t10 + 2 * kMinute, 1200, changes) == 1220.5);
}
