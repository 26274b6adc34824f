// The file actuator: each apply() or read() is an Op that moves through steps (write in the
// thread pool, reload command on the loop, signal in the thread pool) and frees itself at the end.
#include "runtime/file_actuator.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <filesystem>
#include <optional>

#include "runtime/policy_files.h"

namespace setpoint {

namespace {

constexpr std::string_view kValuePlaceholder = "{value}";
constexpr size_t kMaxFileBytes = size_t{1} << 20;  // read(): a knob file is a few lines
constexpr size_t kMaxPidFileBytes = 64;

std::string directory_of(const std::string& path) {
  std::filesystem::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

std::string trimmed(std::string_view text) {
  const char* space = " \t\r\n\f\v";
  size_t first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  size_t last = text.find_last_not_of(space);
  return std::string(text.substr(first, last - first + 1));
}

// For messages: the text in double quotes with newlines and quotes visible, cut at 64 bytes.
std::string in_quotes(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 64)) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  if (text.size() > 64) out += "...";
  return out + "\"";
}

// The number at the start of `text` ("8", "0.25", "+Inf" as substitute_value writes them),
// whatever follows it.
std::optional<double> leading_number(std::string_view text) {
  if (text.size() > 1 && text.front() == '+' && text[1] != '-') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

}  // namespace

struct FileActuator::Op {
  enum class Step : uint8_t { Write, Signal, Read };

  FileActuator* owner = nullptr;  // null once the actuator is gone: then nobody is told
  ActuatorCallback done;
  uint64_t started_ns = 0;
  double value = 0;
  Step step = Step::Write;
  bool in_pool = false;  // a work request is queued or running
  bool cancelled = false;
  bool skip = false;  // cancelled before its turn: the work callback does nothing
  uv_work_t work{};

  // What the work callback reads and writes; the loop thread leaves them alone while in_pool.
  std::string path;
  std::string text;  // Write: the content to write; Read: the content template
  std::string pid_file;
  int signal = 0;
  std::string error;
  std::optional<double> value_read;

  std::string output;  // the reload command's stderr

  void write_step() {
    struct stat before;
    bool existed = ::stat(path.c_str(), &before) == 0;
    std::string why;
    if (!write_file_atomically(path, text, why)) {
      error = "cannot write " + path + ": " + why;
      return;
    }
    // mkstemp made the file 0600; a new knob file is for another program to read.
    if (!existed && ::chmod(path.c_str(), 0644) != 0)
      spdlog::warn("cannot make {} readable: {}", path, std::strerror(errno));
    // The rename is only durable once the directory entry is on disk too.
    std::string dir = directory_of(path);
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      error = path + " was written, but its directory cannot be synced: " + std::strerror(errno);
    }
    if (fd >= 0) ::close(fd);
  }

  void signal_step() {
    if (pid_file.empty()) {
      error = "reload_signal is set but reload_pid_file is not";
      return;
    }
    std::string content, why;
    if (!read_file(pid_file, kMaxPidFileBytes, content, why)) {
      error = "cannot read pid file " + pid_file + ": " + why;
      return;
    }
    std::string pid_text = trimmed(content);
    long pid = 0;
    auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
    // pid 0 and negative pids would signal whole process groups: never from a file's content.
    if (content.size() > kMaxPidFileBytes || ec != std::errc() ||
        end != pid_text.data() + pid_text.size() || pid <= 0 || pid > INT_MAX) {
      error = "pid file " + pid_file + " does not hold a pid: " + in_quotes(pid_text);
      return;
    }
    if (::kill(static_cast<pid_t>(pid), signal) != 0) {
      std::string which = std::to_string(pid) + " (from " + pid_file + ")";
      error = errno == ESRCH ? "no process with pid " + which
                             : "cannot signal pid " + which + ": " + std::strerror(errno);
    }
  }

  void read_step() {
    size_t at = text.find(kValuePlaceholder);
    if (at == std::string::npos) {
      error = "the content template of " + path + " has no {value} to read the value from";
      return;
    }
    std::string content, why;
    if (!read_file(path, kMaxFileBytes, content, why)) {
      error = "cannot read " + path + ": " + why;
      return;
    }
    if (content.size() > kMaxFileBytes) {
      error = path + " is larger than 1 MiB";
      return;
    }
    std::string_view prefix = std::string_view(text).substr(0, at);
    if (!std::string_view(content).starts_with(prefix)) {
      error =
          path + " does not match its content template: it should start with " + in_quotes(prefix);
      return;
    }
    value_read = leading_number(std::string_view(content).substr(at));
    if (!value_read) {
      std::string_view rest = std::string_view(content).substr(at);
      error = path + " has no number where the template has {value}: " +
              in_quotes(rest.substr(0, rest.find('\n')));
    }
  }

  static void run(uv_work_t* work) {
    Op* op = static_cast<Op*>(work->data);
    if (op->skip) return;
    switch (op->step) {
      case Step::Write:
        op->write_step();
        break;
      case Step::Signal:
        op->signal_step();
        break;
      case Step::Read:
        op->read_step();
        break;
    }
  }

