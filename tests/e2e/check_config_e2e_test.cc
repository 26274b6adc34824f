// `setpoint check --config`, run as a user runs it: the config checked with the policies it
// names, knobs without actuators, bad keys, unsafe token files, and the exit codes.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/process.h"

using namespace setpoint::test;

namespace {

const char* kPolicy =
    "let p95 = quantile_over_time(0.95, http_request_duration_seconds[5m])\n"
    "knob cache_ttl : duration in 0s..1h\n"
    "knob db_pool : int in 4..256\n"
    "\n"
    "policy cache {\n"
    "  trigger p95 > 500ms for 5m\n"
    "  action set cache_ttl = 5m\n"
    "  action set db_pool = 8\n"
    "  expect p95 decreases by 20% within 10m\n"
    "}\n";

const char* kKnobs =
    "[knob.cache_ttl]\n"
    "actuator = \"http\"\n"
    "url = \"http://127.0.0.1:8080/admin/knobs/cache_ttl\"\n"
    "body = '{\"value\": {value}}'\n"
    "\n"
    "[knob.db_pool]\n"
    "actuator = \"exec\"\n"
    "argv = [\"/usr/local/bin/set-db-pool\", \"{value}\"]\n";

// A folder with policies/a.setpoint, state/, a token file readable by its owner only, and
// setpoint.toml: the head given, then `rest`.
struct ConfigDir {
  TempDir dir;
  std::string config = dir.file("setpoint.toml");

  explicit ConfigDir(const std::string& rest, const std::string& policy = kPolicy) {
    std::filesystem::create_directory(dir.file("policies"));
    std::filesystem::create_directory(dir.file("state"));
    write_text(dir.file("policies/a.setpoint"), policy);
    write_text(dir.file("token"), "0123456789abcdef\n");
    ::chmod(dir.file("token").c_str(), 0600);
    write_text(config,
               "policies = [\"policies/\"]\n"
               "state_file = \"state/setpoint.db\"\n"
               "\n"
               "[control]\n"
               "token_file = \"token\"\n"
               "\n" +
                   rest);
  }
};

}  // namespace

TEST_CASE("check --config passes a config whose policies all have actuators", "[e2e]") {
  ConfigDir d(kKnobs);
  ProcessResult r = run_setpoint({"check", "--config", d.config});
  CHECK(r.err == "");
  CHECK(r.out == "checked 2 files: 0 errors, 0 warnings\n");
  CHECK(r.exit_code == 0);
}

TEST_CASE("check --config reports a knob a policy sets without an actuator, at the policy",
          "[e2e]") {
  ConfigDir d(
      "[knob.cache_ttl]\n"
      "actuator = \"http\"\n"
      "url = \"http://127.0.0.1:8080/admin/knobs/cache_ttl\"\n");
  ProcessResult r = run_setpoint({"check", "--config", d.config});
  CHECK(r.exit_code == 1);
  CHECK(r.out == d.dir.file("policies/a.setpoint") +
                     ":8:14: error: knob 'db_pool' has no actuator: " + d.config +
                     " has no [knob.db_pool]\n"
                     " 8 |   action set db_pool = 8\n"
                     "   |              ^^^^^^^\n"
                     " = hint: add a [knob.db_pool] table saying how to set it: actuator = "
                     "\"http\", \"exec\" or \"file\"\n"
                     "\n"
                     "checked 2 files: 1 error, 0 warnings\n");
}

TEST_CASE("check --config shows an unknown config key on its line, with a did-you-mean hint",
          "[e2e]") {
  ConfigDir d(std::string(kKnobs) + "timout = \"2s\"\n");
  ProcessResult r = run_setpoint({"check", "--config", d.config});
  CHECK(r.exit_code == 1);
  CHECK(r.out == d.config +
                     ":15:1: error: unknown key \"timout\" in [knob.db_pool]\n"
                     " 15 | timout = \"2s\"\n"
                     "    | ^^^^^^\n"
                     " = hint: did you mean 'timeout'?\n"
                     "\n"
                     "checked 2 files: 1 error, 0 warnings\n");
}

TEST_CASE("check --config refuses a token file that group or others can read", "[e2e]") {
  ConfigDir d(kKnobs);
  ::chmod(d.dir.file("token").c_str(), 0644);
  ProcessResult r = run_setpoint({"check", "--config", d.config});
  CHECK(r.exit_code == 1);
  std::string token = d.dir.file("token");
  CHECK(r.out ==
        d.config + ":5:14: error: the token file is open to group or others (mode 0644): " + token +
            "\n"
            " 5 | token_file = \"token\"\n"
            "   |              ^^^^^^^\n"
            " = hint: chmod 600 " +
            token +
            ": whoever reads the token can change knobs and stop the engine\n"
            "\n"
            "checked 2 files: 1 error, 0 warnings\n");
}

