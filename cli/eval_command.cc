// `setpoint eval`: one PromQL expression against recorded metrics, at one time or over a range,
// as a Prometheus instant or range query would answer it.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "grammar/literal.h"
#include "grammar/parser.h"
#include "interpreter/evaluator.h"
#include "runtime/metrics_reader.h"
#include "runtime/policy_loader.h"

namespace setpoint {
namespace {

// Prometheus' JSON API writes sample values as strings; we keep numbers, and the three
// values JSON cannot hold as the strings Prometheus uses for them.
nlohmann::json number_json(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return v;
}

std::string number_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.15g", v);
  return buffer;
}

nlohmann::json labels_json(const Labels& labels) {
  nlohmann::json out = nlohmann::json::object();
  for (const Label& l : labels) out[l.name] = l.value;
  return out;
}

double seconds(int64_t t_ms) { return static_cast<double>(t_ms) / 1000.0; }

// "1700000300" or "1700000300.5": a time as Prometheus writes one after a range point's `@`,
// every digit kept (a plain double stream would print 1.7e+09).
std::string seconds_text(int64_t t_ms) {
  if (t_ms < 0) return "-" + seconds_text(-t_ms);
  std::string out = std::to_string(t_ms / 1000);
  int64_t ms = t_ms % 1000;
  if (ms == 0) return out;
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03d", static_cast<int>(ms));
  std::string f = fraction;
  while (f.back() == '0') f.pop_back();
  return out + f;
}

std::optional<int64_t> parse_time(const std::string& text) {
  int64_t ms;
  if (!recorded_time_to_ms(text, ms)) return std::nullopt;
  return ms;
}

std::optional<int64_t> parse_step(const std::string& text) {
  NumberLiteral n = decode_number(text);
  if (!n.ok || (n.unit != Unit::Seconds && n.unit != Unit::None) || !(n.value > 0)) {
    return std::nullopt;
  }
  return static_cast<int64_t>(std::llround(n.value * 1000));
}

struct Query {
  std::vector<Module> modules;
  CheckedProgram checked;
  Program program;
  NodeId root = kNoNode;
  ValueType type = ValueType::Unknown;
};

// The expression is checked as the body of a `let`, so it gets every diagnostic a policy
// would; positions are reported in a file named "expression".
int compile_query(const std::string& text, Query& q) {
  auto file = std::make_shared<const SourceFile>("expression", "let expression = " + text + "\n");
  Diagnostics diags;
  q.modules.push_back(parse_module(file, diags));
  if (!diags.has_errors()) q.checked = check_policy_set(q.modules, diags);
  bool color = use_color(STDERR_FILENO);
  for (const Diagnostic& d : diags.list()) {
    if (d.severity == Severity::Error) std::cerr << render_text(d, color);
  }
  if (diags.has_errors()) return 1;
  const Module& m = q.modules[0];
  if (m.items.size() != 1 || m.items[0].kind != ItemKind::Let) {
    std::cerr << "setpoint: eval takes one expression\n";
    return 2;
  }
  ExprId root = m.items[0].expr;
  q.type = q.checked.exprs[0][root].type;
  q.program = compile_expression(q.modules, q.checked, 0, root, &q.root, diags);
  return 0;
}

void print_vector_text(const Evaluator& ev, const Vector& v) {
  if (v.empty()) std::cout << "(empty vector)\n";
  for (const VectorSample& s : v) {
    std::cout << labels_text(ev.labels(s.labels)) << " " << number_text(s.value) << "\n";
  }
}

}  // namespace

