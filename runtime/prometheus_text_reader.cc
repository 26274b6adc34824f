// Prometheus text exposition and OpenMetrics with a timestamp on every sample: one sample per
// line, `metric{a="x"} 1.5 1700000000000` (milliseconds) or `... 1700000000.123` (seconds).
#include <fast_float/fast_float.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <exception>
#include <functional>

#include "grammar/source_file.h"
#include "runtime/metrics_reader.h"

namespace setpoint::metrics_detail {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
bool is_label_start(char c) { return is_name_start(c) && c != ':'; }
bool is_label_char(char c) { return is_name_char(c) && c != ':'; }

const char* skip_blanks(const char* p, const char* e) {
  while (p < e && is_blank(*p)) ++p;
  return p;
}

// A bare metric name ends at p: `a` is not the series of `ab 1` nor of `a {x="1"} 1`.
bool bare_name_ends(const char* p, const char* e) {
  if (p == e || !is_blank(*p)) return false;
  p = skip_blanks(p, e);
  return p == e || *p != '{';
}

// memcmp for the short keys of series, without a library call.
inline bool same_bytes(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    uint64_t x, y;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      std::memcpy(&x, a + i, 8);
      std::memcpy(&y, b + i, 8);
      if (x != y) return false;
    }
    std::memcpy(&x, a + n - 8, 8);  // the last 8 bytes, overlapping the loop's
    std::memcpy(&y, b + n - 8, 8);
    return x == y;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Eight ASCII digits at once (as in fast_float and simdjson), on little-endian machines.
inline bool eight_digits(const char* p, uint64_t& out) {
  if constexpr (std::endian::native != std::endian::little) return false;
  uint64_t v;
  std::memcpy(&v, p, 8);
  if (((v + 0x4646464646464646) | (v - 0x3030303030303030)) & 0x8080808080808080) return false;
  v -= 0x3030303030303030;
  v = (v * 10) + (v >> 8);
  v = (((v & 0x000000FF000000FF) * 0x000F424000000064) +
       (((v >> 16) & 0x000000FF000000FF) * 0x0000271000000001)) >>
      32;
  out = v;
  return true;
}

// [-]digits[.digits] with at most 15 digits, the common value, for the fast path; nullptr for
// anything else (exponents, NaN, longer numbers), which fast_float then reads. With 15 digits
// the digits are an integer below 2^53 and the power of ten is exact, so one division is
// correctly rounded (Clinger's fast path, the one fast_float itself takes for such input).
inline const char* simple_decimal(const char* p, const char* end, double& out) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  bool negative = p < end && *p == '-';
  if (negative) ++p;
  const char* start = p;
  uint64_t m = 0;  // wraps harmlessly past 19 digits: such numbers are refused below
  while (p < end && is_digit(*p)) m = m * 10 + static_cast<uint64_t>(*p++ - '0');
  size_t digits = static_cast<size_t>(p - start);
  size_t fraction = 0;
  if (p < end && *p == '.') {
    const char* f = ++p;
    while (p < end && is_digit(*p)) m = m * 10 + static_cast<uint64_t>(*p++ - '0');
    fraction = static_cast<size_t>(p - f);
    digits += fraction;
  }
  if (digits == 0 || digits > 15) return nullptr;
  double v = static_cast<double>(m) / kPow10[fraction];
  out = negative ? -v : v;
  return p;
}

// [-]digits, at most 18 of them (so no overflow check), for the fast path; nullptr otherwise.
inline const char* simple_millis(const char* p, const char* end, int64_t& ms) {
  bool negative = p < end && *p == '-';
  if (negative) ++p;
  const char* digits = p;
  uint64_t v = 0;
  uint64_t eight;
  if (end - p >= 8 && eight_digits(p, eight)) {
    v = eight;
    p += 8;
  }
  while (p < end && is_digit(*p)) v = v * 10 + static_cast<uint64_t>(*p++ - '0');
  if (p == digits || p - digits > 18) return nullptr;
  ms = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return p;
}

