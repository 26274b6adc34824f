// The conjunction fast path (interpreter/conjunction.cc) must give exactly what PromQL gives:
// comparisons with constants and `and` between them, over vectors longer than one 64-element
// mask word, with operands in other orders, missing series, several matches per signature,
// NaN, and filters shared by several policies evaluated in one pass.
#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>

#include "grammar/parser.h"
#include "interpreter/evaluator.h"
#include "runtime/policy_loader.h"

using namespace setpoint;

namespace {

constexpr int kInstances = 150;  // two full mask words and a partial one

double value_a(int i) { return (i * 37) % 100; }
double value_b(int i) { return (i * 53) % 100; }

struct Fixture {
  WindowStore store;
  std::vector<Module> modules;
  Program program;
  std::unique_ptr<Evaluator> ev;

  // b exists for even instances only and is registered in reverse order; c has two series per
  // instance (`half` 0 and 1) with the same `i`.
  Fixture() {
    for (int i = 0; i < kInstances; ++i) {
      uint32_t id = store.series({{"__name__", "a"}, {"i", std::to_string(i)}});
      store.sample(id, 0, i == 7 ? NAN : value_a(i));
    }
    for (int i = kInstances - 1; i >= 0; --i) {
      if (i % 2 != 0) continue;
      uint32_t id = store.series({{"__name__", "b"}, {"i", std::to_string(i)}});
      store.sample(id, 0, value_b(i));
    }
    for (int i = 0; i < kInstances; ++i) {
      for (int half = 0; half < 2; ++half) {
        uint32_t id = store.series(
            {{"__name__", "c"}, {"half", std::to_string(half)}, {"i", std::to_string(i)}});
        store.sample(id, 0, i % 3 == 0 ? half : 5);
      }
    }
  }

  // Compiles one policy per trigger; returns each trigger's result at t=0 as sorted lines.
  std::vector<std::string> evaluate(const std::vector<std::string>& triggers) {
    std::string text;
    for (size_t p = 0; p < triggers.size(); ++p) {
      text += "policy p" + std::to_string(p) + " {\n  trigger " + triggers[p] +
              "\n  action notify \"x\"\n}\n";
    }
    Diagnostics diags;
    modules.push_back(parse_module(std::make_shared<const SourceFile>("t.setpoint", text), diags));
    check_policy_set(modules, diags, &program);
    REQUIRE_FALSE(diags.has_errors());
    ev = std::make_unique<Evaluator>(modules, program, store);
    ev->at(0);
    std::vector<std::string> out;
    for (const PolicyPlan& plan : program.policies) {
      NodeId condition =
          boost::source(*boost::in_edges(plan.trigger, program.graph).first, program.graph);
      std::vector<std::string> lines;
      for (const VectorSample& s : ev->value(condition).vector) {
        std::ostringstream line;
        line << labels_text(ev->labels(s.labels)) << " " << s.value << " @" << s.t_ms;
        lines.push_back(line.str());
      }
      std::sort(lines.begin(), lines.end());
      std::string joined;
      for (const std::string& l : lines) joined += l + "\n";
      out.push_back(joined);
      ev->drop(condition);
    }
    return out;
  }
};

std::string expected_a(bool (*keep)(int)) {
  std::vector<std::string> lines;
  for (int i = 0; i < kInstances; ++i) {
    if (!keep(i)) continue;
    std::ostringstream line;
    line << "a{i=\"" << i << "\"} " << (i == 7 ? NAN : value_a(i)) << " @0";
    lines.push_back(line.str());
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

}  // namespace

TEST_CASE("comparisons joined by and keep the left samples whose labels match a kept right one") {
  Fixture f;
  std::vector<std::string> got = f.evaluate({
      "a > 40.5 and b < 60.5",  // b: even instances, in reverse order
      "40.5 < a and 60.5 > b",  // the constants on the left
      "a >= 50 and a <= 80",    // one operand on both sides: aligned element by element
      "a != 3 and a == a",      // NaN != 3 holds; NaN == NaN does not (a == a is a join)
      "a > 40.5 and b < 60.5 and on(i) c > 2",  // nested; c has two series per instance
      "a < 50 and on(i) c < 0.5",               // on(): several c series share a signature
      "a > 40.5 and b < 60.5",                  // the same trigger again: shared nodes, same answer
      "a > 40.5 and c > 2",                     // c has a `half` label a lacks: nothing matches
  });
  REQUIRE(got.size() == 8);
  auto both = [](int i) { return i != 7 && value_a(i) > 40.5 && i % 2 == 0 && value_b(i) < 60.5; };
  CHECK(got[0] == expected_a(both));
  CHECK(got[1] == expected_a(both));
  CHECK(got[2] == expected_a([](int i) { return i != 7 && value_a(i) >= 50 && value_a(i) <= 80; }));
  // `a == a` is a vector comparison, not a constant one: it drops NaN (NaN == NaN is false),
  // so instance 7 goes although NaN != 3 holds.
  CHECK(got[3] == expected_a([](int i) { return i != 7 && value_a(i) != 3; }));
  CHECK(got[4] == expected_a([](int i) {
          return i != 7 && value_a(i) > 40.5 && i % 2 == 0 && value_b(i) < 60.5 && i % 3 != 0;
        }));
  CHECK(got[5] == expected_a([](int i) { return i != 7 && value_a(i) < 50 && i % 3 == 0; }));
  CHECK(got[6] == got[0]);
  CHECK(got[7] == "");
  CHECK(!got[0].empty());
}

TEST_CASE("a constant comparison keeps NaN only for !=") {
  Fixture f;
  std::vector<std::string> got = f.evaluate({"a != 3 and a != 4", "a > -1 and a != 3"});
  CHECK(got[0] == expected_a([](int i) { return i == 7 || (value_a(i) != 3 && value_a(i) != 4); }));
  CHECK(got[1] == expected_a([](int i) { return i != 7 && value_a(i) != 3; }));
}
