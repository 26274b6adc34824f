// Incremental evaluation: an evaluator that keeps values from one time to the next answers
// exactly as one that computes everything afresh, and computes only the nodes downstream of
// the series that received samples.
#include <catch2/catch.hpp>
#include <cstdio>
#include <random>

#include "interpreter/evaluator.h"
#include "runtime/policy_loader.h"
#include "support/engine_scenario.h"
#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

struct Compiled {
  Checked checked;
  Program program;
  NodeId root = kNoNode;
  explicit Compiled(const std::string& expr) : checked(check_text("let e = " + expr + "\n")) {
    for (const std::string& s : checked.summary()) INFO(s);
    REQUIRE_FALSE(checked.diagnostics.has_errors());
    program = compile_expression(checked.modules, checked.program, 0,
                                 checked.modules[0].items[0].expr, &root, checked.diagnostics);
  }
};

// Every digit of every value, with each sample's labels and time.
std::string digits(Evaluator& ev, NodeId root) {
  const Value& v = ev.value(root);
  char number[64];
  if (v.type == ValueType::Scalar) {
    std::snprintf(number, sizeof number, "scalar %.17g\n", v.scalar);
    return number;
  }
  std::string out;
  for (const VectorSample& s : v.vector) {
    std::snprintf(number, sizeof number, " %.17g @%lld\n", s.value, static_cast<long long>(s.t_ms));
    out += labels_text(ev.labels(s.labels)) + number;
  }
  return out;
}

// Series that receive samples at their own irregular times: several scrape targets, some
// silent for minutes, one ending with a stale marker, one appearing late, counters resetting.
struct Feed {
  WindowStore store;
  std::mt19937 random{20261204};
  std::vector<uint32_t> ids;
  std::vector<double> counters;
  int64_t t_ms = 0;
  Feed() {
    for (int i = 0; i < 4; ++i) {
      std::string instance = std::to_string(i);
      ids.push_back(store.series(series("a", {{"i", instance}, {"job", i < 2 ? "x" : "y"}})));
      ids.push_back(store.series(series("b", {{"i", instance}})));
      ids.push_back(store.series(series("c_total", {{"i", instance}})));
    }
    counters.assign(ids.size(), 0);
  }
  // Moves the time on by 1 to 40 s; each series gets a sample in between with some chance.
  void step() {
    int64_t next = t_ms + 1000 * std::uniform_int_distribution<int64_t>(1, 40)(random);
    // Target 0 scrapes often, 3 rarely, so most steps change only a few series.
    for (size_t k = 0; k < ids.size(); ++k) {
      size_t target = k / 3 % 4;
      double chance = target == 0 ? 0.8 : target == 1 ? 0.3 : target == 2 ? 0.15 : 0.05;
      if (std::uniform_real_distribution<double>(0, 1)(random) > chance) continue;
      int64_t at = std::uniform_int_distribution<int64_t>(t_ms + 1, next)(random);
      double value = std::uniform_int_distribution<int>(0, 20)(random) / 10.0;
      if (k % 3 == 2) {
        counters[k] =
            std::uniform_int_distribution<int>(0, 30)(random) == 0 ? 0 : counters[k] + value;
        value = counters[k];
      }
      if (k == 4 && t_ms > 600'000 && t_ms < 700'000) value = stale_marker();
      store.sample(ids[k], at, value);
    }
    if (t_ms > 300'000 && ids.size() == 12) {
      ids.push_back(store.series(series("a", {{"i", "late"}, {"job", "x"}})));
      counters.push_back(0);
    }
    t_ms = next;
  }
};

}  // namespace

TEST_CASE("an incremental evaluator answers at every time exactly as a fresh one does") {
  const std::vector<std::string> exprs = {
      "a",
      "a{job=\"x\"}",
      "avg_over_time(a[1m])",
      "sum_over_time(b[2m])",
      "count_over_time(a[45s])",
      "min_over_time(b[1m])",
      "max_over_time(a[90s])",
      "quantile_over_time(0.3, a[1m])",
      "last_over_time(b[1m])",
      "changes(a[2m])",
      "deriv(c_total[2m])",
      "irate(c_total[1m])",
      "rate(c_total[1m])",
      "increase(c_total[2m])",
      "sum by (job) (avg_over_time(a[1m]))",
      "topk(2, a)",
      "a * on(i) b",
      "avg_over_time(b[1m]) > 0.8 and b < 1.5",
      "a > 0.5 and on(i) b < 1.5",
      "a > 1 or b",
      "b unless a > 1",
      "a offset 30s",
      "max_over_time(avg_over_time(a[30s])[2m:15s])",
      "time() - timestamp(a)",
      "vector(time())",
      "absent(a{i=\"nope\"})",
      "absent_over_time(b{i=\"3\"}[20s])",
      "scalar(sum(b)) + count(a)",
      "label_replace(a, \"j\", \"$1\", \"i\", \"(.*)\")",
      "sum(rate(c_total[1m])) / sum(count_over_time(a[1m]))",
      "-a + 1",
  };
  for (const std::string& expr : exprs) {
    Compiled c(expr);
    Feed feed;
    Evaluator incremental(c.checked.modules, c.program, feed.store);
    EvalOptions afresh;
    afresh.incremental = false;
    Evaluator fresh(c.checked.modules, c.program, feed.store, afresh);
    size_t nonempty = 0;
    for (int k = 0; k < 200; ++k) {
      feed.step();
      // Now and then the same time twice, as a reload or a control call does.
      for (int again = 0; again < (k % 17 == 0 ? 2 : 1); ++again) {
        INFO(expr << " at " << feed.t_ms);
        incremental.at(feed.t_ms);
        fresh.at(feed.t_ms);
        std::string want = digits(fresh, c.root);
        CHECK(digits(incremental, c.root) == want);
        nonempty += !want.empty();
      }
    }
    INFO(expr);
    CHECK(nonempty > 0);  // the comparison compared something
  }
}

