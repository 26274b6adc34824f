// JSON lines (one series object per line) and Prometheus query responses (`query` and
// `query_range`), read as a stream of SAX events: no document tree, exact number text.
#include <algorithm>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>

#include "grammar/source_file.h"
#include "runtime/metrics_reader.h"

namespace setpoint::metrics_detail {

namespace {

using json = nlohmann::json;

// A pointer that records how far the JSON lexer has read, so that an event can be given the
// line it came from. nlohmann reads one character at a time through it.
struct TrackedIter {
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;
  const char* p = nullptr;
  const char** furthest = nullptr;
  reference operator*() const { return *p; }
  TrackedIter& operator++() {
    *furthest = ++p;
    return *this;
  }
  TrackedIter operator++(int) {
    TrackedIter before = *this;
    ++*this;
    return before;
  }
  bool operator==(const TrackedIter& o) const { return p == o.p; }
  bool operator!=(const TrackedIter& o) const { return p != o.p; }
};

// A JSON scalar as the SAX parser delivered it; `text` is the number as written, for exact
// timestamps.
struct Scalar {
  enum Type { Null, Bool, Int, Uint, Float, String } type = Null;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string_view text;
  static Scalar of(Type t) {
    Scalar s;
    s.type = t;
    return s;
  }
};

// nlohmann's messages may quote bytes that are not UTF-8 (they come from the input).
std::string printable(std::string_view s) {
  if (find_invalid_utf8(s) == std::string_view::npos) return std::string(s);
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

class JsonSeriesReader {
 public:
  enum class Mode { Lines, Query };
  JsonSeriesReader(Mode mode, ReaderContext& context) : mode_(mode), context_(context) {}

  void read_lines(std::string_view text);
  void read_query(std::string_view text);

  // The SAX interface.
  bool null() { return value(Scalar::of(Scalar::Null)); }
  bool boolean(bool) { return value(Scalar::of(Scalar::Bool)); }
  bool number_integer(json::number_integer_t v) {
    Scalar s = Scalar::of(Scalar::Int);
    s.i = v;
    return value(s);
  }
  bool number_unsigned(json::number_unsigned_t v) {
    Scalar s = Scalar::of(Scalar::Uint);
    s.u = v;
    return value(s);
  }
  bool number_float(json::number_float_t v, const std::string& text) {
    Scalar s = Scalar::of(Scalar::Float);
    s.d = v;
    s.text = text;
    return value(s);
  }
  bool string(std::string& text) {
    Scalar s = Scalar::of(Scalar::String);
    s.text = text;
    return value(s);
  }
  bool binary(json::binary_t&) { return value(Scalar::of(Scalar::Null)); }
  bool start_object(std::size_t) { return open(true); }
  bool start_array(std::size_t) { return open(false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    if (skip_depth_ == 0 && !stack_.empty()) stack_.back().key = k;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex);

 private:
  enum class Kind { QueryRoot, Data, Result, Entry, Labels, Values, Pair };
  struct Frame {
    explicit Frame(Kind k) : kind(k) {}
    Kind kind;
    std::string key;   // objects: the key of the value being read
    size_t index = 0;  // arrays: the index of the element being read
  };
  struct Entry {
    size_t line = 0;
    Labels labels;
    bool has_labels = false, has_samples_field = false, has_ts = false, has_value = false;
    int64_t ts = 0;
    double value = 0;
    std::vector<Sample> samples;
    bool failed = false;
    size_t failure_line = 0;
    std::string failure;
  };
  struct Pair {
    size_t line = 0;
    int64_t ts = 0;
    double value = 0;
    bool failed = false;
  };

  bool value(const Scalar& s);
  bool open(bool object);
  bool close();
  void skip_value() { skip_depth_ = 1; }
  void begin_entry();
  void finish_entry();
  void finish_query();
  void entry_error(std::string message, size_t at = 0);  // at: a line, else the entry's
  void pair_error(std::string message);
  bool timestamp(const Scalar& s, int64_t& ms, std::string& error);
  bool sample_value(const Scalar& s, double& v, std::string& error);
  size_t line();

  Mode mode_;
  ReaderContext& context_;
  std::vector<Frame> stack_;
  int skip_depth_ = 0;
  Entry entry_;
  Pair pair_;
  bool syntax_error_ = false;
  bool entry_closed_ = false;  // JSON lines: the line's object is complete

  // Lines: the line being read. Query: the document and how far line() has counted.
  size_t line_no_ = 0;
  const char* begin_ = nullptr;
  const char* furthest_ = nullptr;
  const char* counted_ = nullptr;

  // Query responses.
  std::string status_, error_type_, error_text_;
  bool status_seen_ = false, result_seen_ = false, bad_result_type_ = false;
};

size_t JsonSeriesReader::line() {
  if (mode_ == Mode::Lines) return line_no_;
  // The event's last character is just before `furthest_`: numbers are ended by reading one
  // character more, which may be the newline after them.
  const char* upto = furthest_ > begin_ ? furthest_ - 1 : begin_;
  if (upto > counted_) {
    line_no_ += static_cast<size_t>(std::count(counted_, upto, '\n'));
    counted_ = upto;
  }
  return line_no_;
}

void JsonSeriesReader::read_lines(std::string_view text) {
  ReadReport& report = context_.report();
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* e = nl ? nl : end;
    ++line_no_;
    ++report.lines;
    std::string_view line(p, static_cast<size_t>(e - p));
    p = nl ? nl + 1 : end;
    if (line.find_first_not_of(" \t\r") == line.npos) continue;
    stack_.clear();
    skip_depth_ = 0;
    entry_closed_ = false;
    // The line's samples go out only once the whole line has parsed: `{...} junk` is skipped.
    if (json::sax_parse(line.begin(), line.end(), this) && entry_closed_) finish_entry();
  }
}

void JsonSeriesReader::read_query(std::string_view text) {
  ReadReport& report = context_.report();
  report.lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) +
                 (!text.empty() && text.back() != '\n' ? 1 : 0);
  begin_ = furthest_ = counted_ = text.data();
  line_no_ = 1;
  TrackedIter first{text.data(), &furthest_};
  TrackedIter last{text.data() + text.size(), &furthest_};
  json::sax_parse(first, last, this);
  if (!syntax_error_) finish_query();
}

bool JsonSeriesReader::parse_error(std::size_t position, const std::string&,
                                   const nlohmann::detail::exception& ex) {
  // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
  std::string_view what = ex.what();
  size_t at_line = mode_ == Mode::Lines ? line_no_ : 1;
  std::string message = "invalid JSON: " + printable(what);
  size_t at = what.find("at line ");
  size_t colon = what.find(": ", at == what.npos ? 0 : at);
  if (at != what.npos && colon != what.npos) {
    size_t l = 0;
    for (size_t i = at + 8; i < what.size() && what[i] >= '0' && what[i] <= '9'; ++i) {
      l = l * 10 + static_cast<size_t>(what[i] - '0');
    }
    size_t column = what.find("column ", at);
    std::string_view col = column == what.npos || column > colon
                               ? std::string_view()
                               : what.substr(column + 7, colon - column - 7);
    if (mode_ == Mode::Query && l > 0) at_line = l;
    message = "invalid JSON";
    if (!col.empty()) message += " at column " + std::string(col);
    message += ": " + printable(what.substr(colon + 2));
  }
  context_.skip(at_line, message);
  syntax_error_ = true;
  return false;
}

void JsonSeriesReader::entry_error(std::string message, size_t at) {
  if (entry_.failed) return;
  entry_.failed = true;
  entry_.failure_line = at ? at : entry_.line;
  entry_.failure = std::move(message);
}

// A bad pair in a query response costs that sample only; in JSON lines the line is the unit.
void JsonSeriesReader::pair_error(std::string message) {
  if (pair_.failed) return;
  pair_.failed = true;
  if (mode_ == Mode::Query) {
    context_.skip(pair_.line, message);
  } else {
    entry_error(std::move(message));
  }
}

bool JsonSeriesReader::timestamp(const Scalar& s, int64_t& ms, std::string& error) {
  switch (s.type) {
    case Scalar::Uint:
      if (s.u > static_cast<uint64_t>(INT64_MAX / 1000)) break;
      ms = static_cast<int64_t>(s.u) * 1000;
      return true;
    case Scalar::Int:
      if (s.i < INT64_MIN / 1000) break;
      ms = s.i * 1000;
      return true;
    case Scalar::Float:
      if (unix_seconds_to_ms(s.text, ms)) return true;
      break;
    case Scalar::String: {
      std::string why;
      if (recorded_time_to_ms(s.text, ms, &why)) return true;
      error = "invalid timestamp " + quote(s.text) + ": " + why;
      return false;
    }
    default:
      error = "the timestamp must be a number of seconds or an RFC 3339 string";
      return false;
  }
  error = "timestamp out of range";
  return false;
}

bool JsonSeriesReader::sample_value(const Scalar& s, double& v, std::string& error) {
  switch (s.type) {
    case Scalar::Uint:
      v = static_cast<double>(s.u);
      return true;
    case Scalar::Int:
      v = static_cast<double>(s.i);
      return true;
    case Scalar::Float:
      v = s.d;
      return true;
    case Scalar::String:
      if (parse_sample_value(s.text, v)) return true;
      error = "invalid value " + quote(s.text);
      return false;
    default:
      error = "the value must be a number or a string such as \"1.5\", \"NaN\" or \"+Inf\"";
      return false;
  }
}

bool JsonSeriesReader::value(const Scalar& s) {
  if (skip_depth_ > 0) return true;
  if (stack_.empty()) {
    context_.skip(mode_ == Mode::Lines ? line_no_ : line(),
                  mode_ == Mode::Lines ? "expected a JSON object"
                                       : "expected a JSON object with \"status\" and \"data\"");
    syntax_error_ = true;
    return true;
  }
  Frame& top = stack_.back();
  std::string error;
  switch (top.kind) {
    case Kind::QueryRoot:
      if (top.key == "status" || top.key == "errorType" || top.key == "error") {
        std::string text = s.type == Scalar::String ? std::string(s.text) : "";
        if (top.key == "status") {
          status_seen_ = true;
          status_ = text;
        } else {
          (top.key == "error" ? error_text_ : error_type_) = text;
        }
      }
      break;
    case Kind::Data:
      if (top.key == "resultType") {
        std::string_view type = s.type == Scalar::String ? s.text : "";
        if (type != "matrix" && type != "vector") {
          bad_result_type_ = true;
          context_.error(line(), "resultType " + quote(type) +
                                     " holds no series: only \"matrix\" and \"vector\" can be "
                                     "read");
        }
      } else if (top.key == "result") {
        context_.skip(line(), "\"result\" must be an array of series");
      }
      break;
    case Kind::Result:
      context_.skip(line(), "a result entry must be an object with \"metric\"");
      break;
    case Kind::Entry:
      if (top.key == "timestamp") {
        entry_.has_samples_field = true;
        if (timestamp(s, entry_.ts, error)) {
          entry_.has_ts = true;
        } else {
          entry_error(error, line());
        }
      } else if (top.key == "value") {
        entry_.has_samples_field = true;
        if (sample_value(s, entry_.value, error)) {
          entry_.has_value = true;
        } else {
          entry_error(error, line());
        }
      } else if (top.key == "labels" || top.key == "metric") {
        entry_error("\"" + top.key + "\" must be an object of label names and values", line());
      } else if (top.key == "values") {
        entry_error("\"values\" must be an array of [timestamp, value] pairs", line());
      }
      break;
    case Kind::Labels:
      if (s.type != Scalar::String) {
        entry_error("label " + quote(top.key) + " must be a string", line());
      } else {
        entry_.labels.push_back({top.key, std::string(s.text)});
      }
      break;
    case Kind::Values:
      pair_ = Pair{};
      pair_.line = line();
      pair_error("\"values\" must be an array of [timestamp, value] pairs");
      break;
    case Kind::Pair: {
      size_t index = top.index++;
      if (index == 0 && !timestamp(s, pair_.ts, error)) pair_error(error);
      if (index == 1 && !sample_value(s, pair_.value, error)) pair_error(error);
      break;
    }
  }
  return true;
}

void JsonSeriesReader::begin_entry() {
  Labels labels = std::move(entry_.labels);
  std::vector<Sample> samples = std::move(entry_.samples);
  labels.clear();
  samples.clear();
  entry_ = Entry{};
  entry_.line = line();
  entry_.labels = std::move(labels);  // keeps the capacity from entry to entry
  entry_.samples = std::move(samples);
}

bool JsonSeriesReader::open(bool object) {
  if (skip_depth_ > 0) {
    ++skip_depth_;
    return true;
  }
  if (stack_.empty()) {
    if (!object) {
      context_.skip(line(), mode_ == Mode::Lines
                                ? "expected a JSON object"
                                : "expected a JSON object with \"status\" and \"data\"");
      syntax_error_ = true;
      skip_value();
      return true;
    }
    if (mode_ == Mode::Lines) begin_entry();
    stack_.push_back(Frame{mode_ == Mode::Lines ? Kind::Entry : Kind::QueryRoot});
    return true;
  }
  Frame& top = stack_.back();
  const std::string& key = top.key;
  switch (top.kind) {
    case Kind::QueryRoot:
      if (key == "data" && object) return stack_.push_back(Frame{Kind::Data}), true;
      break;
    case Kind::Data:
      if (key != "result") break;
      result_seen_ = true;
      if (object) {
        context_.skip(line(), "\"result\" must be an array of series");
      } else if (!bad_result_type_) {
        return stack_.push_back(Frame{Kind::Result}), true;
      }
      break;
    case Kind::Result:
      if (object) {
        begin_entry();
        return stack_.push_back(Frame{Kind::Entry}), true;
      }
      context_.skip(line(), "a result entry must be an object with \"metric\"");
      break;
    case Kind::Entry:
      if (key == "labels" || key == "metric") {
        if (!object) {
          entry_error("\"" + key + "\" must be an object of label names and values", line());
        } else if (entry_.has_labels) {
          entry_error("the labels are given twice (\"labels\" and \"metric\")", line());
        } else {
          entry_.has_labels = true;
          return stack_.push_back(Frame{Kind::Labels}), true;
        }
      } else if (key == "values" || key == "value") {
        entry_.has_samples_field = true;
        if (!object && key == "values") return stack_.push_back(Frame{Kind::Values}), true;
        if (!object) {  // "value": [ts, "v"], as in a vector result
          pair_ = Pair{};
          pair_.line = line();
          return stack_.push_back(Frame{Kind::Pair}), true;
        }
        entry_error(key == "values" ? "\"values\" must be an array of [timestamp, value] pairs"
                                    : "the value must be a number or a string such as \"1.5\", "
                                      "\"NaN\" or \"+Inf\"",
                    line());
      } else if (key == "timestamp") {
        entry_.has_samples_field = true;
        entry_error("the timestamp must be a number of seconds or an RFC 3339 string", line());
      }
      break;
    case Kind::Labels:
      entry_error("label " + quote(key) + " must be a string", line());
      break;
    case Kind::Values:
      if (!object) {
        pair_ = Pair{};
        pair_.line = line();
        return stack_.push_back(Frame{Kind::Pair}), true;
      }
      pair_ = Pair{};
      pair_.line = line();
      pair_error("\"values\" must be an array of [timestamp, value] pairs");
      break;
    case Kind::Pair:
      top.index++;
      pair_error("a pair must be [timestamp, value]");
      break;
  }
  skip_value();
  return true;
}

bool JsonSeriesReader::close() {
  if (skip_depth_ > 0) {
    --skip_depth_;
    return true;
  }
  if (stack_.empty()) return true;
  Frame frame = std::move(stack_.back());
  stack_.pop_back();
  switch (frame.kind) {
    case Kind::Entry:
      if (mode_ == Mode::Query) {
        finish_entry();
      } else {
        entry_closed_ = true;
      }
      break;
    case Kind::Pair:
      if (frame.index != 2) pair_error("a pair must be [timestamp, value]");
      if (pair_.failed) break;
      if (!stack_.empty() && stack_.back().kind == Kind::Values) {
        entry_.samples.push_back({pair_.ts, pair_.value});
      } else {  // "value": [ts, v]
        entry_.has_ts = entry_.has_value = true;
        entry_.ts = pair_.ts;
        entry_.value = pair_.value;
      }
      break;
    default:
      break;
  }
  return true;
}

void JsonSeriesReader::finish_entry() {
  Entry& e = entry_;
  if (!e.failed && !e.has_labels) {
    entry_error(mode_ == Mode::Lines ? "no \"labels\" object with the series' labels"
                                     : "a result entry needs a \"metric\" object");
  }
  if (!e.failed && !e.has_samples_field) {
    entry_error(mode_ == Mode::Lines
                    ? "no sample: expected \"timestamp\" and \"value\", or \"values\""
                    : "a result entry needs \"values\" or \"value\"");
  }
  if (!e.failed && e.has_ts != e.has_value) {
    entry_error(e.has_ts ? "\"timestamp\" without \"value\"" : "\"value\" without \"timestamp\"");
  }
  if (!e.failed) {
    std::vector<std::string_view> names;
    for (const Label& l : e.labels) names.push_back(l.name);
    std::sort(names.begin(), names.end());
    auto dup = std::adjacent_find(names.begin(), names.end());
    if (dup != names.end()) entry_error("duplicate label " + quote(*dup));
  }
  if (e.failed) return context_.skip(e.failure_line, e.failure);
  if (e.has_ts) e.samples.push_back({e.ts, e.value});
  if (e.samples.empty()) return;  // a series is announced with its first sample, not before
  uint32_t id = context_.series(e.labels);
  for (const Sample& s : e.samples) context_.sample(id, s.t_ms, s.value);
}

void JsonSeriesReader::finish_query() {
  if (!status_seen_) {
    context_.error(1, "not a Prometheus query response: no \"status\"");
  } else if (status_ == "error") {
    context_.error(
        1, "the query failed: " + (error_type_.empty() ? "" : error_type_ + ": ") + error_text_);
  } else if (status_ != "success") {
    context_.error(1, "unexpected \"status\" " + quote(status_) + ": expected \"success\"");
  } else if (!result_seen_) {
    context_.error(1, "no \"data.result\" in the response");
  }
}

}  // namespace

void read_json_lines(std::string_view text, ReaderContext& context) {
  JsonSeriesReader(JsonSeriesReader::Mode::Lines, context).read_lines(text);
}

void read_query_response(std::string_view text, ReaderContext& context) {
  JsonSeriesReader(JsonSeriesReader::Mode::Query, context).read_query(text);
}

}  // namespace setpoint::metrics_detail