// digits[.digits], at most 15 integer digits, for the fast path of OpenMetrics; the exact
// milliseconds as unix_seconds_to_ms() computes them.
inline const char* simple_seconds(const char* p, const char* end, int64_t& ms) {
  const char* digits = p;
  uint64_t v = 0;
  uint64_t eight;
  if (end - p >= 8 && eight_digits(p, eight)) {
    v = eight;
    p += 8;
  }
  while (p < end && is_digit(*p)) v = v * 10 + static_cast<uint64_t>(*p++ - '0');
  if (p == digits || p - digits > 15) return nullptr;
  uint64_t frac = 0;
  int scale = 100;
  if (p < end && *p == '.') {
    ++p;
    for (; p < end && is_digit(*p); ++p) {
      frac += static_cast<uint64_t>(*p - '0') * static_cast<uint64_t>(scale);
      scale /= 10;  // digits below a millisecond add 0
    }
  }
  ms = static_cast<int64_t>(v * 1000 + frac);
  return p;
}

// The token at p, up to the next blank: what an error message shows.
std::string token_at(const char* p, const char* e) {
  const char* t = p;
  while (t < e && !is_blank(*t)) ++t;
  return quote(std::string_view(p, static_cast<size_t>(t - p)));
}

// Past the '}' that closes the braces opened just before p, or nullptr when the line ends
// first. Only finds the end; decode_series() checks what is inside.
const char* scan_braces(const char* p, const char* e) {
  while (p < e) {
    const char* q = p;
    while (q < e && *q != '"' && *q != '}') ++q;
    if (q == e) return nullptr;
    if (*q == '}') return q + 1;
    for (++q; q < e && *q != '"'; ++q) {
      if (*q == '\\') ++q;
    }
    if (q >= e) return nullptr;
    p = q + 1;
  }
  return nullptr;
}

class PrometheusTextReader {
 public:
  PrometheusTextReader(bool openmetrics, ReaderContext& context, const ReadOptions& options)
      : om_(openmetrics),
        context_(context),
        default_t_ms_(options.default_t_ms),
        cache_(options.series_cache ? *options.series_cache : own_cache_) {
    cache_.restart();
  }
  // Also when an exception (memory) ends the read, so that its error names the line reached.
  ~PrometheusTextReader() { context_.report().lines = line_no_; }
  void read(std::string_view text) {
    read_lines(text);
    finish();
  }
  // Whole lines, in order: a text may come in chunks, each cut after a line's end.
  void read_lines(std::string_view text);
  void finish();

 private:
  const char* fast_line(const char* p, const char* end);
  void line(const char* b, const char* e);
  const char* series(const char* p, const char* e, uint32_t& id);
  bool decode_series(const char* p, const char* e, Labels& labels);
  bool quoted_string(const char*& p, const char* e, std::string& out, std::string_view what);
  bool timestamp(const char*& p, const char* e, int64_t& ms);

  void fail(std::string message) { context_.skip(line_no_, message); }

  bool om_;
  ReaderContext& context_;
  std::optional<int64_t> default_t_ms_;  // for lines without a timestamp
  // The id of a series found in the cache; one kept from an earlier read is offered to the
  // sink again, which may refuse it for this read.
  uint32_t known(const RawSeriesCache::Entry& e) {
    return cache_.persistent() ? context_.series_again(e.id) : e.id;
  }

  RawSeriesCache own_cache_;
  RawSeriesCache& cache_;
  size_t line_no_ = 0;
  bool eof_ = false;
  Labels labels_;  // reused by decode_series
};

void PrometheusTextReader::read_lines(std::string_view text) {
  const char* p = text.data();
  const char* end = p + text.size();
  size_t after_eof = 0;
  ReadReport& report = context_.report();
  while (p < end) {
    ++line_no_;
    if (!eof_) {
      if (const char* next = fast_line(p, end)) {
        p = next;
        continue;
      }
    }
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* e = nl ? nl : end;
    const char* next = nl ? nl + 1 : end;
    if (e > p && e[-1] == '\r') --e;
    if (!eof_) {
      line(p, e);
    } else if (skip_blanks(p, e) != e) {
      if (after_eof++ == 0) context_.error(line_no_, "text after # EOF is ignored");
      ++report.skipped;
    }
    p = next;
  }
}