TEST_CASE("a sample re-evaluates only the nodes downstream of its series") {
  // Seven nodes: the two selectors' ranges are read by their functions straight from the store,
  // so the leaves are the two avg_over_time, then one sum each and the division.
  Compiled c("sum(avg_over_time(a[5m])) / sum(avg_over_time(b[5m]))");
  WindowStore store;
  uint32_t a = store.series(series("a", {{"i", "0"}}));
  uint32_t b = store.series(series("b", {{"i", "0"}}));
  store.sample(a, 0, 1);
  store.sample(b, 0, 4);
  Evaluator ev(c.checked.modules, c.program, store);
  ev.at(10'000);
  CHECK(digits(ev, c.root) == "{} 0.25 @10000\n");
  CHECK(ev.computed_nodes() == 5);

  // Nothing arrived and nothing aged out: nothing is computed, the time moves on.
  ev.at(20'000);
  CHECK(digits(ev, c.root) == "{} 0.25 @20000\n");
  CHECK(ev.computed_nodes() == 5);

  // A sample of b: its window, its sum and the division; a's side is kept.
  store.sample(b, 25'000, 2);
  ev.at(30'000);
  CHECK(digits(ev, c.root) == "{} 0.33333333333333331 @30000\n");
  CHECK(ev.computed_nodes() == 5 + 3);

  // At 300 s the samples at 0 leave their windows (t - 5m, t] with no sample arriving: both
  // sides are computed again; a's window is empty, so is the quotient.
  ev.at(299'999);
  CHECK(ev.computed_nodes() == 8);
  CHECK(digits(ev, c.root) == "{} 0.33333333333333331 @299999\n");
  ev.at(300'000);
  CHECK(digits(ev, c.root) == "");
  CHECK(ev.computed_nodes() == 8 + 5);

  // Off, every node is computed at every time.
  EvalOptions afresh;
  afresh.incremental = false;
  Evaluator full(c.checked.modules, c.program, store, afresh);
  full.at(310'000);
  full.value(c.root);
  full.at(320'000);
  full.value(c.root);
  CHECK(full.computed_nodes() == 10);
}

TEST_CASE("an instant selector's kept value ends when its sample leaves the 5-minute lookback") {
  Compiled c("sum(x)");
  WindowStore store;
  uint32_t x = store.series(series("x"));
  store.sample(x, 0, 7);
  Evaluator ev(c.checked.modules, c.program, store);
  ev.at(1'000);
  CHECK(digits(ev, c.root) == "{} 7 @1000\n");
  ev.at(299'999);
  CHECK(digits(ev, c.root) == "{} 7 @299999\n");
  CHECK(ev.computed_nodes() == 2);
  ev.at(300'000);  // the left edge is excluded: a sample exactly 5 minutes old is not seen
  CHECK(digits(ev, c.root) == "");
  // A series that appears later is matched, and its sample seen, at once.
  uint32_t y = store.series(series("x", {{"k", "v"}}));
  store.sample(y, 300'500, 2);
  ev.at(301'000);
  CHECK(digits(ev, c.root) == "{} 2 @301000\n");
}

TEST_CASE(
    "an engine fed sample by sample decides the same with incremental evaluation or without") {
  const char* policies = R"(
knob pool : int in 1..100
policy grow_pool {
  trigger avg_over_time(latency[1m]) > 0.5 and errors < 3 for 1m
  action set pool = pool + 10
  expect latency decreases by 10% within 3m
  cooldown 2m
}
policy shrink {
  trigger sum by (job) (rate(requests_total[1m])) < 2 for 30s
  action notify "shrink"
}
policy stale_watch {
  trigger absent(heartbeat) for 45s
  action notify "gone"
}
)";
  EngineOptions afresh;
  afresh.eval.incremental = false;
  Scenario on(policies), off(policies, afresh);
  std::string events[2];
  int side = 0;
  for (Scenario* s : {&on, &off}) {
    s->engine->set_knob("pool", 20);
    std::mt19937 random(7);
    uint32_t latency = s->store.series(series("latency", {{"job", "api"}}));
    uint32_t errors = s->store.series(series("errors", {{"job", "api"}}));
    uint32_t requests = s->store.series(series("requests_total", {{"job", "api"}}));
    uint32_t heartbeat = s->store.series(series("heartbeat"));
    double count = 0;
    for (int64_t t = 0; t <= 1'800'000; t += 5'000) {
      // latency every 5 s, errors every 20 s, requests every 30 s, the heartbeat until 15 min.
      double wave = (t / 120'000) % 3 == 0 ? 0.2 : 0.9;
      s->store.sample(latency, t, wave + std::uniform_int_distribution<int>(0, 9)(random) / 100.0);
      if (t % 20'000 == 0) s->store.sample(errors, t, (t / 200'000) % 2 == 0 ? 1 : 5);
      if (t % 30'000 == 0) {
        count += (t / 300'000) % 2 == 0 ? 300 : 10;
        s->store.sample(requests, t, count);
      }
      if (t % 15'000 == 0 && t < 900'000) s->store.sample(heartbeat, t, 1);
      for (const Event& e : s->engine->evaluate(t)) events[side] += event_text(e) + "\n";
    }
    ++side;
  }
  CHECK(events[0] == events[1]);
  // It compared decisions of every policy.
  CHECK(events[0].find("grow_pool{job=\"api\"} applied pool 20 -> 30") != std::string::npos);
  CHECK(events[0].find("shrink{job=\"api\"} notified") != std::string::npos);
  CHECK(events[0].find("stale_watch notified") != std::string::npos);
}
