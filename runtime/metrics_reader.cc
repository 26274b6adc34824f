// Format names and detection, the file reader, the shared time and value syntax, and the
// report and series table that the per-format readers share.
#include "runtime/metrics_reader.h"

#include <fast_float/fast_float.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

#include "grammar/source_file.h"
#include "runtime/policy_files.h"

namespace setpoint {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_blank(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The timestamp token of a Prometheus text sample line, or "" when the line has none.
std::string_view sample_timestamp(std::string_view line) {
  size_t i = 0;
  bool in_quotes = false;
  int depth = 0;
  // The series: everything up to the first blank outside quotes and braces.
  for (; i < line.size(); ++i) {
    char c = line[i];
    if (in_quotes) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_quotes = false;
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      --depth;
    } else if (is_blank(c) && depth == 0) {
      break;
    }
  }
  auto token = [&]() {
    while (i < line.size() && is_blank(line[i])) ++i;
    size_t b = i;
    while (i < line.size() && !is_blank(line[i])) ++i;
    return line.substr(std::min(b, line.size()), i - std::min(b, line.size()));
  };
  token();  // the value
  return token();
}

MetricsFormat detect_json(std::string_view head, bool json_extension) {
  std::string_view first = trim(head.substr(0, head.find('\n')));
  // A query response starts with "status" (Prometheus writes it first) or is pretty-printed,
  // which puts "{" alone on the first line; a JSON-lines object is always whole on its line.
  std::string_view key = trim(first.substr(first.empty() ? 0 : 1));
  if (first == "{" || key.starts_with("\"status\"") || key.starts_with("\"data\"") ||
      first.find("\"resultType\"") != first.npos) {
    return MetricsFormat::QueryRange;
  }
  if (first.find("\"labels\"") != first.npos || first.find("\"metric\"") != first.npos) {
    return MetricsFormat::JsonLines;
  }
  return json_extension ? MetricsFormat::QueryRange : MetricsFormat::JsonLines;
}

MetricsFormat detect_text(std::string_view head) {
  // Complete lines first: the last line of a head may be cut in the middle of a timestamp.
  std::string_view partial_sample;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t nl = head.find('\n', pos);
    bool complete = nl != head.npos;
    std::string_view line = trim(head.substr(pos, complete ? nl - pos : head.npos));
    pos = complete ? nl + 1 : head.size();
    if (line.empty()) continue;
    if (line == "# EOF" || line.starts_with("# UNIT ")) return MetricsFormat::OpenMetrics;
    if (line.front() == '#') continue;
    if (!complete) {
      partial_sample = line;
      break;
    }
    std::string_view ts = sample_timestamp(line);
    if (ts.empty()) continue;
    // OpenMetrics counts seconds (10 digits today, a '.' for fractions); Prometheus text counts
    // milliseconds (13 digits). 11 digits of milliseconds would be before 1973.
    bool seconds =
        ts.find_first_of(".eE") != ts.npos || std::count_if(ts.begin(), ts.end(), is_digit) <= 11;
    return seconds ? MetricsFormat::OpenMetrics : MetricsFormat::PrometheusText;
  }
  std::string_view ts = sample_timestamp(partial_sample);
  if (ts.find('.') != ts.npos) return MetricsFormat::OpenMetrics;
  return MetricsFormat::PrometheusText;
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace

std::optional<MetricsFormat> format_from_name(std::string_view name) {
  if (name == "prom") return MetricsFormat::PrometheusText;
  if (name == "openmetrics") return MetricsFormat::OpenMetrics;
  if (name == "csv") return MetricsFormat::Csv;
  if (name == "jsonl") return MetricsFormat::JsonLines;
  if (name == "query_range") return MetricsFormat::QueryRange;
  return std::nullopt;
}

std::string_view format_name(MetricsFormat format) {
  switch (format) {
    case MetricsFormat::PrometheusText:
      return "prom";
    case MetricsFormat::OpenMetrics:
      return "openmetrics";
    case MetricsFormat::Csv:
      return "csv";
    case MetricsFormat::JsonLines:
      return "jsonl";
    case MetricsFormat::QueryRange:
      return "query_range";
  }
  return "prom";
}

MetricsFormat detect_format(std::string_view path, std::string_view head) {
  std::string_view base = path.substr(path.find_last_of('/') + 1);
  size_t dot = base.find_last_of('.');
  std::string ext;
  if (dot != base.npos) {
    for (char c : base.substr(dot + 1)) ext += lower(c);
  }
  if (ext == "prom") return MetricsFormat::PrometheusText;
  if (ext == "om") return MetricsFormat::OpenMetrics;
  if (ext == "csv") return MetricsFormat::Csv;
  if (ext == "jsonl" || ext == "ndjson") return MetricsFormat::JsonLines;

  if (head.starts_with("\xEF\xBB\xBF")) head.remove_prefix(3);
  size_t start = head.find_first_not_of(" \t\r\n");
  head = start == head.npos ? std::string_view() : head.substr(start);
  if (ext == "json" || head.starts_with('{') || head.starts_with('[')) {
    return detect_json(head, ext == "json");
  }
  std::string_view first = head.substr(0, head.find('\n'));
  if (starts_with_nocase(first, "timestamp,") || starts_with_nocase(first, "\"timestamp\",")) {
    return MetricsFormat::Csv;
  }
  return detect_text(head);
}

bool unix_seconds_to_ms(std::string_view s, int64_t& ms) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  // First pass: the shape, the number of integer digits and the exponent.
  size_t mantissa_begin = i, int_digits = 0, frac_digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) return false;
  size_t mantissa_end = i;
  int64_t exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) exp_negative = s[i++] == '-';
    if (i == s.size() || !is_digit(s[i])) return false;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      exponent = std::min<int64_t>(exponent * 10 + (s[i] - '0'), 100000);
    }
    if (exp_negative) exponent = -exponent;
  }
  if (i != s.size()) return false;

  // Second pass: the milliseconds are the first `keep` digits of the mantissa, padded with
  // zeros; the digits after them are below a millisecond and dropped.
  int64_t keep = static_cast<int64_t>(int_digits) + exponent + 3;
  int64_t value = 0;
  int64_t taken = 0;
  for (size_t k = mantissa_begin; k < mantissa_end && taken < keep; ++k) {
    if (s[k] == '.') continue;
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_add_overflow(value, s[k] - '0', &value)) {
      return false;
    }
    ++taken;
  }
  for (; taken < keep && value != 0; ++taken) {
    if (__builtin_mul_overflow(value, 10, &value)) return false;
  }
  ms = negative ? -value : value;
  return true;
}

