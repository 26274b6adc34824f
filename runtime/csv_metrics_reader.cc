// CSV recordings: a header `timestamp,metric,<label columns...>,value`, then one sample per
// record. Quoting follows RFC 4180, so a quoted cell may hold commas, quotes and newlines.
#include <algorithm>
#include <cstring>

#include "grammar/source_file.h"
#include "runtime/metrics_reader.h"

namespace setpoint::metrics_detail {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool is_label_name(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct Field {
  std::string_view raw;    // as written, quotes included
  std::string_view plain;  // the value when decoding changed nothing
  std::string storage;     // the value when it did ("" turned into ")
  bool decoded = false;
  // Not a stored view: fields_ may grow and move `storage`.
  std::string_view value() const { return decoded ? std::string_view(storage) : plain; }
};

class CsvReader {
 public:
  explicit CsvReader(ReaderContext& context) : context_(context) {}
  void read(std::string_view text);

 private:
  enum class Record { Ok, Blank, Error };
  Record next_record(const char*& p, const char* end);
  void header();
  void sample();
  void skip_line(const char*& p, const char* end);
  Field& field(size_t i) {
    if (i >= fields_.size()) fields_.resize(i + 1);
    return fields_[i];
  }

  ReaderContext& context_;
  RawSeriesCache cache_;
  std::vector<Field> fields_;  // reused from record to record
  size_t count_ = 0;           // fields in the current record
  size_t line_ = 1;            // physical line at the read position
  size_t record_line_ = 1;     // where the current record starts
  std::string_view record_text_;
  std::vector<std::string> label_columns_;
  bool have_header_ = false;
  bool bad_header_ = false;
};

void CsvReader::read(std::string_view text) {
  ReadReport& report = context_.report();
  report.lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) +
                 (!text.empty() && text.back() != '\n' ? 1 : 0);
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const char* start = p;
    Record r = next_record(p, end);
    record_text_ = std::string_view(start, static_cast<size_t>(p - start));
    if (r != Record::Ok) continue;  // errors are reported where they are found
    if (!have_header_) {
      have_header_ = true;
      header();
    } else if (bad_header_) {
      ++report.skipped;
    } else {
      sample();
    }
  }
}

void CsvReader::skip_line(const char*& p, const char* end) {
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
  p = nl ? nl + 1 : end;
  if (nl) ++line_;
}

CsvReader::Record CsvReader::next_record(const char*& p, const char* end) {
  record_line_ = line_;
  count_ = 0;
  auto error = [&](std::string_view message) {
    // Before the header nothing can be counted as a skipped sample.
    if (have_header_) {
      context_.skip(record_line_, message);
    } else {
      context_.error(record_line_, message);
    }
    return Record::Error;
  };
  while (true) {
    Field& f = field(count_++);
    const char* t = p;
    while (t < end && is_blank(*t)) ++t;
    if (t < end && *t == '"') {
      const char* open = t;
      const char* q = t + 1;
      bool escaped = false;
      while (true) {
        const char* close =
            static_cast<const char*>(std::memchr(q, '"', static_cast<size_t>(end - q)));
        const char* stop = close ? close : end;
        line_ += static_cast<size_t>(std::count(q, stop, '\n'));
        if (!close) {
          p = end;
          return error("unterminated quoted field: the rest of the file is inside it");
        }
        if (close + 1 < end && close[1] == '"') {
          escaped = true;
          q = close + 2;
          continue;
        }
        q = close;
        break;
      }
      f.raw = std::string_view(open, static_cast<size_t>(q + 1 - open));
      f.plain = f.raw.substr(1, f.raw.size() - 2);
      f.decoded = escaped;
      if (escaped) {
        f.storage.clear();
        for (size_t i = 0; i < f.plain.size(); ++i) {
          f.storage += f.plain[i];
          if (f.plain[i] == '"') ++i;  // the second quote of ""
        }
      }
      p = q + 1;
      while (p < end && is_blank(*p)) ++p;
      if (p < end && *p == '\r' && (p + 1 == end || p[1] == '\n')) ++p;
      if (p < end && *p != ',' && *p != '\n') {
        skip_line(p, end);
        return error("unexpected character after a closing quote");
      }
    } else {
      const char* q = p;
      while (q < end && *q != ',' && *q != '\n' && *q != '"') ++q;
      if (q < end && *q == '"') {
        skip_line(p, end);
        return error("quote inside an unquoted field: quote the whole field");
      }
      f.raw = std::string_view(p, static_cast<size_t>(q - p));
      // Blanks around an unquoted cell are layout, as is the '\r' of a CRLF line end.
      std::string_view v = f.raw;
      while (!v.empty() && (is_blank(v.back()) || v.back() == '\r')) v.remove_suffix(1);
      while (!v.empty() && is_blank(v.front())) v.remove_prefix(1);
      f.plain = v;
      f.decoded = false;
      p = q;
    }
    if (p < end && *p == ',') {
      ++p;
      continue;
    }
    if (p < end) {  // '\n'
      ++p;
      ++line_;
    }
    bool blank = count_ == 1 && fields_[0].value().empty() &&
                 fields_[0].raw.find('"') == std::string_view::npos;
    return blank ? Record::Blank : Record::Ok;
  }
}

