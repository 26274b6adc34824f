#include "interpreter/exact_sum.h"

#include <bit>
#include <cmath>

namespace setpoint {

namespace {

constexpr int kFractionBits = 128;  // the fixed point's least significant bit is 2^-128
constexpr int kValueBits = 224;     // a value that fits lies below bit 224 (2^96)

// A nonzero finite double as m * 2^(shift - 128) with m odd, or false when it has bits outside
// [0, kValueBits) of the fixed point. Zero fits, as m = 0.
bool decompose(double v, uint64_t& m, int& shift) {
  uint64_t bits = std::bit_cast<uint64_t>(v);
  int exponent = static_cast<int>((bits >> 52) & 0x7ff);
  uint64_t mantissa = bits & ((uint64_t{1} << 52) - 1);
  m = 0;
  shift = 0;
  if (exponent == 0x7ff) return false;      // Inf, NaN
  if (exponent == 0) return mantissa == 0;  // zero fits; subnormals are far below 2^-128
  m = mantissa | (uint64_t{1} << 52);
  shift = exponent - 1075 + kFractionBits;
  int zeros = std::countr_zero(m);
  m >>= zeros;
  shift += zeros;
  return shift >= 0 && shift + std::bit_width(m) <= kValueBits;
}

double power_of_two(int e) { return std::bit_cast<double>(static_cast<uint64_t>(1023 + e) << 52); }

}  // namespace

bool ExactSum::fits(double v) {
  uint64_t m;
  int shift;
  return decompose(v, m, shift);
}

bool ExactSum::accumulate(double v, int64_t sign) {
  uint64_t m;
  int shift;
  if (!decompose(v, m, shift)) return false;
  if (m == 0) return true;
  if (v < 0) sign = -sign;
  int limb = shift / 32, offset = shift % 32;
  // m * 2^offset has at most 53 + 31 bits: three limbs' worth, the highest below limb 8.
  uint64_t low = m << offset;
  uint64_t high = offset ? m >> (64 - offset) : 0;
  limbs_[limb] += sign * static_cast<int64_t>(low & 0xffffffff);
  limbs_[limb + 1] += sign * static_cast<int64_t>(low >> 32);
  limbs_[limb + 2] += sign * static_cast<int64_t>(high);
  return true;
}

ExactSum::Rounded ExactSum::rounded() const {
  // Carries propagated: 32-bit digits and a sign. Every limb is a sum of up to a window's
  // 32-bit chunks, far from overflowing 64 bits.
  constexpr int kWords = kLimbs / 2;
  uint64_t w[kWords] = {};
  int64_t carry = 0;
  for (int i = 0; i < kLimbs; ++i) {
    int64_t x = limbs_[i] + carry;
    w[i / 2] |= static_cast<uint64_t>(static_cast<uint32_t>(x)) << (32 * (i % 2));
    carry = x >> 32;  // floor division: the digit is x mod 2^32
  }
  bool negative = carry < 0;  // the sum is below 2^255 in magnitude: carry is 0 or -1
  if (negative) {             // the two's complement of the digits is the magnitude
    uint64_t c = 1;
    for (uint64_t& word : w) {
      word = ~word + c;
      c = c && word == 0;
    }
  }
  int k = kWords - 1;
  while (k >= 0 && w[k] == 0) --k;
  if (k < 0) return {};
  // The 64 bits from the highest set one down (top), the next 64 (next) and whether anything
  // is set below top (sticky, or'ed into top's last bit so that a tie is only a true tie).
  int lz = std::countl_zero(w[k]);
  uint64_t top = w[k] << lz, next = 0;
  bool sticky = false;
  if (k >= 1) {
    if (lz) top |= w[k - 1] >> (64 - lz);
    next = lz ? w[k - 1] << lz : w[k - 1];
    if (k >= 2 && lz) next |= w[k - 2] >> (64 - lz);
    sticky = (lz ? w[k - 1] << lz : w[k - 1]) != 0;
    for (int j = 0; j < k - 1; ++j) sticky |= w[j] != 0;
  }
  int e = 64 * k - lz - kFractionBits;  // top's last bit is worth 2^e
  double hi = static_cast<double>(top | (sticky ? 1 : 0)) * power_of_two(e);
  // What rounding left out: top's bits below a double's 53 (exact), and the next bits.
  double truncated = static_cast<double>(top & ~uint64_t{0x7ff}) * power_of_two(e);
  double lo = ((truncated - hi) + static_cast<double>(top & 0x7ff) * power_of_two(e)) +
              static_cast<double>(next) * power_of_two(e - 64);
  if (negative) return {-hi, -lo};
  return {hi, lo};
}

}  // namespace setpoint
