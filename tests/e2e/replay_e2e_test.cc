// `setpoint eval` and `setpoint simulate` as a user runs them on a recording: exact output,
// exit codes, and what a malformed recording line costs.
#include <catch2/catch.hpp>

#include "support/fixtures.h"
#include "support/process.h"

using namespace setpoint::test;

namespace {

// 20 minutes at a 15 s step from 2023-11-14T22:13:20Z: latency jumps from 0.2 s to 0.8 s
// after 5 minutes; errors stay low.
std::string recording() {
  std::string out = "# TYPE latency_seconds gauge\n";
  for (int k = 0; k < 80; ++k) {
    long long t = (1700000000LL + k * 15) * 1000;
    out += "latency_seconds{job=\"api\"} " + std::string(k < 20 ? "0.2" : "0.8") + " " +
           std::to_string(t) + "\n";
    out += "errors_ratio{job=\"api\"} 0.001 " + std::to_string(t) + "\n";
  }
  return out;
}

const char* kPolicy =
    "knob cache_ttl : duration in 0s..1h\n"
    "policy cache {\n"
    "  trigger latency_seconds > 500ms for 2m\n"
    "  when errors_ratio < 1%\n"
    "  action set cache_ttl = clamp(cache_ttl * 2, 30s, 10m)\n"
    "  expect latency_seconds decreases by 20% within 10m\n"
    "  cooldown 30m\n"
    "}\n";

}  // namespace

TEST_CASE("eval answers an instant query at a time, as text and as JSON") {
  TempDir dir;
  write_text(dir.file("rec.prom"), recording());
  ProcessResult r = run_setpoint({"eval", "--metrics", dir.file("rec.prom"), "--at",
                                  "2023-11-14T22:20:00Z", "latency_seconds > 0.5"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "latency_seconds{job=\"api\"} 0.8\n");
  r = run_setpoint({"eval", "--metrics", dir.file("rec.prom"), "--at", "1700000300", "--format",
                    "json", "max_over_time(latency_seconds[10m])"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "[{\"labels\":{\"job\":\"api\"},\"value\":0.8}]\n");
  r = run_setpoint({"eval", "--metrics", dir.file("rec.prom"), "--format", "json", "time()"});
  CHECK(r.out == "{\"scalar\":1700001185.0}\n");  // the newest sample's time by default
}

TEST_CASE("eval answers a range query with one series of points per label set") {
  TempDir dir;
  write_text(dir.file("rec.prom"), recording());
  ProcessResult r =
      run_setpoint({"eval", "--metrics", dir.file("rec.prom"), "--start", "1700000280", "--end",
                    "1700000310", "--step", "15s", "--format", "json", "latency_seconds"});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "[{\"labels\":{\"__name__\":\"latency_seconds\",\"job\":\"api\"},\"values\":"
        "[[1700000280.0,0.2],[1700000295.0,0.2],[1700000310.0,0.8]]}]\n");
  // As text, each point with its Unix time in full, as Prometheus prints `value @time`.
  r = run_setpoint({"eval", "--metrics", dir.file("rec.prom"), "--start", "1700000280", "--end",
                    "1700000295", "--step", "15s", "latency_seconds"});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "latency_seconds{job=\"api\"}\n"
        "  0.2 @1700000280\n"
        "  0.2 @1700000295\n");
}

