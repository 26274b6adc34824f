#include "grammar/literal.h"

#include <cmath>
#include <limits>

#include "fast_float/fast_float.h"

namespace setpoint {
namespace {

struct UnitSuffix {
  std::string_view text;
  Unit unit;
  double scale;
};

// Longest first where one suffix is a prefix of another ("ms" before "m").
constexpr UnitSuffix kDurationUnits[] = {
    {"ms", Unit::Seconds, 0.001},   {"s", Unit::Seconds, 1},     {"m", Unit::Seconds, 60},
    {"h", Unit::Seconds, 3600},     {"d", Unit::Seconds, 86400}, {"w", Unit::Seconds, 604800},
    {"y", Unit::Seconds, 31536000},
};

constexpr UnitSuffix kOtherUnits[] = {
    {"%", Unit::Percent, 0.01},
    {"B", Unit::Bytes, 1},
    {"KB", Unit::Bytes, 1e3},
    {"MB", Unit::Bytes, 1e6},
    {"GB", Unit::Bytes, 1e9},
    {"TB", Unit::Bytes, 1e12},
    {"KiB", Unit::Bytes, 1024.0},
    {"MiB", Unit::Bytes, 1024.0 * 1024},
    {"GiB", Unit::Bytes, 1024.0 * 1024 * 1024},
    {"TiB", Unit::Bytes, 1024.0 * 1024 * 1024 * 1024},
};

struct Alias {
  std::string_view wrong;
  std::string_view right;
};
constexpr Alias kAliases[] = {
    {"sec", "s"}, {"secs", "s"}, {"min", "m"},  {"mins", "m"}, {"hr", "h"},   {"hrs", "h"},
    {"day", "d"}, {"days", "d"}, {"us", "ms"},  {"ns", "ms"},  {"kb", "KB"},  {"mb", "MB"},
    {"gb", "GB"}, {"kB", "KB"},  {"Ki", "KiB"}, {"Mi", "MiB"}, {"Gi", "GiB"}, {"b", "B"},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses an unsigned decimal at `pos`; returns false when there is none.
bool parse_decimal(std::string_view s, size_t& pos, double& value) {
  const char* begin = s.data() + pos;
  const char* end = s.data() + s.size();
  if (begin == end || !(is_digit(*begin) || *begin == '.')) return false;
  auto result = fast_float::from_chars(begin, end, value);
  if (result.ec != std::errc()) return false;
  pos = static_cast<size_t>(result.ptr - s.data());
  return true;
}

NumberLiteral fail(size_t offset, size_t length, std::string error, std::string hint = {}) {
  NumberLiteral n;
  n.error_offset = offset;
  n.error_length = length == 0 ? 1 : length;
  n.error = std::move(error);
  n.hint = std::move(hint);
  return n;
}

const UnitSuffix* match_duration_unit(std::string_view s, size_t pos) {
  for (const auto& u : kDurationUnits) {
    if (s.substr(pos, u.text.size()) != u.text) continue;
    // "m" must not swallow the start of an unknown suffix such as "min".
    size_t after = pos + u.text.size();
    if (after < s.size() && !is_digit(s[after])) continue;
    return &u;
  }
  return nullptr;
}

std::string suffix_hint(std::string_view suffix) {
  for (const auto& a : kAliases) {
    if (a.wrong == suffix) return "write '" + std::string(a.right) + "'";
  }
  return "durations use ms s m h d w y (5m, 1h30m); sizes use B KB MB GB TB KiB MiB GiB TiB; "
         "percentages use %";
}

}  // namespace

NumberLiteral decode_number(std::string_view s) {
  if (s == "Inf" || s == "inf" || s == "+Inf") {
    NumberLiteral n;
    n.ok = true;
    n.value = std::numeric_limits<double>::infinity();
    return n;
  }
  if (s == "NaN" || s == "nan") {
    NumberLiteral n;
    n.ok = true;
    n.value = std::numeric_limits<double>::quiet_NaN();
    return n;
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    double v = 0;
    for (size_t i = 2; i < s.size(); ++i) {
      char c = s[i];
      int d = is_digit(c)              ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0)
        return fail(i, s.size() - i, "invalid hexadecimal digit '" + std::string(1, c) + "'");
      v = v * 16 + d;
    }
    NumberLiteral n;
    n.ok = true;
    n.value = v;
    return n;
  }

  size_t pos = 0;
  double first = 0;
  if (!parse_decimal(s, pos, first))
    return fail(0, s.size(), "invalid number '" + std::string(s) + "'");
  NumberLiteral n;
  n.ok = true;
  if (pos == s.size()) {
    n.value = first;
    return n;
  }