bool rfc3339_to_ms(std::string_view s, int64_t& ms, std::string* error) {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return false;
  };
  const char* kShape = "expected YYYY-MM-DDThh:mm:ss, an optional fraction, then Z or ±hh:mm";
  auto digits = [&](size_t at, size_t n, int64_t& out) {
    if (at + n > s.size()) return false;
    out = 0;
    for (size_t k = at; k < at + n; ++k) {
      if (!is_digit(s[k])) return false;
      out = out * 10 + (s[k] - '0');
    }
    return true;
  };
  int64_t year, month, day, hour, minute, second;
  if (!digits(0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(5, 2, month) || s[7] != '-' ||
      !digits(8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(11, 2, hour) || s[13] != ':' || !digits(14, 2, minute) || s[16] != ':' ||
      !digits(17, 2, second)) {
    return fail(kShape);
  }
  size_t i = 19;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t first = i;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (i - first < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
    }
    if (i == first) return fail("expected digits after the '.'");
    for (size_t n = i - first; n < 3; ++n) frac_ms *= 10;
  }
  int64_t offset_minutes = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int64_t oh, om;
    if (!digits(i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(i + 4, 2, om)) {
      return fail("expected an offset such as +01:00");
    }
    if (oh > 23 || om > 59) return fail("offset out of range");
    offset_minutes = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
    i += 6;
  } else {
    return fail(i == s.size() ? "missing time zone: Z or an offset such as +01:00" : kShape);
  }
  if (i != s.size()) return fail(kShape);
  if (month < 1 || month > 12) return fail("month " + std::to_string(month) + " out of range");
  if (day < 1 || day > days_in_month(year, static_cast<unsigned>(month))) {
    return fail("day " + std::to_string(day) + " out of range");
  }
  if (hour > 23) return fail("hour " + std::to_string(hour) + " out of range");
  if (minute > 59) return fail("minute " + std::to_string(minute) + " out of range");
  if (second > 59) {
    return fail("second " + std::to_string(second) +
                " out of range (leap seconds are not supported)");
  }
  int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  ms = seconds * 1000 + frac_ms;
  return true;
}