void PrometheusTextReader::finish() {
  if (om_ && !eof_ && line_no_ > 0) {
    context_.error(line_no_, "no # EOF at the end: the file may be truncated");
  }
}

// The common line, `<the predicted series> <value> <timestamp>\n`, with no allocation and no
// search for the line's end. Returns the start of the next line, or nullptr (having changed
// nothing) for anything else, which line() then reads in full.
const char* PrometheusTextReader::fast_line(const char* p, const char* end) {
  const RawSeriesCache::Entry* guess = cache_.predicted();
  if (!guess) return nullptr;
  size_t n = guess->raw.size();
  if (static_cast<size_t>(end - p) <= n || !same_bytes(p, guess->raw.data(), n)) return nullptr;
  const char* q = p + n;
  if (!guess->braced && !bare_name_ends(q, end)) return nullptr;
  q = skip_blanks(q, end);
  if (q == end || *q == '+') return nullptr;
  double value;
  const char* after = simple_decimal(q, end, value);
  if (!after) {
    auto r = fast_float::from_chars(q, end, value);
    if (r.ec != std::errc()) return nullptr;
    after = r.ptr;
  }
  if (default_t_ms_ && (after == end || *after == '\n')) {  // a scraped line: no timestamp
    cache_.accept_prediction();
    context_.sample(known(*guess), *default_t_ms_, value);
    return after == end ? end : after + 1;
  }
  if (after == end || !is_blank(*after)) return nullptr;
  q = skip_blanks(after, end);
  int64_t ms;
  q = om_ ? simple_seconds(q, end, ms) : simple_millis(q, end, ms);
  if (!q) return nullptr;
  if (q < end) {
    if (*q != '\n') return nullptr;
    ++q;
  }
  cache_.accept_prediction();
  context_.sample(known(*guess), ms, value);
  return q;
}

void PrometheusTextReader::line(const char* b, const char* e) {
  uint32_t id;
  const char* p = nullptr;
  // A line fast_line() declined (CRLF, "+Inf", an exemplar, an error) may still name the
  // predicted series.
  if (const RawSeriesCache::Entry* guess = cache_.predicted()) {
    size_t n = guess->raw.size();
    if (static_cast<size_t>(e - b) > n && std::memcmp(b, guess->raw.data(), n) == 0) {
      const char* after = b + n;
      if (guess->braced || bare_name_ends(after, e)) {
        cache_.accept_prediction();
        id = known(*guess);
        p = after;
      }
    }
  }
  if (!p) {
    b = skip_blanks(b, e);
    if (b == e) return;
    if (*b == '#') {
      if (om_ && std::string_view(b, static_cast<size_t>(e - b)) == "# EOF") eof_ = true;
      return;  // # HELP, # TYPE, # UNIT and other comments carry nothing a recording needs
    }
    p = series(b, e, id);
    if (!p) return;
  }

  p = skip_blanks(p, e);
  if (p == e) return fail("sample has no value");
  double value;
  const char* v = p;
  if (*v == '+' && v + 1 < e && v[1] != '-' && v[1] != '+') ++v;  // "+Inf"; from_chars has no '+'
  auto r = fast_float::from_chars(v, e, value);
  if (r.ec != std::errc() || (r.ptr != e && !is_blank(*r.ptr))) {
    return fail("invalid value " + token_at(p, e));
  }
  p = skip_blanks(r.ptr, e);
  if (p == e || (om_ && *p == '#')) {
    if (default_t_ms_) return context_.sample(id, *default_t_ms_, value);
    return fail(om_ ? "sample has no timestamp: a recording needs one (seconds since the epoch)"
                    : "sample has no timestamp: a recording needs one (milliseconds since the "
                      "epoch)");
  }
  int64_t ms;
  if (!timestamp(p, e, ms)) return;
  p = skip_blanks(p, e);
  // OpenMetrics may follow a sample with ` # {trace_id="..."} 1 1.5`, an exemplar: not a sample.
  if (p != e && !(om_ && *p == '#')) {
    return fail("unexpected text after the timestamp: " + token_at(p, e));
  }
  context_.sample(id, ms, value);
}