TEST_CASE("eval reports an expression error with a caret and exits 1: a bad time exits 2") {
  TempDir dir;
  write_text(dir.file("rec.prom"), recording());
  ProcessResult r = run_setpoint({"eval", "--metrics", dir.file("rec.prom"), "rate(x[1m]"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("expression:1:28: error[E0100]: expected ')', found end of file") !=
        std::string::npos);
  r = run_setpoint({"eval", "--metrics", dir.file("rec.prom"), "--at", "yesterday", "x"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "setpoint: --at takes RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds\n");
  r = run_setpoint({"eval", "--metrics", dir.file("missing.prom"), "x"});
  CHECK(r.exit_code == 2);
}

TEST_CASE("eval counts and skips a malformed recording line and still answers") {
  TempDir dir;
  write_text(dir.file("rec.prom"), "x 1 1700000000000\nx{ 2 1700000015000\nx 3 1700000030000\n");
  ProcessResult r = run_setpoint({"eval", "--metrics", dir.file("rec.prom"), "x"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "x 3\n");
  CHECK(r.err.find(dir.file("rec.prom") + ":2: ") != std::string::npos);
  CHECK(r.err.find("skipped 1 malformed entry of 3 lines") != std::string::npos);
}

TEST_CASE("simulate replays a recording: pending, firing, one action, and a summary") {
  TempDir dir;
  write_text(dir.file("rec.prom"), recording());
  write_text(dir.file("p.setpoint"), kPolicy);
  ProcessResult r = run_setpoint({"simulate", "--policies", dir.file("p.setpoint"), "--metrics",
                                  dir.file("rec.prom"), "--knob", "cache_ttl=60s"});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "2023-11-14T22:18:20Z cache{job=\"api\"} pending (for 2m)\n"
        "2023-11-14T22:20:20Z cache{job=\"api\"} firing\n"
        "2023-11-14T22:20:20Z cache{job=\"api\"} applied cache_ttl 60 -> 120\n"
        // The recording does not answer the knob: no effect, so no confirmation either.
        "2023-11-14T22:30:20Z cache{job=\"api\"} inconclusive (latency_seconds did not change "
        "(95% CI 0%..0%), p = 1 >= 0.05: inconclusive, not significant (promised 20%))\n"
        "\n"
        "policy                          fired  applied  proposed  confirmed  inconclusive  "
        "regressed  rolled_back\n"
        "cache                               1        1         0          0             1  "
        "        0            0\n");
}

TEST_CASE("simulate replays a recording out of time order as the same recording in order") {
  // One series after the other, as a per-series export writes them: the replay sorts the
  // samples by time and decides exactly as it does on the file in time order.
  std::string by_series = "# TYPE latency_seconds gauge\n", errors;
  for (int k = 0; k < 80; ++k) {
    std::string t = std::to_string((1700000000LL + k * 15) * 1000);
    by_series +=
        "latency_seconds{job=\"api\"} " + std::string(k < 20 ? "0.2" : "0.8") + " " + t + "\n";
    errors += "errors_ratio{job=\"api\"} 0.001 " + t + "\n";
  }
  TempDir dir;
  write_text(dir.file("in_order.prom"), recording());
  write_text(dir.file("by_series.prom"), by_series + errors);
  write_text(dir.file("p.setpoint"), kPolicy);
  ProcessResult in_order =
      run_setpoint({"simulate", "--policies", dir.file("p.setpoint"), "--metrics",
                    dir.file("in_order.prom"), "--knob", "cache_ttl=60s"});
  ProcessResult sorted =
      run_setpoint({"simulate", "--policies", dir.file("p.setpoint"), "--metrics",
                    dir.file("by_series.prom"), "--knob", "cache_ttl=60s"});
  CHECK(in_order.exit_code == 0);
  CHECK(sorted.exit_code == 0);
  CHECK(sorted.err == "");
  CHECK(sorted.out == in_order.out);
  CHECK(sorted.out.find("applied cache_ttl 60 -> 120") != std::string::npos);
}

TEST_CASE("simulate --format json prints one event object per line") {
  TempDir dir;
  write_text(dir.file("rec.prom"), recording());
  write_text(dir.file("p.setpoint"), kPolicy);
  ProcessResult r = run_setpoint({"simulate", "--policies", dir.file("p.setpoint"), "--metrics",
                                  dir.file("rec.prom"), "--format", "json"});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "{\"event\":\"pending\",\"instance\":{\"job\":\"api\"},\"policy\":\"cache\",\"reason\":"
        "\"for 2m\",\"time\":1700000300.0}\n"
        "{\"event\":\"firing\",\"instance\":{\"job\":\"api\"},\"policy\":\"cache\",\"time\":"
        "1700000420.0}\n"
        "{\"event\":\"skipped\",\"instance\":{\"job\":\"api\"},\"policy\":\"cache\",\"reason\":"
        "\"the current value of knob cache_ttl is unknown\",\"time\":1700000420.0}\n");
}

TEST_CASE("simulate refuses an undeclared knob and a policy set with errors") {
  TempDir dir;
  write_text(dir.file("rec.prom"), recording());
  write_text(dir.file("p.setpoint"), kPolicy);
  ProcessResult r = run_setpoint({"simulate", "--policies", dir.file("p.setpoint"), "--metrics",
                                  dir.file("rec.prom"), "--knob", "pool=3"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "setpoint: --knob pool: no policy declares that knob\n");
  write_text(dir.file("bad.setpoint"), "policy x {\n  trigger y > 1\n}\n");
  r = run_setpoint(
      {"simulate", "--policies", dir.file("bad.setpoint"), "--metrics", dir.file("rec.prom")});
  CHECK(r.exit_code == 1);
}

TEST_CASE("simulate --effects lets a replay confirm a good change and roll back a bad one") {
  TempDir dir;
  write_text(dir.file("rec.prom"), recording());
  write_text(dir.file("p.setpoint"), kPolicy);
  write_text(dir.file("good.toml"),
             "[[effect]]\nknob = \"cache_ttl\"\nmetric = \"latency_seconds\"\n"
             "per_doubling = -0.3\ndelay = \"30s\"\n");
  write_text(dir.file("bad.toml"),
             "[[effect]]\nknob = \"cache_ttl\"\nmetric = \"latency_seconds\"\n"
             "per_doubling = 0.5\ndelay = \"30s\"\n");
  ProcessResult good = run_setpoint({"simulate", "--policies", dir.file("p.setpoint"), "--metrics",
                                     dir.file("rec.prom"), "--knob", "cache_ttl=60s", "--effects",
                                     dir.file("good.toml")});
  CHECK(good.exit_code == 0);
  CHECK(good.out.find("2023-11-14T22:30:20Z cache{job=\"api\"} confirmed (latency_seconds fell "
                      "30% (95% CI 30%..30%)") != std::string::npos);
  ProcessResult bad = run_setpoint({"simulate", "--policies", dir.file("p.setpoint"), "--metrics",
                                    dir.file("rec.prom"), "--knob", "cache_ttl=60s", "--effects",
                                    dir.file("bad.toml")});
  CHECK(bad.exit_code == 0);
  CHECK(bad.out.find("2023-11-14T22:30:20Z cache{job=\"api\"} regressed (latency_seconds rose "
                     "50%") != std::string::npos);
  CHECK(bad.out.find("2023-11-14T22:30:20Z cache{job=\"api\"} rolled_back cache_ttl 120 -> 60 "
                     "(validation regressed)\n") != std::string::npos);
}

TEST_CASE("simulate reports an effect model error at its line and column and exits 2") {
  TempDir dir;
  write_text(dir.file("rec.prom"), recording());
  write_text(dir.file("p.setpoint"), kPolicy);
  write_text(dir.file("e.toml"), "[[effect]]\nknob = \"cache_ttl\"\nmetrc = \"latency_seconds\"\n");
  ProcessResult r = run_setpoint({"simulate", "--policies", dir.file("p.setpoint"), "--metrics",
                                  dir.file("rec.prom"), "--effects", dir.file("e.toml")});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(dir.file("e.toml") +
                   ":3:1: unknown key \"metrc\" in [[effect]]; hint: did you mean 'metric'?") !=
        std::string::npos);
  CHECK(r.out.empty());
}

TEST_CASE("the shipped replay example confirms one change and rolls back the other") {
  std::string dir = source_path("examples/replay/");
  ProcessResult r = run_setpoint({"simulate", "--policies", dir + "policies.setpoint", "--metrics",
                                  dir + "recording.prom", "--effects", dir + "effects.toml",
                                  "--knob", "cache_ttl=60s", "--knob", "workers=8"});
  CHECK(r.exit_code == 0);
  CHECK(r.out ==
        "2026-01-01T10:10:00Z cache_hot_endpoints{job=\"api\"} pending (for 2m)\n"
        "2026-01-01T10:10:00Z add_workers{job=\"api\"} pending (for 2m)\n"
        "2026-01-01T10:12:00Z cache_hot_endpoints{job=\"api\"} firing\n"
        "2026-01-01T10:12:00Z cache_hot_endpoints{job=\"api\"} applied cache_ttl 60 -> 120\n"
        "2026-01-01T10:12:00Z add_workers{job=\"api\"} firing\n"
        "2026-01-01T10:12:00Z add_workers{job=\"api\"} applied workers 8 -> 12\n"
        "2026-01-01T10:22:00Z cache_hot_endpoints{job=\"api\"} confirmed (api_p95_latency_seconds "
        "fell 30% (95% CI 28%..31%), p = 2.5e-06 < 0.05: confirmed (promised 20%))\n"
        "2026-01-01T10:22:00Z add_workers{job=\"api\"} regressed (api_cpu_ratio rose 8.2% (95% CI "
        "7.6%..8.9%), p = 2.5e-06 < 0.05: regressed)\n"
        "2026-01-01T10:22:00Z add_workers{job=\"api\"} rolled_back workers 12 -> 8 (validation "
        "regressed)\n"
        "2026-01-01T10:32:00Z add_workers{job=\"api\"} recovered (api_cpu_ratio after the "
        "rollback: median 0.87 (32 samples) against 0.87 (9 samples) before the action, did not "
        "change (95% CI -0.57%..0.57%), p = 0.4 >= 0.05: recovered, not significantly higher than "
        "before the action)\n"
        "\n"
        "policy                          fired  applied  proposed  confirmed  inconclusive  "
        "regressed  rolled_back\n"
        "add_workers                         1        1         0          0             0  "
        "        1            1\n"
        "    after rollbacks: 1 recovered\n"
        "cache_hot_endpoints                 1        1         0          1             0  "
        "        0            0\n");
}

TEST_CASE("simulate --report writes a chart per expression and leaves stdout as it was", "[e2e]") {
  std::string dir = source_path("examples/replay/");
  TempDir out;
  std::vector<std::string> args = {"simulate", "--policies", dir + "policies.setpoint", "--metrics",
                                   dir + "recording.prom"};
  args.insert(args.end(), {"--effects", dir + "effects.toml", "--knob", "cache_ttl=60s", "--knob",
                           "workers=8"});
  ProcessResult plain = run_setpoint(args);
  std::vector<std::string> with_report = args;
  with_report.insert(with_report.end(), {"--report", out.file("r.html")});
  ProcessResult r = run_setpoint(with_report);
  CHECK(r.exit_code == 0);
  CHECK(r.out == plain.out);
  CHECK(r.err == "report written to " + out.file("r.html") + "\n");
  std::string page = read_text(out.file("r.html"));
  // Three expressions: api_p95_latency_seconds (cache_hot_endpoints' trigger and expect),
  // api_error_ratio (its `when`, and both policies' `rollback when` from the defaults) and
  // api_cpu_ratio (add_workers' trigger and expect). The baselines are not charted.
  size_t svgs = 0;
  for (size_t at = page.find("<svg"); at != std::string::npos; at = page.find("<svg", at + 1))
    ++svgs;
  CHECK(svgs == 3);
  CHECK(page.find("<h2>api_p95_latency_seconds</h2>") != std::string::npos);
  CHECK(page.find("<h2>api_error_ratio</h2>") != std::string::npos);
  CHECK(page.find("<h2>api_cpu_ratio</h2>") != std::string::npos);
  CHECK(page.find("add_workers rollback when &gt; baseline + 5%") != std::string::npos);
  CHECK(page.find("cache_hot_endpoints trigger &gt; 500ms</li>") != std::string::npos);
  // add_workers' rollback at 10:22 is marked on its two charts (cpu, and the error ratio).
  size_t rollbacks = 0;
  for (size_t at = page.find("<g class=\"marker rolled_back\">"); at != std::string::npos;
       at = page.find("<g class=\"marker rolled_back\">", at + 1))
    ++rollbacks;
  CHECK(rollbacks == 2);
  CHECK(page.find("<td>add_workers</td><td>1</td><td>1</td><td>0</td><td>0</td><td>0</td><td>1"
                  "</td><td>1</td>") != std::string::npos);
  CHECK(page.find("<script") == std::string::npos);

  // JSON lines on stdout are unchanged too, and a second run writes the same bytes.
  args.insert(args.end(), {"--format", "json"});
  ProcessResult json = run_setpoint(args);
  args.insert(args.end(), {"--report", out.file("r.html")});
  ProcessResult json_report = run_setpoint(args);
  CHECK(json_report.exit_code == 0);
  CHECK(json_report.out == json.out);
  CHECK(read_text(out.file("r.html")) == page);
}

TEST_CASE("simulate --report into a directory that does not exist exits 2 and says why", "[e2e]") {
  std::string dir = source_path("examples/replay/");
  TempDir out;
  ProcessResult r = run_setpoint({"simulate", "--policies", dir + "policies.setpoint", "--metrics",
                                  dir + "recording.prom", "--report", out.file("no/r.html")});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "setpoint: " + out.file("no/r.html") + ": cannot write in " + out.file("no") +
                     ": No such file or directory\n");
  CHECK(r.out.empty());
  r = run_setpoint({"simulate", "--policies", dir + "policies.setpoint", "--metrics",
                    dir + "recording.prom", "--report", out.path()});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "setpoint: " + out.path() + ": is a directory\n");
}