  for (const auto& u : kOtherUnits) {
    if (s.substr(pos) == u.text) {
      n.unit = u.unit;
      n.value = first * u.scale;
      return n;
    }
  }

  // Durations, possibly compound (1h30m): each part an integer or decimal with a unit, the
  // units strictly descending as in PromQL.
  double total = 0;
  double value = first;
  size_t last_rank = std::size(kDurationUnits);
  bool first_part = true;
  while (true) {
    size_t unit_pos = pos;
    const UnitSuffix* u = match_duration_unit(s, pos);
    if (!u) {
      size_t end = pos;
      while (end < s.size() && !is_digit(s[end])) ++end;
      std::string_view suffix = s.substr(pos, end - pos);
      if (suffix.empty())
        return fail(pos, s.size() - pos, "a number in a compound duration needs a unit");
      if (suffix[0] == '%') {
        return fail(pos, 1, "a percentage ends at '%'",
                    "for the modulo operator, put spaces around it: " +
                        std::string(s.substr(0, pos)) + " % " + std::string(s.substr(pos + 1)));
      }
      return fail(pos, suffix.size(), "unknown unit '" + std::string(suffix) + "'",
                  suffix_hint(suffix));
    }
    size_t rank = static_cast<size_t>(u - kDurationUnits);
    if (!first_part && rank >= last_rank) {
      return fail(unit_pos, u->text.size(),
                  "units of a compound duration must go from largest to smallest, each once",
                  "write it as 1h30m, not 30m1h");
    }
    last_rank = rank;
    first_part = false;
    total += value * u->scale;
    pos += u->text.size();
    if (pos == s.size()) break;
    size_t part = pos;
    if (!parse_decimal(s, pos, value)) {
      return fail(part, s.size() - part,
                  "unexpected '" + std::string(s.substr(part)) + "' after a duration");
    }
  }
  n.unit = Unit::Seconds;
  n.value = total;
  return n;
}

namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

StringLiteral decode_string(std::string_view s) {
  StringLiteral out;
  if (s.size() < 2) {
    out.error = "unterminated string";
    return out;
  }
  char quote = s.front();
  std::string_view body = s.substr(1, s.size() - 2);
  if (quote == '`') {
    out.value = std::string(body);
    out.ok = true;
    return out;
  }
  auto bad = [&](size_t i, size_t len, std::string message) {
    out.ok = false;
    out.error_offset = i + 1;
    out.error_length = len;
    out.error = std::move(message);
    return out;
  };
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out.value += c;
      continue;
    }
    if (i + 1 >= body.size()) return bad(i, 1, "a string cannot end with a lone backslash");
    char e = body[++i];
    switch (e) {
      case 'a':
        out.value += '\a';
        break;
      case 'b':
        out.value += '\b';
        break;
      case 'f':
        out.value += '\f';
        break;
      case 'n':
        out.value += '\n';
        break;
      case 'r':
        out.value += '\r';
        break;
      case 't':
        out.value += '\t';
        break;
      case 'v':
        out.value += '\v';
        break;
      case '\\':
        out.value += '\\';
        break;
      case '"':
        out.value += '"';
        break;
      case '\'':
        out.value += '\'';
        break;
      case 'x':
      case 'u':
      case 'U': {
        size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 1; k <= digits; ++k) {
          int h = i + k < body.size() ? hex_value(body[i + k]) : -1;
          if (h < 0)
            return bad(i - 1, 2,
                       std::string("\\") + e + " needs " + std::to_string(digits) + " hex digits");
          cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (e == 'x') {
          out.value += static_cast<char>(cp);
        } else {
          if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return bad(i - 1, digits + 2, "escape is not a valid code point");
          append_utf8(out.value, cp);
        }
        i += digits;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = 0;
          for (size_t k = 0; k < 3; ++k) {
            char d = i + k < body.size() ? body[i + k] : 'x';
            if (d < '0' || d > '7')
              return bad(i - 1, 2, "octal escapes need three digits, as in \\101");
            v = v * 8 + static_cast<uint32_t>(d - '0');
          }
          if (v > 255) return bad(i - 1, 4, "octal escape above \\377");
          out.value += static_cast<char>(v);
          i += 2;
          break;
        }
        return bad(i - 1, 2, std::string("unknown escape sequence '\\") + e + "'");
    }
  }
  out.ok = true;
  return out;
}

const char* unit_name(Unit unit) {
  switch (unit) {
    case Unit::None:
      return "number";
    case Unit::Seconds:
      return "duration";
    case Unit::Bytes:
      return "byte size";
    case Unit::Percent:
      return "percentage";
  }
  return "number";
}

}  // namespace setpoint