bool recorded_time_to_ms(std::string_view s, int64_t& ms, std::string* error) {
  bool looks_rfc3339 = s.size() >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) &&
                       is_digit(s[3]) && s[4] == '-';
  if (looks_rfc3339) return rfc3339_to_ms(s, ms, error);
  if (unix_seconds_to_ms(s, ms)) return true;
  if (error) *error = "expected Unix seconds or an RFC 3339 time such as 2026-01-01T00:00:00Z";
  return false;
}

bool parse_sample_value(std::string_view s, double& value) {
  const char* b = s.data();
  const char* e = b + s.size();
  // fast_float follows from_chars, which refuses a leading '+'; Prometheus writes "+Inf".
  if (b != e && *b == '+') {
    ++b;
    if (b == e || *b == '+' || *b == '-') return false;
  }
  if (b == e) return false;
  auto r = fast_float::from_chars(b, e, value);
  return r.ec == std::errc() && r.ptr == e;
}

ReadReport read_metrics(std::string_view text, MetricsFormat format, std::string_view file_name,
                        SampleSink& sink) {
  ReadReport report;
  metrics_detail::ReaderContext context(file_name, sink, report);
  // Spreadsheets write a byte-order mark at the start of a CSV file.
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  try {
    switch (format) {
      case MetricsFormat::PrometheusText:
        metrics_detail::read_prometheus_text(text, false, context);
        break;
      case MetricsFormat::OpenMetrics:
        metrics_detail::read_prometheus_text(text, true, context);
        break;
      case MetricsFormat::Csv:
        metrics_detail::read_csv(text, context);
        break;
      case MetricsFormat::JsonLines:
        metrics_detail::read_json_lines(text, context);
        break;
      case MetricsFormat::QueryRange:
        metrics_detail::read_query_response(text, context);
        break;
    }
  } catch (const std::exception& e) {
    // Only memory exhaustion (or a throwing sink) gets here; what was read so far stays read.
    context.error(std::max<size_t>(report.lines, 1), std::string("reading stopped: ") + e.what());
  } catch (...) {
    context.error(std::max<size_t>(report.lines, 1), "reading stopped: unknown exception");
  }
  return report;
}

namespace {

std::string size_limit_text(size_t max_bytes) {
  const size_t mib = size_t{1} << 20;
  return max_bytes >= mib && max_bytes % mib == 0 ? std::to_string(max_bytes / mib) + " MiB"
                                                  : std::to_string(max_bytes) + " bytes";
}

// A file read a block at a time, handed on in chunks of whole lines.
class LineChunks {
 public:
  LineChunks(int fd, size_t max_bytes) : fd_(fd), max_bytes_(max_bytes) {}
  // Reads ahead until the buffer holds at least `want` bytes or the file ends.
  bool fill(size_t want) {
    while (!ended_ && buffer_.size() - start_ < want) {
      if (start_ > 0) {  // drop what was handed on before reading on
        buffer_.erase(0, start_);
        start_ = 0;
      }
      size_t old = buffer_.size();
      buffer_.resize(old + kBlock);
      ssize_t n = ::read(fd_, buffer_.data() + old, kBlock);
      buffer_.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = std::strerror(errno);
        return false;
      }
      if (n == 0) ended_ = true;
      total_ += static_cast<size_t>(n);
      if (total_ > max_bytes_) {
        too_large_ = true;
        return false;
      }
    }
    return true;
  }
  std::string_view head() const { return std::string_view(buffer_).substr(start_, 4096); }
  // The next run of whole lines (the rest of the file at its end); empty when it is done or
  // reading failed.
  std::string_view next() {
    for (;;) {
      if (!fill(kBlock)) return {};
      std::string_view rest = std::string_view(buffer_).substr(start_);
      size_t cut = rest.rfind('\n');
      if (ended_ || cut != std::string_view::npos) {
        size_t n = ended_ ? rest.size() : cut + 1;
        start_ += n;
        return rest.substr(0, n);
      }
      // A line longer than a block: read on (the size limit bounds it).
      if (!fill(rest.size() + kBlock)) return {};
    }
  }
  const std::string& error() const { return error_; }
  bool too_large() const { return too_large_; }

