// The one `setpoint` binary: subcommands over the policy front end (and, later, the engine).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"setpoint: safe, validated performance optimization policies"};
  app.set_version_flag("--version", "setpoint 0.1.0");
  app.require_subcommand(1);

  setpoint::CheckCommand check;
  auto* check_cmd = app.add_subcommand("check", "Check policy files for errors and warnings");
  check_cmd->add_option("--format", check.format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  check_cmd->add_option("--config", check.config,
                        "A daemon config (setpoint.toml): check it with the policies it names");
  check_cmd->add_option("paths", check.paths,
                        "Policy files, or directories searched for *.setpoint");

  setpoint::FmtCommand fmt;
  auto* fmt_cmd = app.add_subcommand("fmt", "Rewrite policy files in the canonical layout");
  fmt_cmd->add_flag("--check", fmt.check,
                    "List files that are not formatted and exit 1; change nothing");
  fmt_cmd->add_flag("--diff", fmt.diff,
                    "Print what would change as a unified diff; change nothing");
  fmt_cmd->add_option("paths", fmt.paths, "Policy files or directories; - formats standard input")
      ->required();

  setpoint::ListCommand list;
  auto* list_cmd = app.add_subcommand("list", "Show what the policies in a set do");
  list_cmd->add_option("paths", list.paths, "Policy files or directories")->required();

  setpoint::GraphCommand graph;
  auto* graph_cmd =
      app.add_subcommand("graph", "Show the compiled dependency graph of a policy set");
  graph_cmd->add_option("--format", graph.format, "Output format")
      ->check(CLI::IsMember({"text", "json", "dot"}))
      ->default_str("text");
  graph_cmd->add_flag("--stats", graph.stats, "Count nodes by kind and what sharing saved");
  graph_cmd->add_option("paths", graph.paths, "Policy files or directories")->required();

  setpoint::EvalCommand eval;
  auto* eval_cmd = app.add_subcommand(
      "eval", "Evaluate one PromQL expression against recorded metrics, as Prometheus would");
  eval_cmd->add_option("--metrics", eval.metrics, "Recorded metrics file")->required();
  eval_cmd->add_option("--metrics-format", eval.metrics_format,
                       "prom | openmetrics | csv | jsonl | query_range (default: detected)");
  eval_cmd->add_option("--at", eval.at,
                       "Evaluation time, RFC 3339 or Unix seconds (default: the newest sample)");
  eval_cmd->add_option("--start", eval.start, "Range query start (RFC 3339 or Unix seconds)");
  eval_cmd->add_option("--end", eval.end, "Range query end");
  eval_cmd->add_option("--step", eval.step, "Range query step, such as 15s or 1m");
  eval_cmd->add_option("--format", eval.format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  eval_cmd->add_option("expression", eval.expression, "A PromQL expression")->required();

  setpoint::SimulateCommand simulate;
  auto* simulate_cmd = app.add_subcommand(
      "simulate", "Replay recorded metrics through the policies with a virtual clock");
  simulate_cmd->add_option("--policies", simulate.policies, "Policy files or directories")
      ->required();
  simulate_cmd->add_option("--metrics", simulate.metrics, "Recorded metrics file")->required();
  simulate_cmd->add_option("--from", simulate.from, "Start (default: the first sample)");
  simulate_cmd->add_option("--to", simulate.to, "End (default: the last sample)");
  auto* step_option = simulate_cmd->add_option(
      "--step", simulate.step,
      "Evaluation interval (default: a run recording's own times, or 15s)");
  simulate_cmd->add_option("--knob", simulate.knobs, "A knob's value at the start, NAME=VALUE");
  simulate_cmd->add_option("--effects", simulate.effects,
                           "An effect model (TOML): how knob changes move the metrics");
  simulate_cmd
      ->add_option("--format", simulate.format,
                   "Output format: the timeline and summary as text, the events as "
                   "JSON lines, or the summary alone")
      ->check(CLI::IsMember({"text", "json", "summary"}))
      ->default_str("text");
  simulate_cmd->add_option("--report", simulate.report,
                           "Write a self-contained HTML report with a chart per metric");

  setpoint::TestCommand test;
  auto* test_cmd =
      app.add_subcommand("test", "Run policy unit tests: input series and expected events");
  test_cmd->add_option("paths", test.paths, "Test files, or directories searched for *test*.toml")
      ->required();

  setpoint::AuditCommand audit;
  auto* audit_cmd = app.add_subcommand("audit", "Inspect the daemon's audit log");
  audit_cmd->require_subcommand(1);
  auto* audit_verify_cmd =
      audit_cmd->add_subcommand("verify", "Check the audit log's hash chain for tampering");
  audit_verify_cmd->add_option("--state", audit.state_file, "The daemon's state file")->required();

  setpoint::RunCommand run;
  auto* run_cmd = app.add_subcommand("run", "Run the daemon: watch live metrics and act");
  run_cmd->add_option("--config", run.config, "The daemon config (setpoint.toml)")->required();
  run_cmd->add_flag("--dry-run", run.dry_run,
                    "Never touch an actuator; log what would have been done");
  run_cmd->add_option("--duration", run.duration, "Stop after this long, as on SIGTERM (90s)");
  run_cmd->add_option("--record", run.record,
                      "At exit, write the samples seen and when each evaluation ran, for simulate");
  run_cmd->add_option("--report", run.report, "At exit, write an HTML report (as simulate's)");
  run_cmd->add_flag("--live", run.live,
                    "Show events and policy states on stdout, and a summary at exit");

  setpoint::CtlCommand ctl;
  auto* ctl_cmd = app.add_subcommand("ctl", "Talk to a running daemon's control API");
  ctl_cmd->add_option("--config", ctl.config, "The daemon config: its listener and token file");
  ctl_cmd->add_option("--address", ctl.address, "host:port or unix:/path (instead of --config)");
  ctl_cmd->add_option("--token-file", ctl.token_file, "The bearer token (instead of --config)");
  ctl_cmd->add_option("--format", ctl.format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->default_str("text");
  ctl_cmd->add_option("-o,--output", ctl.output,
                      "report: write the HTML page to this file (default: standard output)");
  ctl_cmd
      ->add_option("command", ctl.words,
                   "status | policies | history | events | metrics | report [-o FILE] | "
                   "pause [POLICY] | resume [POLICY] | approve ID | reject ID | rollback ID | "
                   "emergency-stop [SINCE] | release POLICY | reload")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (app.got_subcommand(check_cmd)) return setpoint::run_check(check);
  if (app.got_subcommand(fmt_cmd)) return setpoint::run_fmt(fmt);
  if (app.got_subcommand(list_cmd)) return setpoint::run_list(list);
  if (app.got_subcommand(graph_cmd)) return setpoint::run_graph(graph);
  if (app.got_subcommand(eval_cmd)) return setpoint::run_eval(eval);
  if (app.got_subcommand(simulate_cmd)) {
    simulate.step_given = step_option->count() > 0;
    return setpoint::run_simulate(simulate);
  }
  if (app.got_subcommand(test_cmd)) return setpoint::run_test(test);
  if (app.got_subcommand(audit_cmd)) return setpoint::run_audit_verify(audit);
  if (app.got_subcommand(run_cmd)) return setpoint::run_daemon(run);
  if (app.got_subcommand(ctl_cmd)) return setpoint::run_ctl(ctl);
  return 2;
}
