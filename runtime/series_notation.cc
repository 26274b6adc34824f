// promtool's series notation: the series selector text and the expanding values notation,
// with the rules of Prometheus' promql/parser (see runtime/series_notation.h for each source).
#include "runtime/series_notation.h"

#include <fast_float/fast_float.h>

#include <array>
#include <cmath>
#include <limits>

#include "grammar/literal.h"
#include "grammar/source_file.h"
#include "runtime/metrics_reader.h"

namespace setpoint {

using metrics_detail::quote;

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_name_char(char c) { return is_alnum(c) || c == ':'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool equals_lower(std::string_view text, std::string_view lower_word) {
  if (text.size() != lower_word.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (lower(text[i]) != lower_word[i]) return false;
  }
  return true;
}

// The bytes of one UTF-8 sequence at s[pos] (1 for a byte that starts none), for messages.
size_t char_length(std::string_view s, size_t pos) {
  auto c = static_cast<unsigned char>(s[pos]);
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  if (pos + n > s.size() || find_invalid_utf8(s.substr(pos, n)) != std::string_view::npos) n = 1;
  return n;
}

bool fail(std::string* error, std::string_view where, size_t offset, std::string message) {
  if (error) *error = std::string(where) + " at offset " + std::to_string(offset) + ": " + message;
  return false;
}

// ---------------------------------------------------------------------------------------------
// The series: metric name and label set (generated_parser.y `metric`, lex.go lexInsideBraces).

// Words the PromQL lexer makes into tokens that `metric_identifier` does not take; promtool
// refuses them as metric names (checked with promtool 2.42; `sum`, `by`, `offset` are taken).
constexpr std::array<std::string_view, 8> kKeywordsNotNames = {
    "atan2", "bool", "group_left", "group_right", "ignoring", "on", "inf", "nan"};

class SeriesParser {
 public:
  SeriesParser(std::string_view s, std::string* error) : s_(s), error_(error) {}

  std::optional<Labels> parse() {
    size_t end = s_.size();
    while (end > 0 && is_blank(s_[end - 1])) --end;
    end_ = end;
    size_t pos = skip_blanks(0);
    size_t start = pos;
    if (pos == end_) return bad(pos, "the series is empty, expected a metric name or \"{\"");
    Labels labels;
    std::string name;
    if (is_alpha(s_[pos]) || s_[pos] == ':') {
      size_t b = pos;
      while (pos < end_ && is_name_char(s_[pos])) ++pos;
      name = std::string(s_.substr(b, pos - b));
      for (std::string_view k : kKeywordsNotNames) {
        if (equals_lower(name, k)) {
          return bad(b, quote(name) + " is a PromQL keyword, not a metric name; write {__name__=" +
                            quote(name) + "}");
        }
      }
      if (pos < end_ && s_[pos] != '{') {
        size_t after = skip_blanks(pos);
        if (after > pos && s_[after] == '{')
          return bad(pos, "no blank is allowed between the metric name and \"{\"");
        return unexpected(after, " after the metric name");
      }
    } else if (s_[pos] != '{') {
      return unexpected(pos, ", expected a metric name or \"{\"");
    }
    if (pos < end_ && !label_set(pos, labels)) return std::nullopt;
    if (pos < end_) return unexpected(skip_blanks(pos), " after the series");
    if (!name.empty()) labels.push_back({"__name__", std::move(name)});  // wins: pushed last
    normalize_labels(labels);
    if (labels.empty()) return bad(start, "the series has no metric name and no label value");
    return labels;
  }

 private:
  size_t skip_blanks(size_t pos) const {
    while (pos < end_ && is_blank(s_[pos])) ++pos;
    return pos;
  }

  std::nullopt_t bad(size_t offset, std::string message) {
    fail(error_, "series", offset, std::move(message));
    return std::nullopt;
  }

  // What stands at pos, for "unexpected ..." messages.
  std::string token_at(size_t pos) const {
    if (pos >= end_) return "end of series";
    size_t n = 1;
    if (is_name_char(s_[pos])) {
      while (pos + n < end_ && is_name_char(s_[pos + n])) ++n;
    } else if (pos + 1 < end_ && (s_.substr(pos, 2) == "!=" || s_.substr(pos, 2) == "=~" ||
                                  s_.substr(pos, 2) == "!~" || s_.substr(pos, 2) == "==")) {
      n = 2;
    } else {
      n = char_length(s_, pos);
    }
    return quote(s_.substr(pos, n));
  }

  // `context` is " after ..." or ", expected ...".
  std::nullopt_t unexpected(size_t pos, std::string_view context) {
    return bad(pos, "unexpected " + token_at(pos) + std::string(context));
  }

  // `{` name = "value", ... `}` from s_[pos] == '{'; pos ends past the '}'.
  bool label_set(size_t& pos, Labels& labels) {
    ++pos;
    while (true) {
      pos = skip_blanks(pos);
      if (pos < end_ && s_[pos] == '}') break;
      if (pos >= end_ || !is_alpha(s_[pos])) {
        unexpected(pos, ", expected a label name or \"}\"");
        return false;
      }
      size_t name_at = pos;
      while (pos < end_ && is_alnum(s_[pos])) ++pos;
      std::string name(s_.substr(name_at, pos - name_at));
      pos = skip_blanks(pos);
      if (pos >= end_ || s_[pos] != '=' || s_.substr(pos, 2) == "=~" || s_.substr(pos, 2) == "==") {
        unexpected(pos, ", expected \"=\" (a series has label values, not matchers)");
        return false;
      }
      pos = skip_blanks(pos + 1);
      std::string value;
      if (!quoted(pos, name, value)) return false;
      for (const Label& l : labels) {
        if (l.name == name) {
          bad(name_at, "label " + quote(name) + " is given twice");
          return false;
        }
      }
      labels.push_back({std::move(name), std::move(value)});
      pos = skip_blanks(pos);
      if (pos < end_ && s_[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < end_ && s_[pos] == '}') break;
      unexpected(pos, ", expected \",\" or \"}\"");
      return false;
    }
    ++pos;
    return true;
  }

  // A label value in "...", '...' or `...` at pos; pos ends past the closing quote.
  bool quoted(size_t& pos, const std::string& name, std::string& value) {
    if (pos >= end_ || (s_[pos] != '"' && s_[pos] != '\'' && s_[pos] != '`')) {
      unexpected(pos, ", expected a quoted label value");
      return false;
    }
    char q = s_[pos];
    size_t b = pos;
    size_t i = pos + 1;
    for (; i < end_ && s_[i] != q; ++i) {
      if (s_[i] == '\n') break;
      if (s_[i] != '\\' || q == '`') continue;
      if (i + 1 >= end_) break;
      // Go strings take only their own quote escaped (grammar/literal.cc takes both).
      char other = q == '"' ? '\'' : '"';
      if (s_[i + 1] == other) {
        bad(i, std::string("unknown escape sequence '\\") + other + "'");
        return false;
      }
      ++i;
    }
    if (i >= end_ || s_[i] != q) {
      bad(b, "unterminated label value");
      return false;
    }
    std::string_view token = s_.substr(b, i + 1 - b);
    StringLiteral lit = decode_string(token);
    if (!lit.ok) {
      bad(b + lit.error_offset, lit.error);
      return false;
    }
    if (find_invalid_utf8(lit.value) != std::string::npos) {
      bad(b, "the value of label " + quote(name) + " is not valid UTF-8");
      return false;
    }
    value = std::move(lit.value);
    pos = i + 1;
    return true;
  }

  std::string_view s_;
  size_t end_ = 0;
  std::string* error_;
};

// ---------------------------------------------------------------------------------------------
// The values: one item per blank-separated word, tokens as lex.go lexValueSequence makes them.

enum class Tok { End, Number, Word, Plus, Minus, Times, Blank, BadNumber, BadChar };
struct Token {
  Tok kind;
  size_t begin;
  size_t end;
};

class ValuesParser {
 public:
  ValuesParser(std::string_view s, std::string* error) : s_(s), error_(error) {}

  std::optional<std::vector<std::optional<double>>> parse() {
    size_t pos = 0;
    while (true) {
      while (pos < s_.size() && is_blank(s_[pos])) ++pos;
      if (pos == s_.size()) break;
      size_t e = pos;
      while (e < s_.size() && !is_blank(s_[e])) ++e;
      item_begin_ = pos;
      item_end_ = e;
      if (!item()) return std::nullopt;
      pos = e;
    }
    return std::move(out_);
  }

 private:
  std::string_view text(const Token& t) const { return s_.substr(t.begin, t.end - t.begin); }
  std::string_view item_text() const { return s_.substr(item_begin_, item_end_ - item_begin_); }

  // The token at pos within the current item.
  Token next(size_t pos) const {
    if (pos >= item_end_) return {Tok::End, item_end_, item_end_};
    char c = s_[pos];
    switch (c) {
      case '+':
        return {Tok::Plus, pos, pos + 1};
      case '-':
        return {Tok::Minus, pos, pos + 1};
      case 'x':
        return {Tok::Times, pos, pos + 1};
      case '_':
        return {Tok::Blank, pos, pos + 1};
      default:
        break;
    }
    if (is_digit(c) || (c == '.' && pos + 1 < item_end_ && is_digit(s_[pos + 1]))) {
      // scanNumber of Prometheus 2.42: digits [. digits] [eE [+-] digits], then anything but a
      // letter, digit or '_' (an 'x' starts a repetition).
      size_t p = pos;
      while (p < item_end_ && is_digit(s_[p])) ++p;
      if (p < item_end_ && s_[p] == '.') {
        ++p;
        while (p < item_end_ && is_digit(s_[p])) ++p;
      }
      if (p < item_end_ && (s_[p] == 'e' || s_[p] == 'E')) {
        ++p;
        if (p < item_end_ && (s_[p] == '+' || s_[p] == '-')) ++p;
        while (p < item_end_ && is_digit(s_[p])) ++p;
      }
      if (p < item_end_ && s_[p] != 'x' && is_alnum(s_[p])) {
        while (p < item_end_ && (is_alnum(s_[p]) || s_[p] == '.')) ++p;
        return {Tok::BadNumber, pos, p};
      }
      return {Tok::Number, pos, p};
    }
    if (is_alpha(c)) {
      size_t p = pos;
      while (p < item_end_ && is_name_char(s_[p])) ++p;
      return {Tok::Word, pos, p};
    }
    return {Tok::BadChar, pos, pos + char_length(s_, pos)};
  }

  bool error(size_t offset, std::string message) {
    return fail(error_, "values", offset, std::move(message));
  }

  // A token that is no token at all; true when t is one (and the error is set).
  bool lexical_error(const Token& t) {
    if (t.kind == Tok::BadChar) return !error(t.begin, "unexpected character " + quote(text(t)));
    if (t.kind == Tok::BadNumber) return !error(t.begin, "bad number " + quote(text(t)));
    return false;
  }

  bool unexpected(const Token& t, std::string_view expected) {
    if (lexical_error(t)) return false;
    if (t.kind == Tok::End) {
      return error(t.begin,
                   quote(item_text()) + " ends too early, expected " + std::string(expected));
    }
    return error(t.begin, "unexpected " + quote(text(t)) + " in " + quote(item_text()) +
                              ", expected " + std::string(expected));
  }

  // The value of a number token, as parse.go `number` reads it: strconv.ParseInt(s, 0, 64)
  // first (so a leading 0 makes an octal integer), else strconv.ParseFloat.
  bool number(const Token& t, double& v) {
    std::string_view s = text(t);
    if (s.size() > 1 && s[0] == '0' && s.find_first_not_of("01234567") == std::string_view::npos) {
      uint64_t n = 0;
      bool fits = true;
      for (char c : s) {
        if (n > (uint64_t{INT64_MAX} >> 3)) fits = false;
        n = n * 8 + static_cast<uint64_t>(c - '0');
      }
      if (fits && n <= uint64_t{INT64_MAX}) {
        v = static_cast<double>(n);
        return true;
      }
    }
    auto r = fast_float::from_chars(s.data(), s.data() + s.size(), v);
    bool parsed = r.ec == std::errc() || r.ec == std::errc::result_out_of_range;
    if (!parsed || r.ptr != s.data() + s.size()) return error(t.begin, "bad number " + quote(s));
    if (std::isinf(v)) return error(t.begin, "number " + quote(s) + " is out of range");
    return true;
  }

  // Inf and NaN are words to the lexer but numbers to the parser (lex.go: key["inf"] = NUMBER).
  static std::optional<double> special_number(std::string_view word) {
    if (equals_lower(word, "inf")) return std::numeric_limits<double>::infinity();
    if (equals_lower(word, "nan")) return std::numeric_limits<double>::quiet_NaN();
    return std::nullopt;
  }

  // A number token or Inf/NaN; `after` names what comes before, for the message.
  bool unsigned_number(const Token& t, std::string_view after, double& v) {
    if (t.kind == Tok::Number) return number(t, v);
    if (t.kind == Tok::Word) {
      if (auto special = special_number(text(t))) {
        v = *special;
        return true;
      }
    }
    return unexpected(t, "a number after " + quote(after));
  }

  // series_value: a number, a signed number or `stale`; `after` is set past it.
  bool value(const Token& t, double& v, size_t& after) {
    after = t.end;
    switch (t.kind) {
      case Tok::Number:
        return number(t, v);
      case Tok::Word: {
        std::string_view w = text(t);
        if (w == "stale") {
          v = stale_marker();
          return true;
        }
        if (auto special = special_number(w)) {
          v = *special;
          return true;
        }
        // `Infx3`, `stalex3`: the word runs on through the x.
        size_t x = w.find('x');
        if (x != std::string_view::npos && x + 1 < w.size() &&
            w.find_first_not_of("0123456789", x + 1) == std::string_view::npos) {
          std::string_view head = w.substr(0, x);
          if (head == "stale")
            return error(t.begin, "unexpected " + quote(w) +
                                      ": stale cannot be repeated, write it once for each step");
          if (special_number(head)) {
            return error(t.begin, "unexpected " + quote(w) + ": to repeat " + std::string(head) +
                                      " write " + std::string(head) + "+0" +
                                      std::string(w.substr(x)));
          }
        }
        return error(t.begin, "unexpected " + quote(w) + ", expected a number, \"_\" or \"stale\"");
      }
      case Tok::Plus:
      case Tok::Minus: {
        Token n = next(t.end);
        if (!unsigned_number(n, text(t), v)) return false;
        if (t.kind == Tok::Minus) v = -v;
        after = n.end;
        return true;
      }
      case Tok::Times:
        return unexpected(t, "a value before \"x\"");
      default:
        return unexpected(t, "a number, \"_\" or \"stale\"");
    }
  }

  // The repetition count after an 'x' (generated_parser.y `uint`: strconv.ParseUint(s, 10, 64)),
  // which must end the item.
  bool count(const Token& t, uint64_t& n) {
    if (t.kind == Tok::End || (t.kind != Tok::Number && t.kind != Tok::Word)) {
      return unexpected(t, "a count after \"x\", as in 1x3");
    }
    std::string_view s = text(t);
    if (t.kind == Tok::Word || s.find_first_not_of("0123456789") != std::string_view::npos)
      return error(t.begin, "repetition count " + quote(s) + " is not a whole number");
    n = 0;
    for (char c : s) {
      n = n * 10 + static_cast<uint64_t>(c - '0');
      if (n > kMaxSeriesValues) {
        return error(t.begin, "repetition count " + quote(s) +
                                  " is too large: a series has at most " +
                                  std::to_string(kMaxSeriesValues) + " values");
      }
    }
    Token rest = next(t.end);
    if (rest.kind != Tok::End) return unexpected(rest, "a blank before the next item");
    return true;
  }

  bool room_for(uint64_t n) {
    if (n <= kMaxSeriesValues - out_.size()) return true;
    return error(item_begin_, quote(item_text()) + " makes the series longer than " +
                                  std::to_string(kMaxSeriesValues) + " values");
  }

  // One series_item of generated_parser.y.
  bool item() {
    Token t = next(item_begin_);
    if (lexical_error(t)) return false;
    if (t.kind == Tok::Blank) {
      Token u = next(t.end);
      uint64_t n = 1;
      if (u.kind != Tok::End) {
        if (u.kind != Tok::Times) return unexpected(u, "\"x\" and a count after \"_\", as in _x3");
        if (!count(next(u.end), n)) return false;
      }
      if (!room_for(n)) return false;
      out_.insert(out_.end(), n, std::nullopt);  // _xn is n missing values, not n+1
      return true;
    }
    double v = 0;
    size_t after = 0;
    if (!value(t, v, after)) return false;
    Token u = next(after);
    if (u.kind == Tok::End) {
      if (!room_for(1)) return false;
      out_.push_back(v);
      return true;
    }
    if (u.kind == Tok::Times) {
      uint64_t n = 0;
      if (!count(next(u.end), n) || !room_for(n + 1)) return false;
      out_.insert(out_.end(), n + 1, v);  // axn is n+1 values
      return true;
    }
    if (u.kind == Tok::Plus || u.kind == Tok::Minus) {
      Token w = next(u.end);
      double step = 0;
      if (!unsigned_number(w, text(u), step)) return false;
      if (u.kind == Tok::Minus) step = -step;
      Token x = next(w.end);
      if (x.kind != Tok::Times) return unexpected(x, "\"x\" and a count, as in 1+2x3");
      uint64_t n = 0;
      if (!count(next(x.end), n) || !room_for(n + 1)) return false;
      for (uint64_t i = 0; i <= n; ++i) {
        out_.push_back(v);
        v += step;  // as promtool: `$1 += $2`, so rounding accumulates
      }
      return true;
    }
    return unexpected(u, "a blank, \"x\", \"+\" or \"-\" after a value");
  }

  std::string_view s_;
  std::string* error_;
  size_t item_begin_ = 0;
  size_t item_end_ = 0;
  std::vector<std::optional<double>> out_;
};

}  // namespace

std::optional<Labels> parse_series_labels(std::string_view series, std::string* error) {
  return SeriesParser(series, error).parse();
}

std::optional<std::vector<std::optional<double>>> parse_series_values(std::string_view values,
                                                                      std::string* error) {
  return ValuesParser(values, error).parse();
}

std::optional<SeriesDesc> parse_series_desc(std::string_view series, std::string_view values,
                                            std::string* error) {
  auto labels = parse_series_labels(series, error);
  if (!labels) return std::nullopt;
  auto parsed = parse_series_values(values, error);
  if (!parsed) return std::nullopt;
  return SeriesDesc{std::move(*labels), std::move(*parsed)};
}

size_t feed_series(const SeriesDesc& desc, int64_t start_ms, int64_t interval_ms,
                   SampleSink& sink) {
  if (interval_ms <= 0) return 0;
  uint32_t id = kRejectedSeries;
  size_t passed = 0;
  for (size_t i = 0; i < desc.values.size(); ++i) {
    int64_t offset = 0;
    int64_t t = 0;
    if (__builtin_mul_overflow(static_cast<int64_t>(i), interval_ms, &offset) ||
        __builtin_add_overflow(start_ms, offset, &t))
      break;
    if (!desc.values[i]) continue;
    // Announced with its first sample, so a series of missing values adds nothing to a store.
    if (id == kRejectedSeries) {
      id = sink.series(desc.labels);
      if (id == kRejectedSeries) return 0;
    }
    sink.sample(id, t, *desc.values[i]);
    ++passed;
  }
  return passed;
}

}  // namespace setpoint