  static void after_run(uv_work_t* work, int status) {
    Op* op = static_cast<Op*>(work->data);
    op->in_pool = false;
    FileActuator* owner = op->owner;
    if (owner == nullptr) {
      delete op;
      return;
    }
    ActuatorResult r;
    if (status == UV_ECANCELED || op->cancelled) {
      r.error = "cancelled";
      owner->finish(op, std::move(r));
      return;
    }
    switch (op->step) {
      case Step::Write:
        owner->after_write(op);
        return;
      case Step::Signal:
        r.ok = op->error.empty();
        if (!r.ok) r.error = "written, but reload failed: " + op->error;
        break;
      case Step::Read:
        r.ok = op->error.empty();
        r.error = op->error;
        r.value = op->value_read;
        break;
    }
    owner->finish(op, std::move(r));
  }
};

FileActuator::FileActuator(uv_loop_t* loop, const ActuatorConfig& config)
    : loop_(loop), config_(config.file) {
  if (!config_.reload_argv.empty()) {
    // The reload command is an exec actuator of its own: same argv rules, timeout and errors.
    ActuatorConfig reload = config;
    reload.kind = ActuatorConfig::Kind::Exec;
    reload.exec.argv = config_.reload_argv;
    reload.exec.read_argv.clear();
    reload_command_ = std::make_unique<ExecActuator>(loop, reload);
  }
}

FileActuator::~FileActuator() {
  for (Op* op : ops_) {
    if (op->in_pool) {
      op->owner = nullptr;  // after_run frees it
      op->done = nullptr;
    } else {
      delete op;  // waiting for its turn, or on the reload command (which drops its callback)
    }
  }
}

bool FileActuator::can_read() const {
  return config_.content.find(kValuePlaceholder) != std::string::npos;
}

void FileActuator::apply(double value, ActuatorCallback done) {
  auto* op = new Op;
  op->owner = this;
  op->done = std::move(done);
  op->started_ns = uv_hrtime();
  op->value = value;
  op->step = Op::Step::Write;
  op->path = config_.path;
  op->text = substitute_value(config_.content, value);
  op->pid_file = config_.reload_pid_file;
  op->signal = config_.reload_signal;
  enqueue(op);
}

void FileActuator::read(ActuatorCallback done) {
  auto* op = new Op;
  op->owner = this;
  op->done = std::move(done);
  op->started_ns = uv_hrtime();
  op->step = Op::Step::Read;
  op->path = config_.path;
  op->text = config_.content;
  enqueue(op);
}

void FileActuator::cancel() {
  std::vector<Op*> ops = ops_;
  for (Op* op : ops) {
    op->cancelled = true;
    // Succeeds only while the request waits for a thread; a running write is left to finish.
    if (op->in_pool) uv_cancel(reinterpret_cast<uv_req_t*>(&op->work));
  }
  if (reload_command_) reload_command_->cancel();
}

// One operation at a time, in call order: two writes racing in the thread pool could leave the
// older value in the file, and a read after a write must see it.
void FileActuator::enqueue(Op* op) {
  ops_.push_back(op);
  if (ops_.size() == 1) begin(op);
}

void FileActuator::begin(Op* op) {
  op->skip = op->cancelled;  // set before the work is queued, so the pool thread sees it
  queue(op);
}

void FileActuator::queue(Op* op) {
  op->error.clear();
  op->in_pool = true;
  op->work.data = op;
  uv_queue_work(loop_, &op->work, Op::run, Op::after_run);
}

void FileActuator::after_write(Op* op) {
  if (!op->error.empty()) {
    ActuatorResult r;
    r.error = op->error;
    finish(op, std::move(r));
    return;
  }
  spdlog::debug("wrote {}", op->path);
  if (reload_command_) {
    reload_command_->apply(op->value,
                           [this, op](const ActuatorResult& r) { after_reload_command(op, r); });
    return;
  }
  if (op->signal != 0) {
    op->step = Op::Step::Signal;
    queue(op);
    return;
  }
  ActuatorResult r;
  r.ok = true;
  finish(op, std::move(r));
}

void FileActuator::after_reload_command(Op* op, const ActuatorResult& reload) {
  op->output = reload.output;
  ActuatorResult r;
  if (op->cancelled) {
    r.error = "cancelled";
  } else if (!reload.ok) {
    r.error = "written, but reload failed: " + reload.error;
  } else if (op->signal != 0) {
    op->step = Op::Step::Signal;
    queue(op);
    return;
  } else {
    r.ok = true;
  }
  finish(op, std::move(r));
}

void FileActuator::finish(Op* op, ActuatorResult result) {
  result.attempts = 1;
  result.seconds = static_cast<double>(uv_hrtime() - op->started_ns) / 1e9;
  if (result.output.empty()) result.output = op->output;
  ops_.erase(std::find(ops_.begin(), ops_.end(), op));
  ActuatorCallback callback = std::move(op->done);
  delete op;
  if (!ops_.empty()) begin(ops_.front());
  if (callback) callback(result);
}

}  // namespace setpoint
