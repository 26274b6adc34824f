// Tests of substitute_value and the exec actuator: real child processes on a real libuv loop,
// each bounded by a guard timer so that a bug fails its test instead of hanging the suite.
#include "runtime/exec_actuator.h"

#include <signal.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <thread>

#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

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

ActuatorConfig exec_config(std::vector<std::string> argv, double timeout_seconds = 10) {
  ActuatorConfig config;
  config.knob = "cache_ttl";
  config.kind = ActuatorConfig::Kind::Exec;
  config.timeout_seconds = timeout_seconds;
  config.exec.argv = std::move(argv);
  return config;
}

// Applies `value` and runs the loop until the one callback; checks it did not run inside apply.
ActuatorResult apply_and_wait(TestLoop& loop, Actuator& actuator, double value) {
  Outcome outcome;
  actuator.apply(value, record(outcome));
  CHECK(outcome.calls == 0);
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  CHECK(outcome.calls == 1);
  return outcome.result;
}

ActuatorResult read_and_wait(TestLoop& loop, Actuator& actuator) {
  Outcome outcome;
  actuator.read(record(outcome));
  CHECK(outcome.calls == 0);
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  CHECK(outcome.calls == 1);
  return outcome.result;
}

// A process that has exited but not been reaped yet (a grandchild waiting for init) is a
// zombie: it runs no more.
bool is_running(int pid) {
  if (::kill(pid, 0) != 0) return false;
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

// A killed process closes its files a moment before it becomes a zombie, so the action can end
// while it is still on its way out: give it up to 5 s.
bool stops_running(int pid) {
  for (int i = 0; i < 500; ++i) {
    if (!is_running(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int pid_in(const std::string& path) {
  std::string text = read_text(path);
  return text.empty() ? 0 : std::atoi(text.c_str());
}

}  // namespace

TEST_CASE("a value is written as an integer when it is one, else in its shortest exact form",
          "[exec_actuator]") {
  CHECK(substitute_value("{value}", 8) == "8");
  CHECK(substitute_value("{value}", -3) == "-3");
  CHECK(substitute_value("{value}", -0.0) == "0");
  CHECK(substitute_value("{value}", 0.25) == "0.25");
  CHECK(substitute_value("{value}", 0.1) == "0.1");
  CHECK(substitute_value("{value}", 1.5e-7) == "1.5e-07");
  CHECK(substitute_value("{value}", 9007199254740991.0) == "9007199254740991");
  CHECK(substitute_value("{value}", 9007199254740992.0) == "9007199254740992");
  CHECK(substitute_value("{value}", 1e300) == "1e+300");
  CHECK(substitute_value("{value}", std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(substitute_value("{value}", std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(substitute_value("{value}", -std::numeric_limits<double>::infinity()) == "-Inf");
}

TEST_CASE("every {value} is replaced and nothing else is touched", "[exec_actuator]") {
  CHECK(substitute_value("ttl={value}s, again {value}", 30) == "ttl=30s, again 30");
  CHECK(substitute_value("no placeholder", 1) == "no placeholder");
  CHECK(substitute_value("", 1) == "");
  CHECK(substitute_value("{{value}}", 2) == "{2}");  // no escaping
  CHECK(substitute_value("{value", 2) == "{value");
}

TEST_CASE("the command gets the value in place of {value} in its argv", "[exec_actuator]") {
  TempDir dir;
  std::string out = dir.file("out");
  TestLoop loop;
  ExecActuator actuator(
      loop.get(),
      exec_config({"/bin/sh", "-c", "printf %s \"$1\" > '" + out + "'", "sh", "{value}"}));
  ActuatorResult r = apply_and_wait(loop, actuator, 8);
  CHECK(r.ok);
  CHECK(r.error == "");
  CHECK(r.attempts == 1);
  CHECK(read_text(out) == "8");
  r = apply_and_wait(loop, actuator, 0.25);
  CHECK(r.ok);
  CHECK(read_text(out) == "0.25");
}

TEST_CASE("a failing command reports its exit status and its stderr", "[exec_actuator]") {
  TestLoop loop;
  ExecActuator actuator(loop.get(), exec_config({"/bin/sh", "-c", "echo oops >&2; exit 3"}));
  ActuatorResult r = apply_and_wait(loop, actuator, 1);
  CHECK_FALSE(r.ok);
  CHECK(r.error == "exit status 3");
  CHECK(r.output == "oops");
}

TEST_CASE("a command killed by a signal says which", "[exec_actuator]") {
  TestLoop loop;
  ExecActuator actuator(loop.get(), exec_config({"/bin/sh", "-c", "kill -9 $$"}));
  ActuatorResult r = apply_and_wait(loop, actuator, 1);
  CHECK_FALSE(r.ok);
  CHECK(r.error == "killed by signal 9");
}

TEST_CASE("a command that outlives its timeout is terminated and reported", "[exec_actuator]") {
  TestLoop loop;
  ExecActuator actuator(loop.get(), exec_config({"sleep", "5"}, 0.2));
  Outcome outcome;
  actuator.apply(1, record(outcome));
  std::vector<int> pids = actuator.running_pids();
  REQUIRE(pids.size() == 1);
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  CHECK(outcome.calls == 1);
  CHECK_FALSE(outcome.result.ok);
  CHECK(outcome.result.error == "timed out after 0.2s");
  CHECK(stops_running(pids[0]));
  CHECK(actuator.running_pids().empty());
}

TEST_CASE("a command that ignores SIGTERM is killed with what it started a second later",
          "[exec_actuator]") {
  TempDir dir;
  std::string background = dir.file("background.pid");
  TestLoop loop;
  // The background sleep inherits the ignored SIGTERM and holds the pipes: only the SIGKILL to
  // the whole process group ends the action.
  ExecActuator actuator(
      loop.get(),
      exec_config(
          {"/bin/sh", "-c", "trap '' TERM; sleep 30 & echo $! > '" + background + "'; wait"}, 0.2));
  Outcome outcome;
  actuator.apply(1, record(outcome));
  std::vector<int> pids = actuator.running_pids();
  REQUIRE(pids.size() == 1);
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  CHECK(outcome.result.error == "timed out after 0.2s");
  CHECK(stops_running(pids[0]));
  int sleeper = pid_in(background);
  REQUIRE(sleeper > 0);
  CHECK(stops_running(sleeper));
  if (is_running(sleeper)) ::kill(sleeper, SIGKILL);
}

TEST_CASE("a program that cannot be found cannot start", "[exec_actuator]") {
  TestLoop loop;
  SECTION("by its path") {
    ExecActuator actuator(loop.get(), exec_config({"/nonexistent/setpoint-no-such-program"}));
    ActuatorResult r = apply_and_wait(loop, actuator, 1);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "cannot start: no such file or directory");
  }
  SECTION("looked up in PATH") {
    ExecActuator actuator(loop.get(), exec_config({"setpoint-no-such-program", "{value}"}));
    ActuatorResult r = apply_and_wait(loop, actuator, 1);
    CHECK(r.error == "cannot start: no such file or directory");
  }
  SECTION("an empty argv") {
    ExecActuator actuator(loop.get(), exec_config({}));
    ActuatorResult r = apply_and_wait(loop, actuator, 1);
    CHECK(r.error == "cannot start: no command configured");
  }
}

TEST_CASE("a command that writes 1 MiB to each pipe finishes and its output is cut at the bound",
          "[exec_actuator]") {
  TestLoop loop;
  ExecActuator actuator(
      loop.get(),
      exec_config({"/bin/sh", "-c",
                   "head -c 1048576 /dev/zero | tr '\\0' x; head -c 1048576 /dev/zero | tr '\\0' "
                   "y >&2"}));
  ActuatorResult r = apply_and_wait(loop, actuator, 1);
  CHECK(r.ok);
  CHECK(r.output.size() == kMaxActuatorOutput);
  CHECK(r.output == std::string(kMaxActuatorOutput, 'y'));
}

TEST_CASE("arguments and values reach the program verbatim, never through a shell",
          "[exec_actuator]") {
  TempDir dir;
  TestLoop loop;
  std::string label_like = "a;rm -rf x $(touch pwned) `touch pwned2` | cat > y && echo";
  SECTION("as a file name") {
    ExecActuator actuator(loop.get(), exec_config({"touch", dir.file(label_like + " {value}")}));
    ActuatorResult r = apply_and_wait(loop, actuator, 8);
    CHECK(r.ok);
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      names.push_back(e.path().filename().string());
    CHECK(names == std::vector<std::string>{label_like + " 8"});
  }
  SECTION("as printf's argument") {
    ExecActuator actuator(loop.get(), exec_config({"/bin/sh", "-c", "printf %s \"$1\" >&2", "sh",
                                                   label_like + " {value}"}));
    ActuatorResult r = apply_and_wait(loop, actuator, 0.25);
    CHECK(r.ok);
    CHECK(r.output == label_like + " 0.25");
  }
}

TEST_CASE("the command sees SETPOINT_KNOB and SETPOINT_VALUE in the daemon's environment",
          "[exec_actuator]") {
  ::setenv("SETPOINT_TEST_INHERITED", "yes", 1);
  ::setenv("SETPOINT_VALUE", "stale", 1);
  TestLoop loop;
  ExecActuator actuator(
      loop.get(),
      exec_config({"/bin/sh", "-c",
                   "printf '%s|%s|%s|' \"$SETPOINT_KNOB\" \"$SETPOINT_VALUE\" "
                   "\"$SETPOINT_TEST_INHERITED\" >&2; env | grep -c '^SETPOINT_VALUE=' >&2"}));
  ActuatorResult r = apply_and_wait(loop, actuator, 0.25);
  ::unsetenv("SETPOINT_TEST_INHERITED");
  ::unsetenv("SETPOINT_VALUE");
  CHECK(r.ok);
  CHECK(r.output == "cache_ttl|0.25|yes|1");
}

TEST_CASE("the command reads end of file on stdin", "[exec_actuator]") {
  TestLoop loop;
  ExecActuator actuator(loop.get(), exec_config({"/bin/sh", "-c", "cat; echo eof >&2"}));
  ActuatorResult r = apply_and_wait(loop, actuator, 1);
  CHECK(r.ok);
  CHECK(r.output == "eof");
}

TEST_CASE("read runs the read command and parses the number it prints", "[exec_actuator]") {
  TestLoop loop;
  ActuatorConfig config = exec_config({"true"});
  CHECK_FALSE(ExecActuator(loop.get(), config).can_read());
  SECTION("a plain number") {
    config.exec.read_argv = {"/bin/sh", "-c", "echo 42"};
    ExecActuator actuator(loop.get(), config);
    CHECK(actuator.can_read());
    ActuatorResult r = read_and_wait(loop, actuator);
    CHECK(r.ok);
    REQUIRE(r.value.has_value());
    CHECK(*r.value == 42);
  }
  SECTION("a number surrounded by whitespace") {
    config.exec.read_argv = {"printf", "  -0.5 \n\n"};
    ExecActuator actuator(loop.get(), config);
    ActuatorResult r = read_and_wait(loop, actuator);
    REQUIRE(r.value.has_value());
    CHECK(*r.value == -0.5);
  }
  SECTION("something else") {
    config.exec.read_argv = {"echo", "abc"};
    ExecActuator actuator(loop.get(), config);
    ActuatorResult r = read_and_wait(loop, actuator);
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.value.has_value());
    CHECK(r.error == "the read command printed \"abc\", not a number");
  }
  SECTION("nothing") {
    config.exec.read_argv = {"true"};
    ExecActuator actuator(loop.get(), config);
    ActuatorResult r = read_and_wait(loop, actuator);
    CHECK(r.error == "the read command printed nothing");
  }
  SECTION("a failing read command") {
    config.exec.read_argv = {"/bin/sh", "-c", "echo 5; echo broken >&2; exit 2"};
    ExecActuator actuator(loop.get(), config);
    ActuatorResult r = read_and_wait(loop, actuator);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "exit status 2");
    CHECK(r.output == "broken");
  }
}

TEST_CASE("cancel kills a sleeping command and reports cancelled once", "[exec_actuator]") {
  TestLoop loop;
  ExecActuator actuator(loop.get(), exec_config({"sleep", "5"}));
  Outcome outcome;
  actuator.apply(1, record(outcome));
  std::vector<int> pids = actuator.running_pids();
  REQUIRE(pids.size() == 1);
  actuator.cancel();
  CHECK(outcome.calls == 0);
  REQUIRE(loop.run_until([&] { return outcome.calls > 0; }));
  actuator.cancel();  // nothing left to cancel
  uv_run(loop.get(), UV_RUN_NOWAIT);
  CHECK(outcome.calls == 1);
  CHECK_FALSE(outcome.result.ok);
  CHECK(outcome.result.error == "cancelled");
  CHECK(stops_running(pids[0]));
}

TEST_CASE("a background process that keeps the pipes open does not hold the action",
          "[exec_actuator]") {
  TempDir dir;
  std::string background = dir.file("background.pid");
  TestLoop loop;
  ExecActuator actuator(
      loop.get(), exec_config({"/bin/sh", "-c",
                               "sleep 30 & echo $! > '" + background + "'; echo started >&2"}));
  ActuatorResult r = apply_and_wait(loop, actuator, 1);
  CHECK(r.ok);
  CHECK(r.output == "started");
  int sleeper = pid_in(background);
  REQUIRE(sleeper > 0);
  CHECK(is_running(sleeper));  // the action ended without waiting for it, or killing it
  ::kill(sleeper, SIGKILL);
}

TEST_CASE("destroying the actuator kills its commands and drops their callbacks",
          "[exec_actuator]") {
  TestLoop loop;
  auto actuator = std::make_unique<ExecActuator>(loop.get(), exec_config({"sleep", "5"}));
  Outcome outcome;
  actuator->apply(1, record(outcome));
  std::vector<int> pids = actuator->running_pids();
  REQUIRE(pids.size() == 1);
  actuator.reset();
  uv_run(loop.get(), UV_RUN_DEFAULT);
  CHECK(outcome.calls == 0);
  CHECK(stops_running(pids[0]));
}
