// The daemon's config: the shipped example read into every field, defaults and relative paths,
// and every error (unknown keys, types, durations, sizes, missing keys, unsafe values) exactly.
#include "runtime/daemon_config.h"

#include <catch2/catch.hpp>
#include <csignal>

#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

DaemonConfig config(const std::string& text, const std::string& path = "/etc/sp/setpoint.toml") {
  std::vector<std::string> errors;
  auto c = parse_daemon_config(text, path, errors);
  INFO(text);
  for (const std::string& e : errors) UNSCOPED_INFO(e);
  REQUIRE(c);
  REQUIRE(errors.empty());
  return std::move(*c);
}

std::vector<std::string> errors_of(const std::string& text) {
  std::vector<std::string> errors;
  auto c = parse_daemon_config(text, "s.toml", errors);
  CHECK_FALSE(c);
  return errors;
}

// The one error of a config that names its policies and has `rest` after them.
std::string error_of(const std::string& rest) {
  std::vector<std::string> errors = errors_of("policies = [\"p\"]\n" + rest);
  INFO(rest);
  REQUIRE(errors.size() == 1);
  return errors[0];
}

using Headers = std::vector<std::pair<std::string, std::string>>;

}  // namespace

TEST_CASE("the example config is read into every field, its paths made absolute", "[config]") {
  std::string dir = source_path("examples/daemon");
  std::vector<std::string> errors;
  auto loaded = load_daemon_config(dir + "/setpoint.toml", errors);
  for (const std::string& e : errors) UNSCOPED_INFO(e);
  REQUIRE(loaded);
  const DaemonConfig& c = *loaded;
  CHECK(c.path == dir + "/setpoint.toml");
  CHECK(c.policies == std::vector<std::string>{source_path("examples/quickstart.setpoint"),
                                               source_path("policies/memory_gc.setpoint")});
  CHECK(c.state_file == "/var/lib/setpoint/setpoint.db");
  CHECK(c.state_file_pos.line == 9);
  CHECK(c.state_file_pos.column == 14);
  CHECK(c.state_file_pos.end_column == 45);
  CHECK(c.evaluation_interval_seconds == 15);
  CHECK(c.shutdown_deadline_seconds == 30);
  CHECK(c.max_series == 1'000'000);
  CHECK(c.retention_seconds == 3600);

  CHECK(c.control.listen == "127.0.0.1:9464");
  CHECK_FALSE(c.control.allow_remote);
  CHECK(c.control.token_file == "/etc/setpoint/token");
  CHECK(c.control.token_file_pos.line == 20);
  CHECK(c.control.max_body_bytes == 1 << 20);
  CHECK(c.push.enabled);
  CHECK(c.push.max_body_bytes == 4 << 20);
  CHECK(c.push.max_series == 100'000);

  REQUIRE(c.scrapes.size() == 1);
  const ScrapeSourceConfig& s = c.scrapes[0];
  CHECK(s.name == "api");
  CHECK(s.url == "http://127.0.0.1:8080/metrics");
  CHECK(s.interval_seconds == 5);
  CHECK(s.timeout_seconds == 2);
  CHECK(s.jitter_fraction == 0.1);
  CHECK(s.max_body_bytes == 16 << 20);
  CHECK(s.max_series == 100'000);
  CHECK(s.labels ==
        std::map<std::string, std::string>{{"instance", "127.0.0.1:8080"}, {"job", "api"}});
  CHECK(s.pos.line == 30);
  REQUIRE(c.queries.size() == 1);
  const QuerySourceConfig& q = c.queries[0];
  CHECK(q.name == "prom");
  CHECK(q.url == "http://127.0.0.1:9090");
  CHECK(q.interval_seconds == 15);
  CHECK(q.timeout_seconds == 10);
  CHECK(q.max_body_bytes == 16 << 20);
  CHECK(q.max_series == 100'000);
  CHECK(q.headers == Headers{{"X-Scope-OrgID", "team-a"}});

  REQUIRE(c.actuators.size() == 3);
  const ActuatorConfig& http = c.actuators[0];
  CHECK(http.knob == "cache_ttl");
  CHECK(http.kind == ActuatorConfig::Kind::Http);
  CHECK(http.pos.line == 50);
  CHECK(http.pos.column == 7);
  CHECK(http.pos.end_column == 16);
  CHECK(http.http.method == "PUT");
  CHECK(http.http.url == "http://127.0.0.1:8080/admin/knobs/cache_ttl");
  CHECK(http.http.body == "{\"value\": {value}}");
  CHECK(http.http.headers == Headers{{"Content-Type", "application/json"}});
  CHECK(http.http.read_url == "http://127.0.0.1:8080/admin/knobs/cache_ttl");
  CHECK(http.http.read_json_pointer == "/value");
  CHECK(http.timeout_seconds == 2);
  CHECK(http.retry.attempts == 3);
  CHECK(http.retry.backoff_seconds == 0.5);
  CHECK(http.retry.max_backoff_seconds == 10);

  const ActuatorConfig& exec = c.actuators[1];
  CHECK(exec.knob == "db_pool");
  CHECK(exec.kind == ActuatorConfig::Kind::Exec);
  CHECK(exec.exec.argv ==
        std::vector<std::string>{"/usr/local/bin/set-db-pool", "--size", "{value}"});
  CHECK(exec.exec.read_argv == std::vector<std::string>{"/usr/local/bin/set-db-pool", "--show"});
  CHECK(exec.timeout_seconds == 5);
  CHECK(exec.retry.attempts == 3);

  const ActuatorConfig& file = c.actuators[2];
  CHECK(file.knob == "gogc");
  CHECK(file.kind == ActuatorConfig::Kind::File);
  CHECK(file.file.path == "/etc/worker/gogc");
  CHECK(file.file.content == "{value}\n");
  CHECK(file.file.reload_argv == std::vector<std::string>{"systemctl", "reload", "worker"});
  CHECK(file.file.reload_pid_file.empty());
  CHECK(file.file.reload_signal == 0);
  CHECK(c.runs.empty());
}

TEST_CASE("a minimal config takes the defaults, with paths relative to its folder", "[config]") {
  DaemonConfig c = config("policies = [\"policies/\", \"../shared/a.setpoint\"]\n");
  CHECK(c.path == "/etc/sp/setpoint.toml");
  CHECK(c.policies == std::vector<std::string>{"/etc/sp/policies/", "/etc/shared/a.setpoint"});
  CHECK(c.state_file == "/etc/sp/setpoint.db");
  CHECK(c.state_file_pos.line == 0);
  CHECK(c.evaluation_interval_seconds == 15);
  CHECK(c.control.listen == "127.0.0.1:9464");
  CHECK(c.control.token_file.empty());
  CHECK_FALSE(c.push.enabled);
  CHECK(c.scrapes.empty());
  CHECK(c.actuators.empty());
}

TEST_CASE("durations and sizes are strings with units or plain numbers", "[config]") {
  DaemonConfig c = config(
      "policies = [\"p\"]\nevaluation_interval = 30\nshutdown_deadline = 0\nretention = 1.5\n"
      "[control]\nmax_body = 2048\n[push]\nmax_body = \"1.5MiB\"\n"
      "[[scrape]]\nurl = \"http://127.0.0.1:1/m\"\ninterval = \"1h30m\"\n");
  CHECK(c.evaluation_interval_seconds == 30);
  CHECK(c.shutdown_deadline_seconds == 0);
  CHECK(c.retention_seconds == 1.5);
  CHECK(c.control.max_body_bytes == 2048);
  CHECK(c.push.max_body_bytes == 1572864);
  REQUIRE(c.scrapes.size() == 1);
  CHECK(c.scrapes[0].interval_seconds == 5400);
  CHECK(c.scrapes[0].name == "http://127.0.0.1:1/m");  // a source without a name goes by its url
}

TEST_CASE("listen takes loopback addresses and unix sockets relative to the config", "[config]") {
  CHECK(config("policies = [\"p\"]\n[control]\nlisten = \"127.0.0.2:0\"\n").control.listen ==
        "127.0.0.2:0");
  CHECK(config("policies = [\"p\"]\n[control]\nlisten = \"[::1]:9464\"\n").control.listen ==
        "[::1]:9464");
  CHECK(config("policies = [\"p\"]\n[control]\nlisten = \"unix:run/ctl.sock\"\n").control.listen ==
        "unix:/etc/sp/run/ctl.sock");
  DaemonConfig remote = config(
      "policies = [\"p\"]\n[control]\nlisten = \"0.0.0.0:9464\"\nallow_remote = true\n"
      "token_file = \"token\"\n");
  CHECK(remote.control.allow_remote);
  CHECK(remote.control.token_file == "/etc/sp/token");
}

TEST_CASE("file and run actuators: pid file and signal, and a run table without a value",
          "[config]") {
  DaemonConfig c = config(
      "policies = [\"p\"]\n"
      "[knob.gc]\nactuator = \"file\"\npath = \"gc\"\nreload_pid_file = \"/run/app.pid\"\n"
      "[knob.workers]\nactuator = \"exec\"\nargv = [\"bin/set\", \"{value}\"]\n"
      "[knob.limit]\nactuator = \"http\"\nurl = \"http://127.0.0.1:1/limit?v={value}\"\n"
      "body = \"\"\nmethod = \"POST\"\n"
      "[run.restart]\nactuator = \"exec\"\nargv = [\"systemctl\", \"restart\", \"app\"]\n");
  REQUIRE(c.actuators.size() == 3);
  CHECK(c.actuators[0].file.path == "/etc/sp/gc");
  CHECK(c.actuators[0].file.content == "{value}\n");
  CHECK(c.actuators[0].file.reload_signal == SIGHUP);  // the default with a pid file
  CHECK(c.actuators[1].exec.argv == std::vector<std::string>{"/etc/sp/bin/set", "{value}"});
  CHECK(c.actuators[2].http.method == "POST");
  CHECK(c.actuators[2].http.body.empty());
  REQUIRE(c.runs.size() == 1);
  CHECK(c.runs[0].knob == "restart");
  CHECK(c.runs[0].exec.argv == std::vector<std::string>{"systemctl", "restart", "app"});
  CHECK(config("policies = [\"p\"]\n[knob.gc]\nactuator = \"file\"\npath = \"gc\"\n"
               "reload_pid_file = \"/run/app.pid\"\nreload_signal = \"SIGUSR2\"\n")
            .actuators[0]
            .file.reload_signal == SIGUSR2);
}

TEST_CASE("unknown keys are reported with a did-you-mean hint, or the keys there are", "[config]") {
  CHECK(error_of("state_fille = \"x.db\"\n") ==
        "s.toml:2:1: unknown key \"state_fille\"; hint: did you mean 'state_file'?");
  CHECK(error_of("[control]\nport = 9464\n") ==
        "s.toml:3:1: unknown key \"port\" in [control]; hint: the keys of [control] are listen, "
        "allow_remote, token_file and max_body");
  CHECK(error_of("[[scrape]]\nurl = \"http://127.0.0.1:1/m\"\nintervl = \"5s\"\n") ==
        "s.toml:4:1: unknown key \"intervl\" in [[scrape]]; hint: did you mean 'interval'?");
  CHECK(error_of("[knob.ttl]\nactuator = \"http\"\nurll = \"http://127.0.0.1:1/{value}\"\n"
                 "url = \"http://127.0.0.1:1/{value}\"\n") ==
        "s.toml:4:1: unknown key \"urll\" in [knob.ttl]; hint: did you mean 'url'?");
  CHECK(error_of("[knob.ttl]\nactuator = \"exec\"\nargv = [\"/bin/x\", \"{value}\"]\n"
                 "url = \"http://127.0.0.1:1/\"\n") ==
        "s.toml:5:1: \"url\" is not a key of an exec actuator; hint: an exec actuator takes "
        "actuator, argv, read_argv, timeout and retry");
  CHECK(error_of("[knob.ttl]\nactuator = \"exec\"\nargv = [\"/bin/x\", \"{value}\"]\n"
                 "retry = { attempts = 3, backof = \"1s\" }\n") ==
        "s.toml:5:25: unknown key \"backof\" in retry; hint: did you mean 'backoff'?");
  CHECK(error_of("[run.restart]\nactuator = \"exec\"\nargv = [\"/bin/x\"]\n"
                 "read_argv = [\"/bin/x\", \"--show\"]\n") ==
        "s.toml:5:1: \"read_argv\" is not a key of a [run.*] table; hint: an actuator that "
        "`action run` runs has no value to read back");
}

TEST_CASE("values of the wrong type say what they must be", "[config]") {
  CHECK(
      error_of("max_series = \"1000\"\n") ==
      "s.toml:2:14: \"max_series\" must be an integer, not a string; hint: write max_series = 10");
  CHECK(error_of("[push]\nenabled = \"yes\"\n") ==
        "s.toml:3:11: \"enabled\" must be true or false, not a string; hint: write enabled = true");
  CHECK(error_of("control = 5\n") ==
        "s.toml:2:11: \"control\" must be a table, not an integer; hint: write it as [control]");
  CHECK(error_of("[scrape]\nurl = \"http://127.0.0.1:1/m\"\n") ==
        "s.toml:2:1: \"scrape\" must be a list of tables, not a table; hint: write each one as "
        "[[scrape]], with double brackets");
  CHECK(error_of("[knob]\nactuator = \"http\"\n") ==
        "s.toml:3:1: \"actuator\" in [knob] must be a table, not a string; hint: write one table "
        "for each: [knob.cache_ttl]");
}

TEST_CASE("bad durations and sizes, and intervals that are not positive", "[config]") {
  CHECK(error_of("evaluation_interval = \"15sec\"\n") ==
        "s.toml:2:23: \"evaluation_interval\" is not a duration: \"15sec\"; hint: write 's'");
  CHECK(error_of("evaluation_interval = \"fast\"\n") ==
        "s.toml:2:23: \"evaluation_interval\" is not a duration: \"fast\"; hint: durations look "
        "like \"15s\", \"2m\" or \"1h30m\", or a number of seconds");
  CHECK(error_of("retention = \"4MiB\"\n") ==
        "s.toml:2:13: \"retention\" is not a duration: \"4MiB\"; hint: durations look like "
        "\"15s\", \"2m\" or \"1h30m\", or a number of seconds");
  CHECK(error_of("evaluation_interval = \"0s\"\n") ==
        "s.toml:2:23: \"evaluation_interval\" must be more than 0s, found \"0s\"");
  CHECK(error_of("[[scrape]]\nurl = \"http://127.0.0.1:1/m\"\ninterval = -5\n") ==
        "s.toml:4:12: \"interval\" must be more than 0s, found -5");
  CHECK(error_of("shutdown_deadline = -1.5\n") ==
        "s.toml:2:21: \"shutdown_deadline\" must be 0s or more, found -1.5");
  CHECK(error_of("evaluation_interval = true\n") ==
        "s.toml:2:23: \"evaluation_interval\" must be a duration, not a boolean; hint: write "
        "evaluation_interval = \"15s\" (or a number of seconds)");
  CHECK(error_of("[control]\nmax_body = \"1 MiB\"\n") ==
        "s.toml:3:12: \"max_body\" is not a size: \"1 MiB\"; hint: sizes look like \"64KiB\" or "
        "\"16MiB\", or a number of bytes");
  CHECK(error_of("[push]\nmax_body = \"4mb\"\n") ==
        "s.toml:3:12: \"max_body\" is not a size: \"4mb\"; hint: write 'MB'");
  CHECK(error_of("[push]\nmax_body = 0\n") ==
        "s.toml:3:12: \"max_body\" must be from 1 byte to 1TiB, found 0");
  CHECK(error_of("[[scrape]]\nurl = \"http://127.0.0.1:1/m\"\ninterval = \"5s\"\n"
                 "timeout = \"10s\"\n") ==
        "s.toml:5:11: \"timeout\" (10s) is longer than \"interval\" (5s); hint: each request "
        "must end before the next one starts");
  CHECK(error_of("[[scrape]]\nurl = \"http://127.0.0.1:1/m\"\njitter = 2\n") ==
        "s.toml:4:10: \"jitter\" must be from 0 to 1, found 2; hint: a fraction of the "
        "interval: 0.1 starts each scrape up to 10% of it late");
}

TEST_CASE("a source times out at its interval when that is under 10s, and needs an http url",
          "[config]") {
  DaemonConfig c = config("policies = [\"p\"]\n[[scrape]]\nurl = \"https://h/m\"\ninterval = 4\n");
  CHECK(c.scrapes[0].timeout_seconds == 4);
  CHECK(error_of("[[scrape]]\nname = \"api\"\n") ==
        "s.toml:2:1: [[scrape]] has no \"url\"; hint: say what to scrape: url = "
        "\"http://127.0.0.1:8080/metrics\"");
  CHECK(error_of("[[query]]\nname = \"prom\"\n") ==
        "s.toml:2:1: [[query]] has no \"url\"; hint: say which Prometheus to ask: url = "
        "\"http://127.0.0.1:9090\"");
  CHECK(error_of("[[query]]\nurl = \"127.0.0.1:9090\"\n") ==
        "s.toml:3:7: \"url\" must start with http:// or https://, found \"127.0.0.1:9090\"; "
        "hint: write url = \"http://127.0.0.1:9090\"");
}

TEST_CASE("a config names its policies: a list, or one string, never empty", "[config]") {
  CHECK(errors_of("") == std::vector<std::string>{
                             "s.toml:1:1: the config names no policies; hint: add policies = "
                             "[\"policies/\"]: files, or folders of *.setpoint files, relative to "
                             "this file"});
  CHECK(config("policies = \"policies/\"\n").policies ==
        std::vector<std::string>{"/etc/sp/policies/"});  // one path may be a plain string
  CHECK(errors_of("policies = [\"a\", \"\"]\n") ==
        std::vector<std::string>{"s.toml:1:18: a path in \"policies\" is empty"});
  CHECK(errors_of("policies = []\n") ==
        std::vector<std::string>{"s.toml:1:12: \"policies\" is empty; hint: name the policy "
                                 "files or folders: policies = [\"policies/\"]"});
}

TEST_CASE("actuators must say what they run and where the value goes", "[config]") {
  CHECK(error_of("[knob.ttl]\nmethod = \"PUT\"\n") ==
        "s.toml:2:7: [knob.ttl] has no \"actuator\"; hint: say how to set the knob: actuator = "
        "\"http\", \"exec\" or \"file\"");
  CHECK(error_of("[knob.ttl]\nactuator = \"htp\"\n") ==
        "s.toml:3:12: \"actuator\" must be \"http\", \"exec\" or \"file\", found \"htp\"; hint: "
        "did you mean 'http'?");
  CHECK(error_of("[knob.ttl]\nactuator = \"http\"\n") ==
        "s.toml:2:7: [knob.ttl] has no \"url\"; hint: say where to send the request: url = "
        "\"http://127.0.0.1:8080/admin/knobs/cache_ttl\"");
  CHECK(error_of("[knob.workers]\nactuator = \"exec\"\n") ==
        "s.toml:2:7: [knob.workers] has no \"argv\"; hint: say what to run, as a list: argv = "
        "[\"/usr/local/bin/set-workers\", \"{value}\"]");
  CHECK(error_of("[knob.gc]\nactuator = \"file\"\ncontent = \"{value}\"\n") ==
        "s.toml:2:7: [knob.gc] has no \"path\"; hint: say which file to write: path = "
        "\"/etc/myapp/gc_percent\"");
  CHECK(error_of("[knob.ttl]\nactuator = \"http\"\nurl = \"http://127.0.0.1:1/ttl\"\n"
                 "body = '{\"ttl\": 5}'\n") ==
        "s.toml:2:7: [knob.ttl] never passes the knob's value: neither \"url\" nor \"body\" "
        "holds {value}; hint: {value} is replaced by the new value, as in body = '{\"value\": "
        "{value}}'");
  CHECK(error_of("[knob.\"cache-ttl\"]\nactuator = \"file\"\npath = \"/x\"\n") ==
        "s.toml:2:7: \"cache-ttl\" is not a knob name; hint: names are letters, digits and "
        "\"_\", as in the policies: [knob.cache_ttl]");
  CHECK(error_of("[run.restart]\nactuator = \"exec\"\nargv = [\"/bin/restart\", \"{value}\"]\n") ==
        "s.toml:4:8: \"argv\" holds {value}, but `action run` passes no value; hint: a [run.*] "
        "table does the same thing each time: remove {value}");
  CHECK(error_of("[knob.ttl]\nactuator = \"http\"\nurl = \"http://127.0.0.1:1/{value}\"\n"
                 "method = \"put\"\n") ==
        "s.toml:5:10: \"method\" must be PUT, POST, PATCH or GET, found \"put\"; hint: write it "
        "in capitals: \"PUT\"");
  CHECK(error_of("[knob.ttl]\nactuator = \"http\"\nurl = \"http://127.0.0.1:1/{value}\"\n"
                 "read_json_pointer = \"/v\"\n") ==
        "s.toml:5:21: \"read_json_pointer\" needs a \"read_url\"; hint: it says where the value "
        "is in the response to a GET of read_url");
  CHECK(error_of("[knob.ttl]\nactuator = \"exec\"\nargv = [\"/bin/x\", \"{value}\"]\n"
                 "retry = { max_backoff = \"100ms\" }\n") ==
        "s.toml:5:25: \"max_backoff\" (0.1s) is shorter than \"backoff\" (0.5s); hint: the "
        "backoff doubles after each failure up to max_backoff");
  CHECK(error_of("[knob.ttl]\nactuator = \"exec\"\nargv = [\"/bin/x\", \"{value}\"]\n"
                 "retry = { attempts = 0 }\n") ==
        "s.toml:5:22: \"attempts\" must be from 1 to 100, found 0");
}

TEST_CASE("an exec argv written as one string is refused: setpoint never runs a shell",
          "[config]") {
  CHECK(error_of("[knob.workers]\nactuator = \"exec\"\n"
                 "argv = \"/usr/local/bin/set-workers --count {value}\"\n") ==
        "s.toml:4:8: \"argv\" must be a list of strings, not a string; hint: argv is a list; "
        "setpoint never runs a shell: write argv = [\"/usr/local/bin/set-workers\", \"--count\", "
        "\"{value}\"]");
  // No list is suggested for what only a shell would understand.
  CHECK(
      error_of("[knob.workers]\nactuator = \"exec\"\nargv = \"set-workers {value} | tee log\"\n") ==
      "s.toml:4:8: \"argv\" must be a list of strings, not a string; hint: argv is a list; "
      "setpoint never runs a shell");
  CHECK(error_of("[knob.workers]\nactuator = \"exec\"\nargv = [\"/bin/x\", 8]\n") ==
        "s.toml:4:19: element 2 of \"argv\" must be a string, not an integer; hint: quote it");
  CHECK(error_of("[knob.workers]\nactuator = \"exec\"\nargv = []\n") ==
        "s.toml:4:8: \"argv\" has no program; hint: name the program, then its arguments: argv "
        "= [\"/usr/local/bin/set-workers\", \"{value}\"]");
}

TEST_CASE("file actuators signal by name, with a pid file, and may also run a command",
          "[config]") {
  std::string file = "[knob.gc]\nactuator = \"file\"\npath = \"/x\"\n";
  CHECK(error_of(file + "reload_signal = \"SIGHUP\"\n") ==
        "s.toml:5:17: \"reload_signal\" needs a \"reload_pid_file\"; hint: the signal goes to the "
        "process whose pid the file holds");
  CHECK(error_of(file + "reload_pid_file = \"/run/a.pid\"\nreload_signal = \"SIGKILL\"\n") ==
        "s.toml:6:17: \"reload_signal\" is not a signal setpoint sends: \"SIGKILL\"; hint: use "
        "SIGHUP, SIGUSR1, SIGUSR2, SIGINT, SIGTERM, SIGQUIT, SIGCONT or SIGWINCH");
  DaemonConfig both = config("policies = [\"p\"]\n" + file +
                             "reload_pid_file = \"/run/a.pid\"\nreload_argv = [\"/bin/r\"]\n");
  CHECK(both.actuators[0].file.reload_argv == std::vector<std::string>{"/bin/r"});  // both run
  CHECK(both.actuators[0].file.reload_signal == SIGHUP);
}

TEST_CASE("the control API stays on loopback unless allow_remote says otherwise, with a token",
          "[config]") {
  CHECK(error_of("[control]\nlisten = \"0.0.0.0:9464\"\n") ==
        "s.toml:3:10: \"listen\" is not a loopback address: \"0.0.0.0:9464\"; hint: the control "
        "API changes knobs and stops the engine, so it stays on 127.0.0.1, [::1] or a unix "
        "socket; set allow_remote = true in [control], with a token_file, to expose it on "
        "purpose");
  CHECK(error_of("[control]\nlisten = \"localhost:9464\"\n") ==
        "s.toml:3:10: \"listen\" needs an IP address, not a name: \"localhost:9464\"; hint: "
        "write listen = \"127.0.0.1:9464\"");
  CHECK(error_of("[control]\nlisten = \"0.0.0.0:9464\"\nallow_remote = true\n") ==
        "s.toml:4:16: allow_remote = true needs a token_file; hint: without a token, anyone who "
        "can reach the listener can change knobs: token_file = \"/etc/setpoint/token\"");
  CHECK(error_of("[control]\nlisten = \"9464\"\n") ==
        "s.toml:3:10: \"listen\" must be host:port or unix:/path, found \"9464\"; hint: write "
        "listen = \"127.0.0.1:9464\" or listen = \"unix:/run/setpoint/control.sock\"");
  CHECK(error_of("[control]\nlisten = \"127.0.0.1:99999\"\n") ==
        "s.toml:3:10: \"listen\" has no valid port (0 to 65535): \"127.0.0.1:99999\"; hint: "
        "write listen = \"127.0.0.1:9464\" or listen = \"unix:/run/setpoint/control.sock\"");
  CHECK(error_of("[control]\nlisten = \":9464\"\n") ==
        "s.toml:3:10: \"listen\" has no host: \":9464\"; hint: an empty host would listen on "
        "every interface; write listen = \"127.0.0.1:9464\" or listen = "
        "\"unix:/run/setpoint/control.sock\"");
  CHECK(error_of("[control]\nlisten = \"::1:9464\"\n") ==
        "s.toml:3:10: \"listen\" has an IPv6 address without brackets: \"::1:9464\"; hint: "
        "write listen = \"[::1]:9464\"");
}

TEST_CASE("scrapes and queries need names of their own", "[config]") {
  CHECK(error_of("[[scrape]]\nname = \"api\"\nurl = \"http://127.0.0.1:1/m\"\n"
                 "[[query]]\nname = \"api\"\nurl = \"http://127.0.0.1:9090\"\n") ==
        "s.toml:6:8: source name \"api\" is used twice; hint: the first is on line 3; every "
        "[[scrape]] and [[query]] needs a name of its own, shown in /status");
  CHECK(error_of("[[scrape]]\nurl = \"http://127.0.0.1:1/m\"\n"
                 "[[scrape]]\nurl = \"http://127.0.0.1:1/m\"\n") ==
        "s.toml:4:1: source name \"http://127.0.0.1:1/m\" is used twice; hint: the first is on "
        "line 2; every [[scrape]] and [[query]] needs a name of its own, shown in /status");
}

TEST_CASE("labels and headers are checked before they reach a request", "[config]") {
  CHECK(error_of("[[scrape]]\nurl = \"http://127.0.0.1:1/m\"\nlabels = { __name__ = \"x\" }\n") ==
        "s.toml:4:12: \"__name__\" is not a label name; hint: a label name is letters, digits "
        "and \"_\", not starting with a digit or \"__\"");
  CHECK(error_of("[[query]]\nurl = \"http://127.0.0.1:1\"\n"
                 "headers = { \"X-Org\" = \"a\\r\\nX-Admin: 1\" }\n") ==
        "s.toml:4:23: the value of \"X-Org\" holds a control character; hint: a line break would "
        "end the header and start another");
  CHECK(error_of("[[query]]\nurl = \"http://127.0.0.1:1\"\nheaders = { \"X Org\" = \"a\" }\n") ==
        "s.toml:4:13: \"X Org\" is not a header name; hint: a header name is letters, digits and "
        "-, as in Content-Type");
}

TEST_CASE("a TOML syntax error is reported at its line and column", "[config]") {
  CHECK(errors_of("policies = [\"p\"]\n[control\nlisten = 1\n") ==
        std::vector<std::string>{"s.toml:2:9: invalid TOML: Error while parsing table header: "
                                 "expected ']', saw '\\n'"});
}

TEST_CASE("several errors come in file order", "[config]") {
  CHECK(errors_of("retention = 0\npolicies = 5\n[control]\nlisten = \"x\"\n") ==
        std::vector<std::string>{
            "s.toml:1:13: \"retention\" must be more than 0s, found 0",
            "s.toml:2:12: \"policies\" must be a list of strings, not an integer; hint: write "
            "policies = [\"policies/\"]",
            "s.toml:4:10: \"listen\" must be host:port or unix:/path, found \"x\"; hint: write "
            "listen = \"127.0.0.1:9464\" or listen = \"unix:/run/setpoint/control.sock\""});
}

TEST_CASE("a config that cannot be read says why, and a partial read keeps what it could",
          "[config]") {
  std::vector<std::string> errors;
  CHECK_FALSE(load_daemon_config("/nonexistent/setpoint.toml", errors));
  CHECK(errors ==
        std::vector<std::string>{"/nonexistent/setpoint.toml: No such file or directory"});
  std::vector<ConfigError> found;
  DaemonConfig partial =
      read_daemon_config("policies = [\"p\"]\nmax_series = 0\n", "/sp/s.toml", found);
  CHECK(partial.policies == std::vector<std::string>{"/sp/p"});  // what could be read
  CHECK(partial.max_series == 1'000'000);                        // the value in error: the default
  REQUIRE(found.size() == 1);
  CHECK(found[0].pos.line == 2);
  CHECK(found[0].pos.column == 14);
  CHECK(found[0].pos.end_column == 15);
  CHECK(config_error_text("s.toml", found[0]) ==
        "s.toml:2:14: \"max_series\" must be from 1 to 1000000000, found 0");
}

TEST_CASE("every prefix of the example config is read without crashing", "[config]") {
  std::string text = read_text(source_path("examples/daemon/setpoint.toml"));
  for (size_t n = 0; n <= text.size(); n += 7) {
    std::vector<std::string> errors;
    auto c = parse_daemon_config(text.substr(0, n), "s.toml", errors);
    INFO(n);
    CHECK(c.has_value() == errors.empty());
    for (const std::string& e : errors) CHECK(e.rfind("s.toml:", 0) == 0);
  }
}
