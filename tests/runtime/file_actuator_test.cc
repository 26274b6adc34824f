// Tests of the file actuator: atomic writes in a temporary directory, reload commands and
// signals to a real child process, and reading the value back through the content template.
#include "runtime/file_actuator.h"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "support/fixtures.h"

extern char** environ;

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

ActuatorConfig file_config(const std::string& path, const std::string& content = "{value}\n") {
  ActuatorConfig config;
  config.knob = "max_connections";
  config.kind = ActuatorConfig::Kind::File;
  config.timeout_seconds = 10;
  config.file.path = path;
  config.file.content = content;
  return config;
}

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

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A child of the test itself (not of the actuator), killed and reaped by the destructor.
class TestChild {
 public:
  explicit TestChild(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0) pid_ = 0;
  }
  ~TestChild() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  // Waits up to 10 s for the child to exit; true when it did.
  bool wait_for_exit() {
    for (int i = 0; i < 1000; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  pid_t pid_ = 0;
};

bool wait_for_file(const std::string& path) {
  for (int i = 0; i < 1000; ++i) {
    if (std::filesystem::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("apply writes exactly the content with the value in it and leaves no temporary file",
          "[file_actuator]") {
  TempDir dir;
  std::string path = dir.file("max_conn.conf");
  TestLoop loop;
  FileActuator actuator(loop.get(), file_config(path, "max_conn = {value}\n# {value} again\n"));
  ActuatorResult r = apply_and_wait(loop, actuator, 8);
  CHECK(r.ok);
  CHECK(r.error == "");
  CHECK(r.attempts == 1);
  CHECK(read_text(path) == "max_conn = 8\n# 8 again\n");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"max_conn.conf"});
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);  // a new file is for another program to read
}

TEST_CASE("an existing file is replaced and keeps its permissions", "[file_actuator]") {
  TempDir dir;
  std::string path = dir.file("ttl");
  write_text(path, "old content that is longer than the new one\n");
  ::chmod(path.c_str(), 0640);
  TestLoop loop;
  FileActuator actuator(loop.get(), file_config(path));
  ActuatorResult r = apply_and_wait(loop, actuator, 0.25);
  CHECK(r.ok);
  CHECK(read_text(path) == "0.25\n");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"ttl"});
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("a missing directory fails with a message naming the path", "[file_actuator]") {
  TempDir dir;
  std::string path = dir.file("missing/ttl");
  TestLoop loop;
  FileActuator actuator(loop.get(), file_config(path));
  ActuatorResult r = apply_and_wait(loop, actuator, 8);
  CHECK_FALSE(r.ok);
  CHECK(r.error ==
        "cannot write " + path + ": cannot create a temporary file: No such file or directory");
}

TEST_CASE("a directory without write permission fails with a message naming the path",
          "[file_actuator]") {
  if (::geteuid() == 0) {
    WARN("running as root: permissions are not enforced, nothing to check");
    return;
  }
  TempDir dir;
  std::filesystem::create_directory(dir.file("locked"));
  ::chmod(dir.file("locked").c_str(), 0555);
  std::string path = dir.file("locked/ttl");
  TestLoop loop;
  FileActuator actuator(loop.get(), file_config(path));
  ActuatorResult r = apply_and_wait(loop, actuator, 8);
  ::chmod(dir.file("locked").c_str(), 0755);
  CHECK_FALSE(r.ok);
  CHECK(r.error == "cannot write " + path + ": cannot create a temporary file: Permission denied");
}

TEST_CASE("the reload command runs after the write and sees the new content", "[file_actuator]") {
  TempDir dir;
  std::string path = dir.file("ttl");
  std::string seen = dir.file("seen");
  write_text(path, "1\n");
  ActuatorConfig config = file_config(path);
  config.file.reload_argv = {"/bin/sh", "-c", "cat \"$1\" > \"$2\"; printf %s \"$3\" >> \"$2\"",
                             "sh",      path, seen,
                             "{value}"};
  TestLoop loop;
  FileActuator actuator(loop.get(), config);
  ActuatorResult r = apply_and_wait(loop, actuator, 8);
  CHECK(r.ok);
  CHECK(read_text(seen) == "8\n8");
}

