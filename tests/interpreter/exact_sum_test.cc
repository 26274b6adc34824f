// The exact sum behind sum_over_time and avg_over_time: what fits, correct rounding (ties to
// even, a sticky bit beyond), the remainder, cancellation and removal.
#include "interpreter/exact_sum.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

using namespace setpoint;

TEST_CASE("the exact sum holds the values a metric takes, and refuses the rest", "[exact_sum]") {
  CHECK(ExactSum::fits(0));
  CHECK(ExactSum::fits(-0.0));
  CHECK(ExactSum::fits(0.1));
  CHECK(ExactSum::fits(1e-9));
  CHECK(ExactSum::fits(-123456.789));
  CHECK(ExactSum::fits(std::ldexp(1, -128)));  // the least significant bit
  CHECK_FALSE(ExactSum::fits(std::ldexp(1, -129)));
  CHECK_FALSE(ExactSum::fits(1e-30));  // its lowest bits are below 2^-128
  CHECK(ExactSum::fits(std::ldexp(1, 95)));
  CHECK_FALSE(ExactSum::fits(std::ldexp(1, 96)));
  CHECK_FALSE(ExactSum::fits(1e100));
  CHECK_FALSE(ExactSum::fits(std::numeric_limits<double>::infinity()));
  CHECK_FALSE(ExactSum::fits(std::nan("")));
  CHECK_FALSE(ExactSum::fits(std::numeric_limits<double>::denorm_min()));
  ExactSum sum;
  CHECK_FALSE(sum.add(1e100));
  CHECK(sum.rounded().hi == 0);  // nothing was added
}

TEST_CASE("0.1 + 0.2 lies exactly half-way between two doubles and rounds to the even one",
          "[exact_sum]") {
  ExactSum sum;
  sum.add(0.1);
  sum.add(0.2);
  CHECK(sum.rounded().hi == 0.30000000000000004);
  CHECK(sum.rounded().lo == -std::ldexp(1, -55));
  ExactSum negative;
  negative.add(-0.1);
  negative.add(-0.2);
  CHECK(negative.rounded().hi == -0.30000000000000004);
  CHECK(negative.rounded().lo == std::ldexp(1, -55));
}

TEST_CASE("ten times 0.1 is 1 and a remainder of 2^-54", "[exact_sum]") {
  ExactSum sum;
  for (int i = 0; i < 10; ++i) sum.add(0.1);
  CHECK(sum.rounded().hi == 1.0);
  CHECK(sum.rounded().lo == std::ldexp(1, -54));
}

TEST_CASE("a tie rounds to even, and any bit beyond it rounds up", "[exact_sum]") {
  ExactSum tie;
  tie.add(std::ldexp(1, 53));
  tie.add(1);
  CHECK(tie.rounded().hi == 9007199254740992.0);
  CHECK(tie.rounded().lo == 1.0);
  ExactSum above;
  above.add(std::ldexp(1, 53));
  above.add(1);
  above.add(std::ldexp(1, -60));
  CHECK(above.rounded().hi == 9007199254740994.0);
}

TEST_CASE("large values cancel exactly and removed values leave nothing behind", "[exact_sum]") {
  ExactSum sum;
  sum.add(std::ldexp(1, 90));
  sum.add(1);
  sum.add(-std::ldexp(1, 90));
  CHECK(sum.rounded().hi == 1);
  CHECK(sum.rounded().lo == 0);
  sum.remove(1);
  CHECK(sum.rounded().hi == 0);
  ExactSum many;
  for (int i = 0; i < 1000; ++i) many.add(std::ldexp(1, 95));
  CHECK(many.rounded().hi == 1000 * std::ldexp(1, 95));  // far above what one value may be
  for (int i = 0; i < 1000; ++i) many.add(0.1);
  for (int i = 0; i < 1000; ++i) many.remove(std::ldexp(1, 95));
  // 1000 x double(0.1) is 100 + 5.6e-15, nearer to 100 than to the next double (+1.4e-14).
  CHECK(many.rounded().hi == 100.0);
  CHECK(many.rounded().lo == std::ldexp(200, -55));  // 1000 x 3602879701896397 - 100 x 2^55
}
