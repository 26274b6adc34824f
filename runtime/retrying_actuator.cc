// The retrying wrapper: each apply() or read() is an Op with its own backoff timer, freed once
// the timer has closed, which is also when its callback runs (never inside apply or cancel).
#include "runtime/retrying_actuator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace setpoint {

namespace {

uint64_t wait_ms(double seconds) {
  if (!(seconds > 0)) return 0;
  double ms = std::ceil(seconds * 1000);
  return ms >= 1e12 ? uint64_t{1'000'000'000'000} : static_cast<uint64_t>(ms);
}

}  // namespace

double retry_backoff_seconds(const RetryConfig& config, int failures) {
  double limit = config.max_backoff_seconds > 0 ? config.max_backoff_seconds : 0;
  double wait = config.backoff_seconds > 0 ? config.backoff_seconds : 0;
  for (int i = 1; i < failures && wait < limit; ++i) wait *= 2;
  return std::min(wait, limit);
}

struct RetryingActuator::Op {
  RetryingActuator* owner = nullptr;  // null once the actuator is gone: then nobody is told
  ActuatorCallback done;
  bool is_read = false;
  double value = 0;
  int tries = 0;
  uint64_t started_ns = 0;
  uv_timer_t timer{};
  bool in_inner = false;  // the inner actuator has a try in flight
  bool waiting = false;   // the backoff timer runs
  bool cancelled = false;
  bool finishing = false;  // the timer is closing; `result` is final
  ActuatorResult result;

  static void on_timer(uv_timer_t* timer) {
    Op* op = static_cast<Op*>(timer->data);
    op->waiting = false;
    op->owner->attempt(op);
  }

  static void on_closed(uv_handle_t* handle) {
    Op* op = static_cast<Op*>(handle->data);
    if (op->owner != nullptr) {
      auto& ops = op->owner->ops_;
      ops.erase(std::find(ops.begin(), ops.end(), op));
    }
    ActuatorCallback callback = std::move(op->done);
    ActuatorResult result = std::move(op->result);
    delete op;
    if (callback) callback(result);
  }
};

RetryingActuator::RetryingActuator(uv_loop_t* loop, std::unique_ptr<Actuator> inner,
                                   RetryConfig config)
    : loop_(loop), inner_(std::move(inner)), config_(config) {}

RetryingActuator::~RetryingActuator() {
  for (Op* op : ops_) {
    op->owner = nullptr;
    op->done = nullptr;
    if (!op->finishing) {
      op->finishing = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&op->timer), Op::on_closed);
    }
  }
  // inner_ goes next, and drops the callbacks of tries in flight, which point at these ops.
}

void RetryingActuator::apply(double value, ActuatorCallback done) {
  start(false, value, std::move(done));
}

void RetryingActuator::read(ActuatorCallback done) { start(true, 0, std::move(done)); }

void RetryingActuator::cancel() {
  bool inner_busy = false;
  std::vector<Op*> ops = ops_;
  for (Op* op : ops) {
    if (op->finishing || op->cancelled) continue;
    op->cancelled = true;
    if (op->waiting) {
      uv_timer_stop(&op->timer);
      op->waiting = false;
      ActuatorResult r;
      r.error = "cancelled";
      finish(op, std::move(r));
    } else if (op->in_inner) {
      inner_busy = true;  // its "cancelled" comes back through after_attempt
    }
  }
  if (inner_busy) inner_->cancel();
}

void RetryingActuator::start(bool is_read, double value, ActuatorCallback done) {
  auto* op = new Op;
  op->owner = this;
  op->done = std::move(done);
  op->is_read = is_read;
  op->value = value;
  op->started_ns = uv_hrtime();
  uv_timer_init(loop_, &op->timer);
  op->timer.data = op;
  ops_.push_back(op);
  attempt(op);
}

void RetryingActuator::attempt(Op* op) {
  ++op->tries;
  op->in_inner = true;
  auto callback = [this, op](const ActuatorResult& r) { after_attempt(op, r); };
  if (op->is_read) {
    inner_->read(callback);
  } else {
    inner_->apply(op->value, callback);
  }
}

void RetryingActuator::after_attempt(Op* op, const ActuatorResult& result) {
  op->in_inner = false;
  if (op->finishing) return;
  int attempts = std::max(config_.attempts, 1);
  if (op->cancelled || result.ok || op->tries >= attempts) {
    ActuatorResult r = result;
    if (op->cancelled) {
      r.ok = false;
      r.error = "cancelled";
    }
    finish(op, std::move(r));
    return;
  }
  double wait = retry_backoff_seconds(config_, op->tries);
  spdlog::debug("try {} of {} failed: {}; next in {}s", op->tries, attempts, result.error, wait);
  if (listener_) listener_(op->tries, result, wait);
  if (op->cancelled) {  // the listener cancelled
    ActuatorResult r = result;
    r.error = "cancelled";
    finish(op, std::move(r));
    return;
  }
  op->waiting = true;
  uv_timer_start(&op->timer, Op::on_timer, wait_ms(wait), 0);
}

void RetryingActuator::finish(Op* op, ActuatorResult result) {
  result.attempts = op->tries;
  result.seconds = static_cast<double>(uv_hrtime() - op->started_ns) / 1e9;
  if (!result.ok && op->tries > 1 && result.error != "cancelled") {
    result.error = "after " + std::to_string(op->tries) + " attempts: " + result.error;
  }
  op->finishing = true;
  op->result = std::move(result);
  uv_close(reinterpret_cast<uv_handle_t*>(&op->timer), Op::on_closed);
}

}  // namespace setpoint
