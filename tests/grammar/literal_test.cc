#include "grammar/literal.h"

#include <catch2/catch.hpp>
#include <cmath>

using namespace setpoint;

TEST_CASE("durations decode to seconds, compound ones largest unit first") {
  CHECK(decode_number("500ms").value == Approx(0.5));
  CHECK(decode_number("30s").value == 30);
  CHECK(decode_number("5m").value == 300);
  CHECK(decode_number("1h30m").value == 5400);
  CHECK(decode_number("1.5h").value == 5400);
  CHECK(decode_number("2d").value == 172800);
  CHECK(decode_number("1w").value == 604800);
  CHECK(decode_number("1y").value == 31536000);
  CHECK(decode_number("5m").unit == Unit::Seconds);
}

TEST_CASE("percentages decode to ratios and sizes to bytes") {
  NumberLiteral p = decode_number("80%");
  CHECK(p.unit == Unit::Percent);
  CHECK(p.value == Approx(0.8));
  CHECK(decode_number("1KB").value == 1000);
  CHECK(decode_number("1KiB").value == 1024);
  CHECK(decode_number("512MiB").value == 512.0 * 1024 * 1024);
  CHECK(decode_number("2GB").value == 2e9);
  CHECK(decode_number("1GiB").unit == Unit::Bytes);
}

TEST_CASE("plain numbers: decimals, exponents, hex, Inf and NaN") {
  CHECK(decode_number("0.95").value == Approx(0.95));
  CHECK(decode_number(".5").value == Approx(0.5));
  CHECK(decode_number("1e3").value == 1000);
  CHECK(decode_number("2.5e-3").value == Approx(0.0025));
  CHECK(decode_number("0x1f").value == 31);
  CHECK(std::isinf(decode_number("Inf").value));
  CHECK(std::isnan(decode_number("NaN").value));
  CHECK(decode_number("42").unit == Unit::None);
}

TEST_CASE("an unknown unit is reported at the unit with the usual spelling as hint") {
  NumberLiteral n = decode_number("5min");
  REQUIRE_FALSE(n.ok);
  CHECK(n.error == "unknown unit 'min'");
  CHECK(n.error_offset == 1);
  CHECK(n.error_length == 3);
  CHECK(n.hint == "write 'm'");
}

TEST_CASE("compound durations must descend") {
  NumberLiteral n = decode_number("30m1h");
  REQUIRE_FALSE(n.ok);
  CHECK(n.error == "units of a compound duration must go from largest to smallest, each once");
  CHECK(n.error_offset == 4);
}

TEST_CASE("strings decode Go escapes: raw strings take none") {
  CHECK(decode_string(R"("a\"b")").value == "a\"b");
  CHECK(decode_string(R"('it\'s')").value == "it's");
  CHECK(decode_string(R"("tab\there")").value == "tab\there");
  CHECK(decode_string(R"("\x41\u00e9\101")").value ==
        "A\xc3\xa9"
        "A");
  CHECK(decode_string(R"(`\d+`)").value == "\\d+");
}

TEST_CASE("an unknown escape is reported at the backslash") {
  StringLiteral s = decode_string(R"("ab\qc")");
  REQUIRE_FALSE(s.ok);
  CHECK(s.error == "unknown escape sequence '\\q'");
  CHECK(s.error_offset == 3);
  CHECK(s.error_length == 2);
}

TEST_CASE("a percent sign glued to a number is a percentage, not modulo") {
  NumberLiteral n = decode_number("5%2");
  REQUIRE_FALSE(n.ok);
  CHECK(n.error == "a percentage ends at '%'");
  CHECK(n.hint == "for the modulo operator, put spaces around it: 5 % 2");
}
