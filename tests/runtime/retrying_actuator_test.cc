// Tests of the retrying wrapper around a scripted fake actuator: how many tries, what is waited
// between them, the final error, and cancel at each stage.
#include "runtime/retrying_actuator.h"

#include <catch2/catch.hpp>
#include <functional>
#include <memory>

using namespace setpoint;

namespace {

// One loop per test. run_until() turns it until `done` holds, rechecking every 10 ms, and gives
// up after 10 s; the destructor runs it until every handle has closed and checks it closes.
class TestLoop {
 public:
  TestLoop() {
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &guard_);
    uv_timer_init(&loop_, &tick_);
    guard_.data = this;
  }
  ~TestLoop() {
    uv_close(reinterpret_cast<uv_handle_t*>(&guard_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }
  uv_loop_t* get() { return &loop_; }

  bool run_until(const std::function<bool()>& done) {
    expired_ = false;
    uv_timer_start(
        &guard_, [](uv_timer_t* t) { static_cast<TestLoop*>(t->data)->expired_ = true; }, 10000, 0);
    uv_timer_start(
        &tick_, [](uv_timer_t*) {}, 10, 10);
    while (!done() && !expired_) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&guard_);
    uv_timer_stop(&tick_);
    return !expired_;
  }

 private:
  uv_loop_t loop_;
  uv_timer_t guard_;
  uv_timer_t tick_;
  bool expired_ = false;
};

struct Outcome {
  int calls = 0;
  ActuatorResult result;
};

ActuatorCallback record(Outcome& outcome) {
  return [&outcome](const ActuatorResult& r) {
    ++outcome.calls;
    outcome.result = r;
  };
}

ActuatorResult failure(const std::string& error) {
  ActuatorResult r;
  r.attempts = 1;
  r.error = error;
  r.output = "stderr of " + error;
  return r;
}

ActuatorResult success(std::optional<double> value = std::nullopt) {
  ActuatorResult r;
  r.ok = true;
  r.attempts = 1;
  r.value = value;
  return r;
}

// Answers each try with the next scripted result, on the next turn of the loop; once the
// script is used up a try stays in flight until cancel(). Every call is logged in `events`.
class ScriptedActuator : public Actuator {
 public:
  ScriptedActuator(uv_loop_t* loop, std::vector<ActuatorResult> script,
                   std::vector<std::string>& events)
      : script_(std::move(script)), events_(events), timer_(new uv_timer_t) {
    uv_timer_init(loop, timer_);
    timer_->data = this;
  }
  ~ScriptedActuator() override {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
  void apply(double value, ActuatorCallback done) override {
    events_.push_back("apply " + substitute_value("{value}", value));
    start(std::move(done));
  }
  bool can_read() const override { return true; }
  void read(ActuatorCallback done) override {
    events_.push_back("read");
    start(std::move(done));
  }
  void cancel() override {
    events_.push_back("inner cancel");
    if (!pending_) return;
    answer_ = failure("cancelled");
    uv_timer_start(timer_, deliver, 0, 0);
  }

 private:
  void start(ActuatorCallback done) {
    pending_ = std::move(done);
    if (next_ >= script_.size()) return;
    answer_ = script_[next_++];
    uv_timer_start(timer_, deliver, 0, 0);
  }
  static void deliver(uv_timer_t* timer) {
    auto* self = static_cast<ScriptedActuator*>(timer->data);
    ActuatorCallback done = std::move(self->pending_);
    self->pending_ = nullptr;
    if (done) done(self->answer_);
  }

  std::vector<ActuatorResult> script_;
  size_t next_ = 0;
  std::vector<std::string>& events_;
  uv_timer_t* timer_;  // freed by its close callback, after the fake is gone
  ActuatorCallback pending_;
  ActuatorResult answer_;
};

RetryConfig retry(int attempts, double backoff, double max_backoff) {
  RetryConfig config;
  config.attempts = attempts;
  config.backoff_seconds = backoff;
  config.max_backoff_seconds = max_backoff;
  return config;
}

// The wrapper around a scripted fake, with each wait it announces logged among the tries.
std::unique_ptr<RetryingActuator> wrapped(TestLoop& loop, std::vector<ActuatorResult> script,
                                          std::vector<std::string>& events, RetryConfig config) {
  auto actuator = std::make_unique<RetryingActuator>(
      loop.get(), std::make_unique<ScriptedActuator>(loop.get(), std::move(script), events),
      config);
  actuator->set_retry_listener([&events](int attempt, const ActuatorResult& failed, double wait) {
    events.push_back("try " + std::to_string(attempt) + " failed (" + failed.error + "), wait " +
                     substitute_value("{value}s", wait));
  });
  return actuator;
}

}  // namespace

TEST_CASE("the backoff doubles after each failure up to its limit", "[retry]") {
  RetryConfig config = retry(10, 0.5, 10);
  CHECK(retry_backoff_seconds(config, 1) == 0.5);
  CHECK(retry_backoff_seconds(config, 2) == 1);
  CHECK(retry_backoff_seconds(config, 3) == 2);
  CHECK(retry_backoff_seconds(config, 4) == 4);
  CHECK(retry_backoff_seconds(config, 5) == 8);
  CHECK(retry_backoff_seconds(config, 6) == 10);
  CHECK(retry_backoff_seconds(config, 7) == 10);
  CHECK(retry_backoff_seconds(config, 1000) == 10);
  CHECK(retry_backoff_seconds(retry(3, 20, 10), 1) == 10);
  CHECK(retry_backoff_seconds(retry(3, -1, 10), 2) == 0);
}

TEST_CASE(
    "a try that fails twice then succeeds is ok after 3 attempts, with a wait before each retry",
    "[retry]") {
  TestLoop loop;
  std::vector<std::string> events;
  auto actuator = wrapped(loop, {failure("HTTP 503"), failure("timed out after 1s"), success()},
                          events, retry(5, 0.01, 1));
  Outcome outcome;
  actuator->apply(8, record(outcome));
  CHECK(outcome.calls == 0);
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  CHECK(outcome.calls == 1);
  CHECK(outcome.result.ok);
  CHECK(outcome.result.error == "");
  CHECK(outcome.result.attempts == 3);
  CHECK(events == std::vector<std::string>{
                      "apply 8",
                      "try 1 failed (HTTP 503), wait 0.01s",
                      "apply 8",
                      "try 2 failed (timed out after 1s), wait 0.02s",
                      "apply 8",
                  });
}

TEST_CASE("a try that always fails reports the last error after every attempt", "[retry]") {
  TestLoop loop;
  std::vector<std::string> events;
  auto actuator = wrapped(
      loop,
      {failure("exit status 1"), failure("exit status 2"), failure("exit status 3"), success()},
      events, retry(3, 0.01, 0.015));
  Outcome outcome;
  actuator->apply(2, record(outcome));
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  CHECK_FALSE(outcome.result.ok);
  CHECK(outcome.result.error == "after 3 attempts: exit status 3");
  CHECK(outcome.result.output == "stderr of exit status 3");
  CHECK(outcome.result.attempts == 3);
  CHECK(events == std::vector<std::string>{
                      "apply 2",
                      "try 1 failed (exit status 1), wait 0.01s",
                      "apply 2",
                      "try 2 failed (exit status 2), wait 0.015s",
                      "apply 2",
                  });
}

TEST_CASE("a first try that succeeds needs no wait", "[retry]") {
  TestLoop loop;
  std::vector<std::string> events;
  auto actuator = wrapped(loop, {success()}, events, retry(3, 0.01, 1));
  Outcome outcome;
  actuator->apply(1, record(outcome));
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  CHECK(outcome.result.ok);
  CHECK(outcome.result.attempts == 1);
  CHECK(events == std::vector<std::string>{"apply 1"});
}

TEST_CASE("a single attempt reports its error as it is", "[retry]") {
  TestLoop loop;
  std::vector<std::string> events;
  auto actuator = wrapped(loop, {failure("HTTP 500"), success()}, events, retry(1, 0.01, 1));
  Outcome outcome;
  actuator->apply(1, record(outcome));
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  CHECK(outcome.result.error == "HTTP 500");
  CHECK(outcome.result.attempts == 1);
  CHECK(events == std::vector<std::string>{"apply 1"});
}

TEST_CASE("read is retried too and returns the value", "[retry]") {
  TestLoop loop;
  std::vector<std::string> events;
  auto actuator = wrapped(loop, {failure("HTTP 502"), success(7)}, events, retry(3, 0.01, 1));
  CHECK(actuator->can_read());
  Outcome outcome;
  actuator->read(record(outcome));
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  CHECK(outcome.result.ok);
  REQUIRE(outcome.result.value.has_value());
  CHECK(*outcome.result.value == 7);
  CHECK(outcome.result.attempts == 2);
  CHECK(events == std::vector<std::string>{"read", "try 1 failed (HTTP 502), wait 0.01s", "read"});
}

TEST_CASE("cancel during the backoff reports cancelled once, without another try", "[retry]") {
  TestLoop loop;
  std::vector<std::string> events;
  auto actuator = wrapped(loop, {failure("HTTP 503"), success()}, events, retry(3, 1000, 1000));
  Outcome outcome;
  actuator->apply(4, record(outcome));
  REQUIRE(loop.run_until([&] { return events.size() == 2; }));  // now waiting 1000 s
  actuator->cancel();
  CHECK(outcome.calls == 0);  // never inside cancel()
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  actuator->cancel();
  uv_run(loop.get(), UV_RUN_NOWAIT);
  CHECK(outcome.calls == 1);
  CHECK_FALSE(outcome.result.ok);
  CHECK(outcome.result.error == "cancelled");
  CHECK(outcome.result.attempts == 1);
  CHECK(events == std::vector<std::string>{"apply 4", "try 1 failed (HTTP 503), wait 1000s"});
}

TEST_CASE("cancel during a try cancels the inner actuator and does not retry", "[retry]") {
  TestLoop loop;
  std::vector<std::string> events;
  auto actuator = wrapped(loop, {}, events, retry(3, 0.01, 1));  // the try never ends by itself
  Outcome outcome;
  actuator->apply(4, record(outcome));
  actuator->cancel();
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  uv_run(loop.get(), UV_RUN_NOWAIT);
  CHECK(outcome.calls == 1);
  CHECK(outcome.result.error == "cancelled");
  CHECK(outcome.result.attempts == 1);
  CHECK(events == std::vector<std::string>{"apply 4", "inner cancel"});
}

TEST_CASE("destroying the wrapper drops the callbacks still pending", "[retry]") {
  TestLoop loop;
  std::vector<std::string> events;
  auto actuator = wrapped(loop, {failure("HTTP 503"), success()}, events, retry(3, 1000, 1000));
  Outcome outcome;
  actuator->apply(4, record(outcome));
  REQUIRE(loop.run_until([&] { return events.size() == 2; }));
  actuator.reset();
  uv_run(loop.get(), UV_RUN_DEFAULT);
  CHECK(outcome.calls == 0);
}
