#include "grammar/formatter.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "grammar/parser.h"
#include "support/fixtures.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

std::string format(const std::string& text) {
  Diagnostics d;
  Module m = parse_text(text, d);
  REQUIRE_FALSE(d.has_errors());
  return format_module(m);
}

std::vector<std::string> files_in(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(source_path(dir))) {
    std::string p = e.path().string();
    if (p.size() > suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("formatter output matches the golden files") {
  auto inputs = files_in("tests/fixtures/fmt", ".input.setpoint");
  REQUIRE(inputs.size() >= 3);
  for (const std::string& input : inputs) {
    std::string expected_path =
        input.substr(0, input.size() - std::string(".input.setpoint").size()) +
        ".expected.setpoint";
    INFO(input);
    std::string actual = format(read_text(input));
    if (std::getenv("SETPOINT_UPDATE_GOLDEN")) write_text(expected_path, actual);
    CHECK(actual == read_text(expected_path));
  }
}

TEST_CASE("formatting is idempotent, keeps every comment and never changes the program") {
  std::vector<std::string> files = files_in("tests/fixtures/fmt", ".setpoint");
  for (const std::string& f : files_in("policies", ".setpoint")) files.push_back(f);
  for (const std::string& f : files_in("examples", ".setpoint")) files.push_back(f);
  REQUIRE(files.size() >= 6);
  for (const std::string& path : files) {
    INFO(path);
    Diagnostics d1, d2;
    Module original = parse_text(read_text(path), d1);
    REQUIRE_FALSE(d1.has_errors());
    std::string once = format_module(original);
    Module reparsed = parse_text(once, d2);
    REQUIRE_FALSE(d2.has_errors());
    CHECK(dump_module(reparsed) == dump_module(original));
    CHECK(reparsed.comments.size() == original.comments.size());
    CHECK(format_module(reparsed) == once);
  }
}

TEST_CASE("shipped policies are already formatted") {
  for (const std::string& path : files_in("policies", ".setpoint")) {
    INFO(path);
    std::string text = read_text(path);
    CHECK(format(text) == text);
  }
}

TEST_CASE("a long or-chain is broken one operand per line with aligned operators") {
  std::string in =
      "let very_long_condition_name = some_metric_with_a_long_name > 100 or "
      "another_metric_with_a_long_name < 5 or third > 1\n";
  CHECK(format(in) ==
        "let very_long_condition_name = some_metric_with_a_long_name > 100\n"
        "                            or another_metric_with_a_long_name < 5\n"
        "                            or third > 1\n");
}

TEST_CASE("trailing grouping moves before the arguments, spacing is normalised") {
  CHECK(format("let a=sum(rate(x [5m]))by(job,instance)\n") ==
        "let a = sum by (job, instance) (rate(x[5m]))\n");
  CHECK(format("let b = x{a='1',b=~\"2\",}\n") == "let b = x{a='1', b=~\"2\"}\n");
  CHECK(format("let c = a>bool  on(x)  b\n") == "let c = a > bool on (x) b\n");
}