bool PrometheusTextReader::timestamp(const char*& p, const char* e, int64_t& ms) {
  const char* b = p;
  if (!om_) {
    // Integer milliseconds: parsed by hand, it is half the work of a line.
    const char* q = p;
    bool negative = q < e && *q == '-';
    if (negative) ++q;
    const char* digits = q;
    uint64_t v = 0;
    while (q < e && is_digit(*q) && q - digits < 19) v = v * 10 + static_cast<uint64_t>(*q++ - '0');
    bool ok = q > digits && (q == e || is_blank(*q)) &&
              v <= static_cast<uint64_t>(INT64_MAX) + (negative ? 1 : 0);
    if (ok) {
      ms = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
      p = q;
      return true;
    }
    while (q < e && !is_blank(*q)) ++q;
    fail("invalid timestamp " + quote(std::string_view(b, static_cast<size_t>(q - b))) +
         ": expected integer milliseconds since the epoch");
    return false;
  }
  const char* q = p;
  while (q < e && !is_blank(*q)) ++q;
  if (!unix_seconds_to_ms(std::string_view(b, static_cast<size_t>(q - b)), ms)) {
    fail("invalid timestamp " + quote(std::string_view(b, static_cast<size_t>(q - b))) +
         ": expected seconds since the epoch");
    return false;
  }
  p = q;
  return true;
}

// Finds the series at p (a metric name, braces, or both), looks its raw text up and decodes it
// only when it is new. Returns the position after it, or nullptr after reporting an error.
const char* PrometheusTextReader::series(const char* p, const char* e, uint32_t& id) {
  const char* b = p;
  if (is_name_start(*p)) {
    while (p < e && is_name_char(*p)) ++p;
  } else if (*p != '{') {
    fail("expected a metric name, found " + token_at(p, e));
    return nullptr;
  }
  const char* after_name = p;
  const char* brace = skip_blanks(p, e);
  bool braced = brace < e && *brace == '{';
  const char* end = braced ? scan_braces(brace + 1, e) : after_name;
  if (!braced && end < e && !is_blank(*end)) {
    fail("unexpected " + quote(std::string_view(end, 1)) + " after the metric name " +
         quote(std::string_view(b, static_cast<size_t>(after_name - b))));
    return nullptr;
  }
  std::string_view raw(b, static_cast<size_t>((end ? end : e) - b));
  if (end) {
    if (const RawSeriesCache::Entry* hit = cache_.find(raw)) {
      id = known(*hit);
      return end;
    }
  }
  Labels& labels = labels_;
  labels.clear();
  if (after_name > b) labels.push_back({"__name__", std::string(b, after_name)});
  if (braced && !decode_series(brace + 1, e, labels)) return nullptr;
  if (!end) {  // decode_series() reports a missing '}'; this is only a safety net
    fail("expected '}' to close the labels");
    return nullptr;
  }
  if (label_value(labels, "__name__").empty()) {
    fail("sample has no metric name");
    return nullptr;
  }
  id = context_.series(labels);
  cache_.add(raw, id, braced);
  return end;
}

// The pairs after '{' up to '}'. Prometheus 3 also allows a quoted metric name among them,
// `{"my.metric", a="x"}`, and quoted label names.
bool PrometheusTextReader::decode_series(const char* p, const char* e, Labels& labels) {
  bool named = !labels.empty();
  while (true) {
    p = skip_blanks(p, e);
    if (p == e) return fail("expected '}' to close the labels"), false;
    if (*p == '}') break;
    std::string name;
    if (*p == '"') {
      if (!quoted_string(p, e, name, "label name")) return false;
      p = skip_blanks(p, e);
      if (p == e || *p != '=') {
        if (named) return fail("metric name " + quote(name) + " given twice"), false;
        if (name.empty()) return fail("empty metric name"), false;
        labels.push_back({"__name__", std::move(name)});
        named = true;
        if (p < e && *p == ',') {
          ++p;
        } else if (p == e || *p != '}') {
          return fail("expected ',' or '}' after the metric name " + quote(labels.back().value)),
                 false;
        }
        continue;
      }
    } else if (is_label_start(*p)) {
      const char* n = p;
      while (p < e && is_label_char(*p)) ++p;
      name.assign(n, p);
      p = skip_blanks(p, e);
    } else {
      return fail("expected a label name, found " + token_at(p, e)), false;
    }
    if (p == e || *p != '=') return fail("expected '=' after label " + quote(name)), false;
    p = skip_blanks(p + 1, e);
    if (p == e || *p != '"') {
      return fail("expected a quoted value for label " + quote(name)), false;
    }
    std::string value;
    if (!quoted_string(p, e, value, "value of label " + quote(name))) return false;
    labels.push_back({std::move(name), std::move(value)});
    p = skip_blanks(p, e);
    if (p < e && *p == ',') {
      ++p;
    } else if (p == e || *p != '}') {
      return fail("expected ',' or '}' after the value of label " + quote(labels.back().name)),
             false;
    }
  }
  // A repeated name is a broken exporter, not something to resolve silently.
  std::vector<std::string_view> names;
  for (const Label& l : labels) names.push_back(l.name);
  std::sort(names.begin(), names.end());
  auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup != names.end()) return fail("duplicate label " + quote(*dup)), false;
  return true;
}

