// Bad input never crashes or hangs the front end. A deterministic mutation run over the shipped
// policies and fixtures, plus inputs built to hit the limits; the libFuzzer target in
// tests/fuzz explores further with the same invariants.
#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "grammar/parser.h"
#include "support/fixtures.h"
#include "support/roundtrip.h"

using namespace setpoint;
using namespace setpoint::test;

namespace {

std::vector<std::string> corpus() {
  std::vector<std::string> out;
  for (const char* dir : {"policies", "tests/fixtures"}) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(source_path(dir))) {
      if (e.is_regular_file() && e.path().extension() == ".setpoint")
        out.push_back(read_text(e.path().string()));
    }
  }
  return out;
}

std::string mutate(const std::string& text, std::mt19937& rng) {
  static const std::string pieces[] = {"(",  ")",   "{",        "}",   "[",          "]",     "\"",
                                       "'",  "`",   "#",        "\n",  " or ",       " and ", " > ",
                                       "5m", "80%", "baseline", "for", "policy x {", "let",   "\\",
                                       ",",  "..",  "1e",       "0x",  "offset",     "by (",  "=~"};
  std::string s = text;
  if (s.empty()) return pieces[rng() % std::size(pieces)];
  size_t at = rng() % s.size();
  switch (rng() % 5) {
    case 0:
      s.erase(at, 1 + rng() % 8);
      break;
    case 1:
      s.insert(at, pieces[rng() % std::size(pieces)]);
      break;
    case 2:
      s.resize(at);
      break;
    case 3:
      s[at] = static_cast<char>(rng() % 128);
      break;
    default:
      s.insert(at, s.substr(rng() % s.size(), rng() % 40));
      break;
  }
  return s;
}

}  // namespace

TEST_CASE("mutated policies never break the front end's invariants") {
  std::vector<std::string> files = corpus();
  REQUIRE(files.size() >= 20);
  std::mt19937 rng(20261123);
  size_t runs = 0;
  for (const std::string& original : files) {
    std::string text = original;
    for (int i = 0; i < 60; ++i) {
      text = (i % 10 == 0) ? mutate(original, rng) : mutate(text, rng);
      std::string broken = frontend_roundtrip(text);
      INFO("input:\n" << text);
      REQUIRE(broken.empty());
      ++runs;
    }
  }
  CHECK(runs == files.size() * 60);
}

TEST_CASE("deep nesting is a diagnostic, not a stack overflow") {
  for (const char* open : {"(", "-", "abs(", "sum(", "2^"}) {
    std::string text = "let x = ";
    for (int i = 0; i < 100000; ++i) text += open;
    text += "1\n";
    Diagnostics d;
    parse_text(text, d);
    REQUIRE(d.list().size() == 1);
    CHECK(d.list()[0].code == Code::TooDeep);
  }
}

TEST_CASE("an oversized file is refused before parsing") {
  Diagnostics d;
  ParseLimits limits;
  limits.max_bytes = 1000;
  parse_module(std::make_shared<const SourceFile>("big.setpoint", std::string(1001, '#')), d,
               limits);
  REQUIRE(d.list().size() == 1);
  CHECK(d.list()[0].code == Code::TooLarge);
  CHECK(d.list()[0].message == "file is 1001 bytes; the limit is 1000");
}

TEST_CASE("invalid UTF-8 is reported at the first bad byte") {
  for (std::string bad : {std::string("\xff"), std::string("\xc3"), std::string("\xed\xa0\x80"),
                          std::string("\xc0\xaf")}) {
    Diagnostics d;
    parse_text("let x = 1 # ok\nlet y = \"" + bad + "\"\n", d);
    REQUIRE(d.list().size() == 1);
    CHECK(d.list()[0].code == Code::InvalidUtf8);
    CHECK(d.list()[0].file->position(d.list()[0].span.begin).line == 2);
    CHECK(d.list()[0].file->position(d.list()[0].span.begin).column == 10);
  }
}

TEST_CASE("hostile shapes finish with diagnostics") {
  std::vector<std::string> inputs = {
      std::string(200000, '{'),
      std::string(200000, '"'),
      std::string("let x = ") + std::string(100000, 'a'),
      std::string("\0\0\0", 3),
      "policy",
      "let",
      "knob k : int in",
      "policy p { trigger",
      "emergency e {",
      std::string(50000, '\n') + "polcy",
  };
  for (const std::string& in : inputs) {
    CHECK(frontend_roundtrip(in).empty());
  }
}
