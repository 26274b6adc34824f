// The exec actuator: one child process per apply() or read(), owned by a Child that frees
// itself once the process has exited and its pipes and timer have closed.
#include "runtime/exec_actuator.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

extern char** environ;

namespace setpoint {

namespace {

constexpr uint64_t kKillGraceMs = 1000;  // from SIGTERM to SIGKILL
// A background process the command started may keep the pipes open after the command exited;
// the action is over when the command is, so the pipes get this long to reach end of file.
constexpr uint64_t kDrainGraceMs = 1000;

uint64_t timeout_ms(double seconds) {
  if (!(seconds > 0)) return 1;
  double ms = std::ceil(seconds * 1000);
  return ms >= 1e12 ? uint64_t{1'000'000'000'000} : static_cast<uint64_t>(ms);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

// What a read command prints: one number ("42", "-0.5", "1e3", "+Inf", "NaN").
std::optional<double> parse_number(std::string_view text) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The daemon's environment without any SETPOINT_KNOB or SETPOINT_VALUE of its own, then ours.
std::vector<std::string> child_environment(const std::string& knob, const std::string* value) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view e(*entry);
    if (e.starts_with("SETPOINT_KNOB=") || e.starts_with("SETPOINT_VALUE=")) continue;
    env.emplace_back(e);
  }
  env.push_back("SETPOINT_KNOB=" + knob);
  if (value != nullptr) env.push_back("SETPOINT_VALUE=" + *value);
  return env;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

uv_handle_t* as_handle(void* h) { return static_cast<uv_handle_t*>(h); }

}  // namespace

struct ExecActuator::Child {
  enum class Phase : uint8_t { Running, Terminating, Draining };

  ExecActuator* owner = nullptr;  // null once the actuator is gone: then nobody is told
  ActuatorCallback done;
  std::string knob;
  bool parse_stdout = false;
  double timeout_seconds = 0;
  uint64_t started_ns = 0;

  uv_process_t process{};
  uv_pipe_t out{};
  uv_pipe_t err{};
  uv_timer_t timer{};         // the deadline, then the SIGKILL grace, then the drain grace
  bool process_open = false;  // initialised and its close callback not yet run
  bool out_open = false;
  bool err_open = false;
  Phase phase = Phase::Running;

  std::string start_error;  // why the process never ran
  bool exited = false;
  int64_t exit_status = 0;
  int term_signal = 0;
  bool timed_out = false;
  bool cancelled = false;
  std::string out_text;
  std::string err_text;
  // Shared by both pipes: libuv calls alloc, read(2) and the read callback back to back for one
  // stream at a time, so the buffer is free again whenever the next alloc comes.
  char buffer[16384];

  bool running() const { return process_open && start_error.empty() && !exited; }

  void close_handle(void* handle) {
    if (!uv_is_closing(as_handle(handle))) uv_close(as_handle(handle), on_closed);
  }

  void close_pipes() {
    if (out_open) close_handle(&out);
    if (err_open) close_handle(&err);
  }

  void close_all() {
    if (process_open) close_handle(&process);
    close_pipes();  // the last close callback closes the timer
  }

  // The whole process group: a shell's children die with it instead of holding the pipes.
  void signal_group(int signum) {
    if (!running()) return;
    if (::kill(-process.pid, signum) != 0) uv_process_kill(&process, signum);
  }

  void cancel() {
    if (cancelled) return;
    cancelled = true;
    if (running()) {
      signal_group(SIGKILL);
    } else {
      close_pipes();
    }
  }

  ActuatorResult result() const {
    ActuatorResult r;
    r.attempts = 1;
    r.seconds = static_cast<double>(uv_hrtime() - started_ns) / 1e9;
    r.output = trimmed(err_text);
    if (cancelled) {
      r.error = "cancelled";
    } else if (!start_error.empty()) {
      r.error = "cannot start: " + start_error;
    } else if (timed_out) {
      r.error = substitute_value("timed out after {value}s", timeout_seconds);
    } else if (term_signal != 0) {
      r.error = "killed by signal " + std::to_string(term_signal);
    } else if (exit_status != 0) {
      r.error = "exit status " + std::to_string(exit_status);
    } else if (parse_stdout) {
      std::string printed = trimmed(out_text);
      r.value = parse_number(printed);
      if (r.value) {
        r.ok = true;
      } else if (printed.empty()) {
        r.error = "the read command printed nothing";
      } else {
        if (printed.size() > 64) printed = printed.substr(0, 61) + "...";
        r.error = "the read command printed \"" + printed + "\", not a number";
      }
    } else {
      r.ok = true;
    }
    return r;
  }

  // Runs once, after the last handle closed: nothing of the child is left on the loop.
  void finish() {
    ActuatorResult r = result();
    ActuatorCallback callback = std::move(done);
    if (owner != nullptr) {
      auto& list = owner->children_;
      list.erase(std::find(list.begin(), list.end(), this));
    }
    spdlog::debug("{}: command {}", knob, r.ok ? "succeeded" : r.error);
    delete this;
    if (callback) callback(r);
  }

  static Child* of(void* handle) { return static_cast<Child*>(as_handle(handle)->data); }

  static void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    Child* c = of(handle);
    *buf = uv_buf_init(c->buffer, sizeof c->buffer);
  }

