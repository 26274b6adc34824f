// The retrying wrapper around any actuator: a failed apply() or read() is tried again after
// an exponential backoff on a libuv timer, and the result says how many tries it took.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/actuator.h"
#include "runtime/daemon_config.h"

namespace setpoint {

// The wait after `failures` failed tries (1 for the wait before the second try):
// backoff_seconds doubled failures - 1 times, at most max_backoff_seconds; never negative.
double retry_backoff_seconds(const RetryConfig& config, int failures);

// Told about each failed try that will be retried (the last failure is in the result): which
// try failed, its result, and how long the wait before the next one is.
using RetryListener =
    std::function<void(int attempt, const ActuatorResult& failed, double wait_seconds)>;

// Up to config.attempts tries in all. The result is the last try's, with attempts = the number
// of tries, seconds = the whole span, and a failure's error prefixed "after 3 attempts: ".
class RetryingActuator : public Actuator {
 public:
  RetryingActuator(uv_loop_t* loop, std::unique_ptr<Actuator> inner, RetryConfig config);
  // Callbacks still pending never run; timers close on the next turn of the loop.
  ~RetryingActuator() override;
  RetryingActuator(const RetryingActuator&) = delete;
  RetryingActuator& operator=(const RetryingActuator&) = delete;

  void apply(double value, ActuatorCallback done) override;
  bool can_read() const override { return inner_->can_read(); }
  void read(ActuatorCallback done) override;
  // Stops the waits and cancels the inner actuator; each pending callback runs once, with error
  // "cancelled" and no retry.
  void cancel() override;

  // So the daemon can record every failed try, not only the last one.
  void set_retry_listener(RetryListener listener) { listener_ = std::move(listener); }

 private:
  struct Op;
  void start(bool is_read, double value, ActuatorCallback done);
  void attempt(Op* op);
  void after_attempt(Op* op, const ActuatorResult& result);
  void finish(Op* op, ActuatorResult result);

  uv_loop_t* loop_;
  std::unique_ptr<Actuator> inner_;
  RetryConfig config_;
  RetryListener listener_;
  std::vector<Op*> ops_;  // each owns a timer and frees itself once it has closed
};

}  // namespace setpoint