 private:
  static constexpr size_t kBlock = size_t{1} << 20;
  int fd_;
  size_t max_bytes_;
  std::string buffer_;
  size_t start_ = 0;
  size_t total_ = 0;
  bool ended_ = false;
  bool too_large_ = false;
  std::string error_;
};

}  // namespace

bool read_metrics_file(const std::string& path, std::optional<MetricsFormat> format,
                       SampleSink& sink, ReadReport& report, size_t max_bytes) {
  report = ReadReport{};
  auto fail = [&](const std::string& message) {
    report.errors.push_back(path + ": " + message);
    report.error_count = 1;
    return false;
  };
  auto too_large = [&] {
    return fail("larger than " + size_limit_text(max_bytes) + ", the limit for a metrics file");
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot read: " + std::string(std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return too_large();
  }
  LineChunks chunks(fd, max_bytes);
  bool ok = chunks.fill(4096);
  MetricsFormat f = format ? *format : detect_format(path, chunks.head());
  if (ok && (f == MetricsFormat::PrometheusText || f == MetricsFormat::OpenMetrics)) {
    // The line formats are read in chunks: a recording of any size costs a block of memory.
    metrics_detail::ReaderContext context(path, sink, report);
    bool first = true;
    try {
      metrics_detail::read_prometheus_chunks(
          [&]() {
            std::string_view chunk = chunks.next();
            if (first && chunk.starts_with("\xEF\xBB\xBF")) chunk.remove_prefix(3);
            first = false;
            return chunk;
          },
          f == MetricsFormat::OpenMetrics, context);
    } catch (const std::exception& e) {
      // Only memory exhaustion (or a throwing sink) gets here; what was read so far stays read.
      context.error(std::max<size_t>(report.lines, 1), std::string("reading stopped: ") + e.what());
    }
    ::close(fd);
    if (chunks.too_large()) return too_large();
    if (!chunks.error().empty()) return fail("cannot read: " + chunks.error());
    return true;
  }
  ::close(fd);
  if (!ok) return chunks.too_large() ? too_large() : fail("cannot read: " + chunks.error());
  std::string text, error;
  if (!read_file(path, max_bytes, text, error)) return fail("cannot read: " + error);
  if (text.size() > max_bytes) return too_large();
  report = read_metrics(text, f, path, sink);
  return true;
}

namespace metrics_detail {

std::string quote(std::string_view s) {
  size_t n = std::min<size_t>(s.size(), 40);
  // Never cut inside a UTF-8 sequence.
  while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  std::string_view cut = s.substr(0, n);
  bool utf8 = find_invalid_utf8(cut) == std::string_view::npos;
  std::string out = "\"";
  for (char ch : cut) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  out += '"';
  if (n < s.size()) out += "...";
  return out;
}

void ReaderContext::error(size_t line, std::string_view message) {
  ++report_.error_count;
  if (report_.errors.size() >= kMaxKeptErrors) return;
  std::string e(file_name_.empty() ? std::string_view("<input>") : file_name_);
  e += ':';
  e += std::to_string(line);
  e += ": ";
  e += message;
  report_.errors.push_back(std::move(e));
}

uint32_t ReaderContext::series(Labels labels) {
  normalize_labels(labels);
  // Length-prefixed, so no name or value can fake a boundary.
  key_.clear();
  auto put = [&](const std::string& s) {
    auto n = static_cast<uint32_t>(s.size());
    key_.append(reinterpret_cast<const char*>(&n), sizeof n);
    key_ += s;
  };
  for (const Label& l : labels) {
    put(l.name);
    put(l.value);
  }
  auto it = by_labels_.find(key_);
  if (it != by_labels_.end()) return it->second;
  uint32_t id = sink_.series(labels);
  by_labels_.emplace(key_, id);
  return id;
}

}  // namespace metrics_detail
}  // namespace setpoint