TEST_CASE("a failing reload command fails the action, and says the file was written",
          "[file_actuator]") {
  TempDir dir;
  std::string path = dir.file("ttl");
  ActuatorConfig config = file_config(path);
  config.file.reload_argv = {"/bin/sh", "-c", "echo nope >&2; exit 1"};
  TestLoop loop;
  FileActuator actuator(loop.get(), config);
  ActuatorResult r = apply_and_wait(loop, actuator, 8);
  CHECK_FALSE(r.ok);
  CHECK(r.error == "written, but reload failed: exit status 1");
  CHECK(r.output == "nope");
  CHECK(read_text(path) == "8\n");
}

TEST_CASE("the reload signal reaches the process named in the pid file", "[file_actuator]") {
  TempDir dir;
  std::string ready = dir.file("ready");
  std::string got = dir.file("got");
  // The child says when its trap is set: a SIGHUP before that would just end it.
  TestChild child({"/bin/sh", "-c",
                   "trap 'echo got > \"" + got + "\"; exit 0' HUP; echo > \"" + ready +
                       "\"; while :; do sleep 0.05; done"});
  REQUIRE(child.pid() > 0);
  REQUIRE(wait_for_file(ready));
  write_text(dir.file("server.pid"), std::to_string(child.pid()) + "\n");
  ActuatorConfig config = file_config(dir.file("ttl"));
  config.file.reload_pid_file = dir.file("server.pid");
  config.file.reload_signal = SIGHUP;
  TestLoop loop;
  FileActuator actuator(loop.get(), config);
  ActuatorResult r = apply_and_wait(loop, actuator, 8);
  CHECK(r.ok);
  CHECK(r.error == "");
  REQUIRE(child.wait_for_exit());
  CHECK(read_text(got) == "got\n");
  CHECK(read_text(dir.file("ttl")) == "8\n");
}

TEST_CASE("a pid file that is missing, holds no pid or names no process fails the reload",
          "[file_actuator]") {
  TempDir dir;
  std::string pid_file = dir.file("server.pid");
  ActuatorConfig config = file_config(dir.file("ttl"));
  config.file.reload_pid_file = pid_file;
  config.file.reload_signal = SIGHUP;
  TestLoop loop;
  FileActuator actuator(loop.get(), config);
  SECTION("missing") {
    ActuatorResult r = apply_and_wait(loop, actuator, 8);
    CHECK(r.error == "written, but reload failed: cannot read pid file " + pid_file +
                         ": No such file or directory");
  }
  SECTION("not a number") {
    write_text(pid_file, "nginx\n");
    ActuatorResult r = apply_and_wait(loop, actuator, 8);
    CHECK(r.error ==
          "written, but reload failed: pid file " + pid_file + " does not hold a pid: \"nginx\"");
  }
  SECTION("zero, which would signal a whole process group") {
    write_text(pid_file, "0");
    ActuatorResult r = apply_and_wait(loop, actuator, 8);
    CHECK(r.error ==
          "written, but reload failed: pid file " + pid_file + " does not hold a pid: \"0\"");
  }
  SECTION("a process that has exited") {
    pid_t pid = 0;
    {
      TestChild gone({"/bin/true"});
      pid = gone.pid();
      REQUIRE(gone.wait_for_exit());
    }
    write_text(pid_file, std::to_string(pid) + "\n");
    ActuatorResult r = apply_and_wait(loop, actuator, 8);
    CHECK(r.error == "written, but reload failed: no process with pid " + std::to_string(pid) +
                         " (from " + pid_file + ")");
  }
  CHECK(read_text(dir.file("ttl")) == "8\n");
}