// A double-quoted string at p with the escapes \\, \" and \n; p moves past the closing quote.
bool PrometheusTextReader::quoted_string(const char*& p, const char* e, std::string& out,
                                         std::string_view what) {
  const char* q = p + 1;
  out.clear();
  while (true) {
    const char* run = q;
    while (q < e && *q != '"' && *q != '\\') ++q;
    out.append(run, q);
    if (q == e) return fail("unterminated " + std::string(what)), false;
    if (*q == '"') break;
    if (q + 1 == e) return fail("unterminated " + std::string(what)), false;
    char c = q[1];
    if (c == '\\' || c == '"') {
      out += c;
    } else if (c == 'n') {
      out += '\n';
    } else {
      // Shown as written (`\t`), not quoted: quoting would double the backslash.
      std::string escape = "\\";
      std::string shown = quote(std::string_view(&c, 1));  // "\x01" for a control byte
      escape += shown.substr(1, shown.size() - 2);
      return fail("invalid escape " + escape + " in the " + std::string(what) +
                  ": only \\\\, \\\" and \\n are allowed"),
             false;
    }
    q += 2;
  }
  p = q + 1;
  if (find_invalid_utf8(out) != std::string::npos) {
    return fail("the " + std::string(what) + " is not valid UTF-8"), false;
  }
  return true;
}

}  // namespace

void read_prometheus_text(std::string_view text, bool openmetrics, ReaderContext& context,
                          const ReadOptions& options) {
  PrometheusTextReader(openmetrics, context, options).read(text);
}

void read_prometheus_chunks(const std::function<std::string_view()>& next_chunk, bool openmetrics,
                            ReaderContext& context) {
  // The series cache outlives each chunk, so it keeps copies of the series text it knows.
  RawSeriesCache cache(kChunkedSeriesCache);
  ReadOptions options;
  options.series_cache = &cache;
  PrometheusTextReader reader(openmetrics, context, options);
  for (std::string_view chunk = next_chunk(); !chunk.empty(); chunk = next_chunk()) {
    reader.read_lines(chunk);
  }
  reader.finish();
}

}  // namespace setpoint::metrics_detail

namespace setpoint {

// Here rather than beside the plain read_metrics: the options only concern this format.
ReadReport read_metrics(std::string_view text, MetricsFormat format, std::string_view file_name,
                        SampleSink& sink, const ReadOptions& options) {
  bool openmetrics = format == MetricsFormat::OpenMetrics;
  if (!options.default_t_ms || (!openmetrics && format != MetricsFormat::PrometheusText)) {
    return read_metrics(text, format, file_name, sink);
  }
  ReadReport report;
  metrics_detail::ReaderContext context(file_name, sink, report);
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  try {
    metrics_detail::read_prometheus_text(text, openmetrics, context, options);
  } catch (const std::exception& e) {
    // Only memory exhaustion (or a throwing sink) gets here; what was read so far stays read.
    context.error(std::max<size_t>(report.lines, 1), std::string("reading stopped: ") + e.what());
  } catch (...) {
    context.error(std::max<size_t>(report.lines, 1), "reading stopped: unknown exception");
  }
  return report;
}

}  // namespace setpoint
