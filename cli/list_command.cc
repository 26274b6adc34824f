// `setpoint list`: what a policy set contains, in the words of its own clauses.
#include <unistd.h>

#include <iostream>

#include "cli/commands.h"
#include "grammar/formatter.h"
#include "runtime/policy_loader.h"

namespace setpoint {
namespace {

const char* mode_name(Mode mode) {
  return mode == Mode::Auto ? "auto" : mode == Mode::Propose ? "propose" : "dry-run";
}

std::string count(size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void print_clause_line(const Module& m, const Clause& c, const char* note = "") {
  std::string body;
  switch (c.kind) {
    case ClauseKind::Trigger:
      body = format_expr(m, c.expr) +
             (c.duration.present ? " for " + std::string(c.duration.text) : "");
      break;
    case ClauseKind::When:
    case ClauseKind::Rollback:
      body = format_expr(m, c.expr);
      break;
    case ClauseKind::During:
    case ClauseKind::Description:
      body = c.string_value;
      break;
    case ClauseKind::Action:
      switch (c.action) {
        case ActionKind::Set:
          body = "set " + std::string(c.name.text) + " = " + format_expr(m, c.expr);
          break;
        case ActionKind::Run:
          body = "run " + std::string(c.name.text) + "(...)";
          break;
        case ActionKind::Notify:
          body = "notify " +
                 (c.name.text.empty() ? std::string() : std::string(c.name.text) + " ") +
                 c.string_value;
          break;
        case ActionKind::RollbackAll:
          body = "roll back every action of the last " + std::string(c.duration.text);
          break;
      }
      break;
    case ClauseKind::Expect:
      body = format_expr(m, c.expr) +
             (c.direction == Direction::Decreases ? " decreases by " : " increases by ") +
             std::string(c.number_text) + " within " + std::string(c.duration.text);
      break;
    case ClauseKind::Cooldown:
    case ClauseKind::Pause:
      body = std::string(c.duration.text);
      break;
    case ClauseKind::Limit:
      body = std::string(c.number_text) + " per " + std::string(c.duration.text);
      break;
    case ClauseKind::After:
      for (const Name& n : c.names) body += (body.empty() ? "" : ", ") + std::string(n.text);
      break;
    case ClauseKind::Quarantine:
      if (c.verdict_rule == VerdictRule::OnInconclusive) {
        body = c.rollback ? "rollback" : "keep";
        break;
      }
      body = c.rollback ? "and rollback after " : "after ";
      for (size_t i = 0; i < c.limits.size(); ++i) {
        if (i > 0) body += ", ";
        body += std::string(c.limits[i].count_text) + " " + std::string(c.limits[i].words);
      }
      break;
    case ClauseKind::Priority:
    case ClauseKind::Mode:
      return;  // shown in the heading
  }
  std::string label = c.kind == ClauseKind::Pause ? "pause" : clause_keyword(c);
  label.resize(std::max<size_t>(label.size(), 12), ' ');
  std::cout << "    " << label << body << note << "\n";
}

}  // namespace

int run_list(const ListCommand& cmd) {
  PolicySet set;
  if (int status = load_error_free(cmd.paths, set)) return status;
  size_t policies = 0, emergencies = 0;
  for (const Module& m : set.modules) {
    std::cout << m.file->path() << "\n";
    const Item* defaults = nullptr;
    for (const Item& it : m.items) {
      if (it.kind == ItemKind::Defaults) defaults = &it;
    }
    for (const Item& it : m.items) {
      if (it.kind == ItemKind::Knob) {
        std::cout << "  knob " << it.name.text << " : " << it.type_name.text << " in "
                  << format_expr(m, it.min) << ".." << format_expr(m, it.max) << "\n";
      }
    }
    for (const Item& it : m.items) {
      if (it.kind != ItemKind::Policy && it.kind != ItemKind::Emergency) continue;
      (it.kind == ItemKind::Policy ? policies : emergencies)++;
      // A policy's own mode wins; otherwise its file's defaults decide; otherwise auto.
      std::string mode = "auto", priority = "0";
      for (const Item* source : {defaults, &it}) {
        if (!source || (source == defaults && it.kind != ItemKind::Policy)) continue;
        for (const Clause& c : source->clauses) {
          if (c.kind == ClauseKind::Mode) mode = mode_name(c.mode);
          if (c.kind == ClauseKind::Priority) priority = std::string(c.number_text);
        }
      }
      std::cout << "  " << (it.kind == ItemKind::Policy ? "policy " : "emergency ") << it.name.text
                << "  (priority " << priority << ", mode " << mode << ")\n";
      for (const Clause& c : it.clauses) print_clause_line(m, c);
      if (defaults && it.kind == ItemKind::Policy) {
        for (const Clause& c : defaults->clauses) {
          print_clause_line(m, c, "  (from defaults)");
        }
      }
    }
  }
  std::cout << count(set.modules.size(), "file", "files") << ", "
            << count(policies, "policy", "policies") << ", "
            << count(emergencies, "emergency", "emergencies") << "\n";
  return 0;
}

}  // namespace setpoint