void CsvReader::header() {
  auto bad = [&](std::string message) {
    context_.error(record_line_, message);
    bad_header_ = true;
  };
  std::string_view line = record_text_;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (count_ < 3 || lowercase(fields_[0].value()) != "timestamp" ||
      lowercase(fields_[1].value()) != "metric" ||
      lowercase(fields_[count_ - 1].value()) != "value") {
    return bad("expected the header timestamp,metric,<label columns...>,value, found " +
               quote(line));
  }
  for (size_t i = 2; i + 1 < count_; ++i) {
    std::string name(fields_[i].value());
    if (!is_label_name(name)) {
      return bad("invalid label column name " + quote(name) + " in the header");
    }
    if (name == "__name__") {
      return bad("label column \"__name__\" in the header: the metric column holds the name");
    }
    if (std::find(label_columns_.begin(), label_columns_.end(), name) != label_columns_.end()) {
      return bad("duplicate label column " + quote(name) + " in the header");
    }
    label_columns_.push_back(std::move(name));
  }
}

void CsvReader::sample() {
  size_t expected = label_columns_.size() + 3;
  if (count_ != expected) {
    return context_.skip(record_line_, "expected " + std::to_string(expected) +
                                           " fields as in the header, found " +
                                           std::to_string(count_));
  }
  int64_t ms;
  std::string why;
  if (!recorded_time_to_ms(fields_[0].value(), ms, &why)) {
    return context_.skip(record_line_,
                         "invalid timestamp " + quote(fields_[0].value()) + ": " + why);
  }
  double value;
  if (!parse_sample_value(fields_[count_ - 1].value(), value)) {
    return context_.skip(record_line_, "invalid value " + quote(fields_[count_ - 1].value()));
  }
  // The series is the raw text from the metric cell to the last label cell.
  const char* b = fields_[1].raw.data();
  const char* e = fields_[count_ - 2].raw.data() + fields_[count_ - 2].raw.size();
  std::string_view raw(b, static_cast<size_t>(e - b));
  uint32_t id;
  if (const RawSeriesCache::Entry* known = cache_.find(raw)) {
    id = known->id;
  } else {
    std::string_view metric = fields_[1].value();
    if (metric.empty()) return context_.skip(record_line_, "empty metric name");
    if (find_invalid_utf8(metric) != std::string_view::npos) {
      return context_.skip(record_line_, "the metric name is not valid UTF-8");
    }
    Labels labels;
    labels.push_back({"__name__", std::string(metric)});
    for (size_t i = 0; i < label_columns_.size(); ++i) {
      std::string_view v = fields_[i + 2].value();
      if (find_invalid_utf8(v) != std::string_view::npos) {
        return context_.skip(
            record_line_, "the value of label " + quote(label_columns_[i]) + " is not valid UTF-8");
      }
      labels.push_back({label_columns_[i], std::string(v)});  // "" is dropped: label absent
    }
    id = context_.series(std::move(labels));
    cache_.add(raw, id, false);
  }
  context_.sample(id, ms, value);
}

}  // namespace

void read_csv(std::string_view text, ReaderContext& context) { CsvReader(context).read(text); }

}  // namespace setpoint::metrics_detail