TEST_CASE("read returns the value written, found through the content template", "[file_actuator]") {
  TempDir dir;
  std::string path = dir.file("max_conn.conf");
  TestLoop loop;
  FileActuator actuator(loop.get(), file_config(path, "max_conn = {value}\n"));
  CHECK(actuator.can_read());
  SECTION("after apply") {
    REQUIRE(apply_and_wait(loop, actuator, 0.25).ok);
    ActuatorResult r = read_and_wait(loop, actuator);
    CHECK(r.ok);
    REQUIRE(r.value.has_value());
    CHECK(*r.value == 0.25);
    REQUIRE(apply_and_wait(loop, actuator, -3).ok);
    r = read_and_wait(loop, actuator);
    REQUIRE(r.value.has_value());
    CHECK(*r.value == -3);
  }
  SECTION("a file edited by hand, with more after the number") {
    write_text(path, "max_conn = 120   # raised in March\nother = 1\n");
    ActuatorResult r = read_and_wait(loop, actuator);
    REQUIRE(r.value.has_value());
    CHECK(*r.value == 120);
  }
  SECTION("a file that does not match the template") {
    write_text(path, "max_connections = 120\n");
    ActuatorResult r = read_and_wait(loop, actuator);
    CHECK_FALSE(r.ok);
    CHECK(r.error == path +
                         " does not match its content template: it should start with "
                         "\"max_conn = \"");
  }
  SECTION("no number where the value should be") {
    write_text(path, "max_conn = lots\n");
    ActuatorResult r = read_and_wait(loop, actuator);
    CHECK_FALSE(r.ok);
    CHECK(r.error == path + " has no number where the template has {value}: \"lots\"");
  }
  SECTION("a missing file") {
    ActuatorResult r = read_and_wait(loop, actuator);
    CHECK_FALSE(r.ok);
    CHECK(r.error == "cannot read " + path + ": No such file or directory");
  }
}

TEST_CASE("a content template without {value} cannot be read back", "[file_actuator]") {
  TempDir dir;
  TestLoop loop;
  FileActuator actuator(loop.get(), file_config(dir.file("flag"), "enabled\n"));
  CHECK_FALSE(actuator.can_read());
  write_text(dir.file("flag"), "enabled\n");
  ActuatorResult r = read_and_wait(loop, actuator);
  CHECK(r.error ==
        "the content template of " + dir.file("flag") + " has no {value} to read the value from");
}

TEST_CASE("cancel kills the reload command and cancels what waits its turn, each once",
          "[file_actuator]") {
  TempDir dir;
  std::string started = dir.file("started");
  ActuatorConfig config = file_config(dir.file("ttl"));
  config.file.reload_argv = {"/bin/sh", "-c", "echo > \"$1\"; exec sleep 5", "sh", started};
  TestLoop loop;
  FileActuator actuator(loop.get(), config);
  Outcome outcome, waiting;
  actuator.apply(8, record(outcome));
  actuator.apply(16, record(waiting));  // its turn comes after the first one's reload
  REQUIRE(loop.run_until([&] { return std::filesystem::exists(started); }));
  actuator.cancel();
  CHECK(outcome.calls + waiting.calls == 0);
  REQUIRE(loop.run_until([&] { return outcome.calls > 0 && waiting.calls > 0; }));
  uv_run(loop.get(), UV_RUN_NOWAIT);
  CHECK(outcome.calls == 1);
  CHECK(outcome.result.error == "cancelled");
  CHECK(waiting.calls == 1);
  CHECK(waiting.result.error == "cancelled");
  CHECK(read_text(dir.file("ttl")) == "8\n");  // the waiting write never happened
}

TEST_CASE("operations run one after another in call order, so the last write wins",
          "[file_actuator]") {
  TempDir dir;
  TestLoop loop;
  FileActuator actuator(loop.get(), file_config(dir.file("ttl")));
  std::vector<std::string> order;
  auto log = [&order](std::string what) {
    return [&order, what](const ActuatorResult& r) {
      order.push_back(what + (r.ok ? " ok" : " " + r.error) +
                      (r.value ? " " + substitute_value("{value}", *r.value) : ""));
    };
  };
  actuator.apply(8, log("apply 8"));
  actuator.apply(16, log("apply 16"));
  actuator.read(log("read"));
  REQUIRE(loop.run_until([&] { return order.size() == 3; }));
  CHECK(order == std::vector<std::string>{"apply 8 ok", "apply 16 ok", "read ok 16"});
  CHECK(read_text(dir.file("ttl")) == "16\n");
}