TEST_CASE("check --config warns about a knob table no policy declares, and still exits 0",
          "[e2e]") {
  ConfigDir d(std::string(kKnobs) +
              "\n[knob.cache_tll]\nactuator = \"file\"\npath = \"/etc/app/ttl\"\n");
  ProcessResult r = run_setpoint({"check", "--config", d.config});
  CHECK(r.exit_code == 0);
  CHECK(r.out == d.config +
                     ":16:7: warning: [knob.cache_tll] is for a knob no policy declares\n"
                     " 16 | [knob.cache_tll]\n"
                     "    |       ^^^^^^^^^\n"
                     " = hint: did you mean 'cache_ttl'?\n"
                     "\n"
                     "checked 2 files: 0 errors, 1 warning\n");
}

TEST_CASE("check --config needs a run table for every action run NAME", "[e2e]") {
  std::string policy = kPolicy;
  policy.insert(policy.find("  expect"), "  action run restart_workers(grace = 30s)\n");
  ConfigDir d(kKnobs, policy);
  ProcessResult r = run_setpoint({"check", "--config", d.config});
  CHECK(r.exit_code == 1);
  CHECK(r.out == d.dir.file("policies/a.setpoint") +
                     ":9:14: error: actuator 'restart_workers' is not configured: " + d.config +
                     " has no [run.restart_workers]\n"
                     " 9 |   action run restart_workers(grace = 30s)\n"
                     "   |              ^^^^^^^^^^^^^^^\n"
                     " = hint: add a [run.restart_workers] table saying what to run: actuator = "
                     "\"exec\", \"http\" or \"file\"\n"
                     "\n"
                     "checked 2 files: 1 error, 0 warnings\n");
}

TEST_CASE("check --config needs the state file's folder, and checks extra paths too", "[e2e]") {
  ConfigDir d(kKnobs);
  std::filesystem::remove(d.dir.file("state"));
  write_text(d.dir.file("extra.setpoint"), "let x = rate(y)\n");
  ProcessResult r = run_setpoint({"check", "--config", d.config, d.dir.file("extra.setpoint")});
  CHECK(r.exit_code == 1);
  std::string state = d.dir.file("state");
  CHECK(r.out.find(d.config + ":2:14: error: the folder of the state file does not exist: " +
                   state + "\n") == 0);
  CHECK(r.out.find(d.dir.file("extra.setpoint") + ":1:14: error[E0301]:") != std::string::npos);
  CHECK(r.out.substr(r.out.rfind("checked")) == "checked 3 files: 2 errors, 0 warnings\n");
}

TEST_CASE("check --config --format json lists config findings with positions and no code",
          "[e2e]") {
  ConfigDir d(std::string(kKnobs) + "timout = \"2s\"\n");
  ProcessResult r = run_setpoint({"check", "--format", "json", "--config", d.config});
  CHECK(r.exit_code == 1);
  auto json = nlohmann::json::parse(r.out);
  REQUIRE(json.size() == 1);
  CHECK(json[0] == nlohmann::json{{"file", d.config},
                                  {"line", 15},
                                  {"column", 1},
                                  {"end_line", 15},
                                  {"end_column", 7},
                                  {"severity", "error"},
                                  {"code", ""},
                                  {"message", "unknown key \"timout\" in [knob.db_pool]"},
                                  {"hint", "did you mean 'timeout'?"}});
}

TEST_CASE("check without paths or --config is a usage error, and so is a missing config", "[e2e]") {
  ProcessResult r = run_setpoint({"check"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "setpoint: check needs policy files or folders, or --config FILE\n");
  r = run_setpoint({"check", "--config", "/nonexistent/setpoint.toml"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "setpoint: /nonexistent/setpoint.toml: No such file or directory\n");
}

TEST_CASE("check --config needs a retention that keeps what the policies read", "[e2e]") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("policies"));
  write_text(dir.file("policies/a.setpoint"), kPolicy);
  write_text(dir.file("setpoint.toml"),
             "policies = [\"policies/\"]\nstate_file = \"setpoint.db\"\nretention = \"5m\"\n" +
                 std::string(kKnobs));
  ProcessResult r = run_setpoint({"check", "--config", dir.file("setpoint.toml")});
  CHECK(r.exit_code == 1);
  std::string policy = dir.file("policies/a.setpoint");
  std::string config = dir.file("setpoint.toml");
  CHECK(r.out == policy + ":9:38: error: this reads 10m of history, but " + config +
                     " keeps 5m (retention)\n"
                     " 9 |   expect p95 decreases by 20% within 10m\n"
                     "   |                                      ^^^\n"
                     " = hint: set retention = \"10m\" or more in " +
                     config + ": the daemon forgets samples older than that\n\n" +
                     "checked 2 files: 1 error, 0 warnings\n");
}