int run_eval(const EvalCommand& cmd) {
  bool range = !cmd.start.empty() || !cmd.end.empty() || !cmd.step.empty();
  if (range && !cmd.at.empty()) {
    std::cerr << "setpoint: eval takes --at or --start/--end/--step, not both\n";
    return 2;
  }
  if (range && (cmd.start.empty() || cmd.end.empty() || cmd.step.empty())) {
    std::cerr << "setpoint: a range query needs all of --start, --end and --step\n";
    return 2;
  }
  Query q;
  if (int status = compile_query(cmd.expression, q)) return status;

  std::optional<MetricsFormat> format;
  if (!cmd.metrics_format.empty()) {
    format = format_from_name(cmd.metrics_format);
    if (!format) {
      std::cerr << "setpoint: --metrics-format takes one of " << kFormatNames << "\n";
      return 2;
    }
  }
  WindowStore store;
  ReadReport report;
  if (!read_metrics_file(cmd.metrics, format, store, report)) {
    for (const std::string& e : report.errors) std::cerr << "setpoint: " << e << "\n";
    return 2;
  }
  for (const std::string& e : report.errors) std::cerr << "setpoint: " << e << "\n";
  if (report.skipped > 0) {
    std::cerr << "setpoint: " << cmd.metrics << ": skipped " << report.skipped << " malformed "
              << (report.skipped == 1 ? "entry" : "entries") << " of " << report.lines
              << " lines\n";
  }

  std::vector<int64_t> times;
  if (range) {
    std::optional<int64_t> start = parse_time(cmd.start), end = parse_time(cmd.end);
    std::optional<int64_t> step = parse_step(cmd.step);
    if (!start || !end) {
      std::cerr << "setpoint: --start and --end take RFC 3339 (2026-01-01T00:00:00Z) or Unix "
                   "seconds\n";
      return 2;
    }
    if (!step) {
      std::cerr << "setpoint: --step takes a positive duration such as 15s or 1m\n";
      return 2;
    }
    if (*end < *start) {
      std::cerr << "setpoint: --end is before --start\n";
      return 2;
    }
    if ((*end - *start) / *step >= 11000) {
      // Prometheus' own limit on points per series in a range query.
      std::cerr << "setpoint: the range has more than 11,000 steps; use a larger --step\n";
      return 2;
    }
    for (int64_t t = *start; t <= *end; t += *step) times.push_back(t);
  } else {
    std::optional<int64_t> at;
    if (cmd.at.empty()) {
      at = store.newest_ms();
      if (!at) {
        std::cerr << "setpoint: " << cmd.metrics << " holds no samples; give --at\n";
        return 2;
      }
    } else {
      at = parse_time(cmd.at);
    }
    if (!at) {
      std::cerr << "setpoint: --at takes RFC 3339 (2026-01-01T00:00:00Z) or Unix seconds\n";
      return 2;
    }
    times.push_back(*at);
  }

  Evaluator evaluator(q.modules, q.program, store);
  bool json = cmd.format == "json";
  try {
    if (!range) {
      evaluator.at(times[0]);
      const Value& v = evaluator.value(q.root);
      if (v.type == ValueType::Scalar) {
        if (json) {
          std::cout << nlohmann::json{{"scalar", number_json(v.scalar)}}.dump() << "\n";
        } else {
          std::cout << "scalar " << number_text(v.scalar) << "\n";
        }
      } else if (v.type == ValueType::String) {
        if (json) {
          std::cout << nlohmann::json{{"string", v.string}}.dump() << "\n";
        } else {
          std::cout << v.string << "\n";
        }
      } else if (v.type == ValueType::Matrix) {
        nlohmann::json out = nlohmann::json::array();
        for (const Matrix::Series& series : v.matrix.series) {
          const Labels& labels = evaluator.labels(series.labels);
          nlohmann::json values = nlohmann::json::array();
          if (!json) std::cout << labels_text(labels) << "\n";
          for (uint32_t i = series.begin; i < series.end; ++i) {
            const Sample& p = v.matrix.points[i];
            values.push_back({seconds(p.t_ms), number_json(p.value)});
            if (!json)
              std::cout << "  " << number_text(p.value) << " @" << seconds_text(p.t_ms) << "\n";
          }
          out.push_back({{"labels", labels_json(labels)}, {"values", values}});
        }
        if (json) std::cout << out.dump() << "\n";
      } else if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const VectorSample& s : v.vector) {
          out.push_back({{"labels", labels_json(evaluator.labels(s.labels))},
                         {"value", number_json(s.value)}});
        }
        std::cout << out.dump() << "\n";
      } else {
        print_vector_text(evaluator, v.vector);
      }
      return 0;
    }
    // A range query: the instant query at every step, series joined by their labels.
    std::map<Labels, std::vector<std::pair<int64_t, double>>> series;
    std::vector<Labels> order;
    for (int64_t t : times) {
      evaluator.at(t);
      const Value& v = evaluator.value(q.root);
      if (v.type == ValueType::Matrix || v.type == ValueType::String) {
        std::cerr << "setpoint: a range query needs an expression of scalar or instant vector "
                     "type\n";
        return 2;
      }
      auto add = [&](const Labels& l, double value) {
        auto [it, fresh] = series.try_emplace(l);
        if (fresh) order.push_back(l);
        it->second.emplace_back(t, value);
      };
      if (v.type == ValueType::Scalar) {
        add({}, v.scalar);
      } else {
        for (const VectorSample& s : v.vector) add(evaluator.labels(s.labels), s.value);
      }
    }
    std::sort(order.begin(), order.end());
    nlohmann::json out = nlohmann::json::array();
    for (const Labels& l : order) {
      nlohmann::json values = nlohmann::json::array();
      for (auto [t, value] : series[l]) values.push_back({seconds(t), number_json(value)});
      if (json) {
        out.push_back({{"labels", labels_json(l)}, {"values", values}});
      } else {
        std::cout << labels_text(l) << "\n";
        for (auto [t, value] : series[l])
          std::cout << "  " << number_text(value) << " @" << seconds_text(t) << "\n";
      }
    }
    if (json) std::cout << out.dump() << "\n";
    if (!json && order.empty()) std::cout << "(no series)\n";
  } catch (const EvalError& e) {
    std::cerr << "setpoint: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace setpoint