  // Keeps reading past the bound and drops the rest, so a chatty child never blocks on a full
  // pipe and the daemon never holds more than kMaxActuatorOutput of it.
  static void on_read(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
    Child* c = of(stream);
    if (n > 0) {
      std::string& text =
          stream == reinterpret_cast<uv_stream_t*>(&c->out) ? c->out_text : c->err_text;
      size_t room = kMaxActuatorOutput - std::min(text.size(), kMaxActuatorOutput);
      text.append(buf->base, std::min(static_cast<size_t>(n), room));
    } else if (n < 0) {
      c->close_handle(stream);  // end of file, or an error: either way nothing more comes
    }
  }

  static void on_exit(uv_process_t* process, int64_t exit_status, int term_signal) {
    Child* c = of(process);
    c->exited = true;
    c->exit_status = exit_status;
    c->term_signal = term_signal;
    c->close_handle(process);
    if (c->out_open || c->err_open) {
      c->phase = Phase::Draining;
      uv_timer_start(&c->timer, on_timer, kDrainGraceMs, 0);
    }
  }

  static void on_timer(uv_timer_t* timer) {
    Child* c = of(timer);
    switch (c->phase) {
      case Phase::Running:
        c->timed_out = true;
        c->phase = Phase::Terminating;
        spdlog::debug("{}: command timed out; sending SIGTERM", c->knob);
        c->signal_group(SIGTERM);
        uv_timer_start(&c->timer, on_timer, kKillGraceMs, 0);
        break;
      case Phase::Terminating:
        spdlog::debug("{}: command still running; sending SIGKILL", c->knob);
        c->signal_group(SIGKILL);
        break;
      case Phase::Draining:
        c->close_pipes();
        break;
    }
  }

  static void on_closed(uv_handle_t* handle) {
    Child* c = of(handle);
    if (handle == as_handle(&c->timer)) {
      c->finish();
      return;
    }
    if (handle == as_handle(&c->process)) c->process_open = false;
    if (handle == as_handle(&c->out)) c->out_open = false;
    if (handle == as_handle(&c->err)) c->err_open = false;
    if (!c->process_open && !c->out_open && !c->err_open) c->close_handle(&c->timer);
  }
};

ExecActuator::ExecActuator(uv_loop_t* loop, const ActuatorConfig& config)
    : loop_(loop),
      knob_(config.knob),
      timeout_seconds_(config.timeout_seconds),
      argv_(config.exec.argv),
      read_argv_(config.exec.read_argv) {}

ExecActuator::~ExecActuator() {
  for (Child* c : children_) {
    c->owner = nullptr;
    c->done = nullptr;
    c->cancel();
  }
}

void ExecActuator::apply(double value, ActuatorCallback done) {
  std::vector<std::string> argv;
  argv.reserve(argv_.size());
  for (const std::string& arg : argv_) argv.push_back(substitute_value(arg, value));
  std::string value_text = substitute_value("{value}", value);
  start(std::move(argv), &value_text, false, std::move(done));
}

void ExecActuator::read(ActuatorCallback done) {
  start(read_argv_, nullptr, true, std::move(done));
}

void ExecActuator::cancel() {
  std::vector<Child*> children = children_;
  for (Child* c : children) c->cancel();
}

std::vector<int> ExecActuator::running_pids() const {
  std::vector<int> pids;
  for (const Child* c : children_) {
    if (c->running()) pids.push_back(c->process.pid);
  }
  return pids;
}

// Every outcome, a failure to start included, arrives through the close callbacks, so `done`
// never runs inside apply() or read().
void ExecActuator::start(std::vector<std::string> argv, const std::string* value_text,
                         bool parse_stdout, ActuatorCallback done) {
  auto* c = new Child;
  c->owner = this;
  c->done = std::move(done);
  c->knob = knob_;
  c->parse_stdout = parse_stdout;
  c->timeout_seconds = timeout_seconds_;
  c->started_ns = uv_hrtime();
  uv_timer_init(loop_, &c->timer);
  uv_pipe_init(loop_, &c->out, 0);
  uv_pipe_init(loop_, &c->err, 0);
  c->timer.data = c->out.data = c->err.data = c->process.data = c;
  c->out_open = c->err_open = true;
  children_.push_back(c);

  if (argv.empty()) {
    c->start_error = "no command configured";
    c->close_all();
    return;
  }
  std::vector<std::string> env = child_environment(knob_, value_text);
  std::vector<char*> args = pointers_to(argv);
  std::vector<char*> envp = pointers_to(env);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;  // libuv opens /dev/null for it
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&c->out);
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&c->err);
  uv_process_options_t options{};
  options.exit_cb = Child::on_exit;
  options.file = args[0];  // looked up in PATH, as execvp does
  options.args = args.data();
  options.env = envp.data();
  options.stdio_count = 3;
  options.stdio = stdio;
  options.flags = UV_PROCESS_DETACHED;  // setsid(): its own process group, for signal_group()
  int rc = uv_spawn(loop_, &c->process, &options);
  c->process_open = true;  // uv_spawn initialises the handle even when it fails
  c->process.data = c;
  if (rc != 0) {
    c->start_error = uv_strerror(rc);
    spdlog::debug("{}: cannot start {}: {}", knob_, argv[0], c->start_error);
    c->close_all();
    return;
  }
  spdlog::debug("{}: started {} (pid {})", knob_, argv[0], c->process.pid);
  for (uv_pipe_t* pipe : {&c->out, &c->err}) {
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(pipe), Child::on_alloc, Child::on_read) != 0)
      c->close_handle(pipe);
  }
  uv_timer_start(&c->timer, Child::on_timer, timeout_ms(timeout_seconds_), 0);
}

}  // namespace setpoint
