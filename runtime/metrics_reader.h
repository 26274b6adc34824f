// Readers for recorded metrics: Prometheus text, OpenMetrics, CSV, JSON lines and Prometheus
// query responses, all feeding one SampleSink. Formats are described in docs/metrics-formats.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "interpreter/labels.h"

namespace setpoint {

enum class MetricsFormat { PrometheusText, OpenMetrics, Csv, JsonLines, QueryRange };

// "prom", "openmetrics", "csv", "jsonl", "query_range"; nullopt for anything else.
std::optional<MetricsFormat> format_from_name(std::string_view name);
std::string_view format_name(MetricsFormat format);
inline constexpr std::string_view kFormatNames = "prom, openmetrics, csv, jsonl, query_range";

// By extension (.prom .om .csv .jsonl .ndjson; .json and .txt look at the content too), else by
// the first bytes of the file (`head`, a few KiB are plenty). Prometheus text when in doubt.
MetricsFormat detect_format(std::string_view path, std::string_view head);

struct ReadReport {
  size_t lines = 0;                 // physical lines of the input
  size_t samples = 0;               // samples passed to the sink
  size_t rejected = 0;              // samples dropped because the sink rejected their series
  size_t skipped = 0;               // malformed lines (entries, pairs) reported and left out
  size_t error_count = 0;           // every error, including those not kept below
  std::vector<std::string> errors;  // "file:line: message", the first kMaxKeptErrors
};
inline constexpr size_t kMaxKeptErrors = 20;

// Parses `text` and passes every series and sample to `sink`. Never throws: a malformed line is
// reported, counted in `skipped` and left out, and reading goes on with the next one. Within one
// call each distinct series (after normalize_labels) is announced to the sink once.
ReadReport read_metrics(std::string_view text, MetricsFormat format, std::string_view file_name,
                        SampleSink& sink);

// For live input (a scrape, a push): Prometheus text and OpenMetrics lines without a timestamp
// take default_t_ms (the time of the scrape) while a line with one keeps its own. Unset, as for
// recordings, every line needs a timestamp. Other formats always carry theirs.
namespace metrics_detail {
class RawSeriesCache;
}
struct ReadOptions {
  std::optional<int64_t> default_t_ms;
  // Prometheus text and OpenMetrics: series text already seen in an earlier read (the last
  // scrape of the same target) is not parsed again. Unset: a cache for this read alone.
  metrics_detail::RawSeriesCache* series_cache = nullptr;
};
ReadReport read_metrics(std::string_view text, MetricsFormat format, std::string_view file_name,
                        SampleSink& sink, const ReadOptions& options);

// A recording is read whole into memory, so its size is bounded.
inline constexpr size_t kMaxMetricsFileBytes = size_t{1} << 30;

// Reads a file (detecting its format when none is given) and calls read_metrics. Returns false,
// with one error "path: message" in the report, when the file is missing, unreadable or larger
// than max_bytes; nothing reaches the sink then.
bool read_metrics_file(const std::string& path, std::optional<MetricsFormat> format,
                       SampleSink& sink, ReadReport& report,
                       size_t max_bytes = kMaxMetricsFileBytes);

// Time and value syntax shared by the formats; also useful to callers that take times.

// Decimal Unix seconds to milliseconds: "1700000000.123" -> 1700000000123, "1.7e9" ->
// 1700000000000. The digits are shifted, never multiplied as a double, so every millisecond is
// exact; digits below a millisecond are truncated toward zero (as Prometheus does).
bool unix_seconds_to_ms(std::string_view text, int64_t& ms);

// RFC 3339: "2026-01-01T00:00:00Z", "2026-01-01T01:00:00.250+01:00" (also 't', 'z' or a space
// for the 'T'). On failure `error` (when given) says why.
bool rfc3339_to_ms(std::string_view text, int64_t& ms, std::string* error = nullptr);

// Either of the two above, told apart by the '-' after a 4-digit year.
bool recorded_time_to_ms(std::string_view text, int64_t& ms, std::string* error = nullptr);

// Sample values as Prometheus writes them: decimal or exponent notation with an optional sign,
// NaN, Inf, +Inf, -Inf (any case). The whole text must be the number.
bool parse_sample_value(std::string_view text, double& value);

namespace metrics_detail {

// `text` in double quotes, cut after 40 bytes, control and invalid bytes as \xNN: for errors.
std::string quote(std::string_view text);

// The report and the series table of one read_metrics call, shared by the format readers.
class ReaderContext {
 public:
  ReaderContext(std::string_view file_name, SampleSink& sink, ReadReport& report)
      : file_name_(file_name), sink_(sink), report_(report) {}

  ReadReport& report() { return report_; }
  // Records an error; skip() also counts one malformed unit left out.
  void error(size_t line, std::string_view message);
  void skip(size_t line, std::string_view message) {
    error(line, message);
    ++report_.skipped;
  }

  // The sink's number for a series; labels are normalized here and each distinct series is
  // announced to the sink once, however many spellings it had in the input.
  uint32_t series(Labels labels);
  uint32_t series_again(uint32_t id) { return sink_.series_again(id); }

  void sample(uint32_t series, int64_t t_ms, double value) {
    if (series == kRejectedSeries) {
      ++report_.rejected;
      return;
    }
    sink_.sample(series, t_ms, value);
    ++report_.samples;
  }

 private:
  std::string_view file_name_;
  SampleSink& sink_;
  ReadReport& report_;
  std::unordered_map<std::string, uint32_t> by_labels_;  // encoded normalized labels -> id
  std::string key_;                                      // reused to encode labels
};

// Raw series text (bytes of the input, which outlives the read) -> the sink's number, so a
// series seen before is never parsed again. Each entry remembers the entry that followed it:
// recordings list their series in the same order at every timestamp, so most lookups are one
// memcmp against the predicted entry, with no hashing.
//
// A cache kept from one read to the next (ReadOptions::series_cache) owns copies of the text,
// holds at most `capacity` entries (it starts over beyond that, so series churn cannot grow
// it), and never remembers a refused series: a refusal holds for one read only.
class RawSeriesCache {
 public:
  RawSeriesCache() = default;
  explicit RawSeriesCache(size_t capacity) : capacity_(capacity) {}
  bool persistent() const { return capacity_ > 0; }

  struct Entry {
    std::string_view raw;
    uint32_t id;
    uint32_t next;  // index of the entry that followed this one last time, or kNone
    bool braced;    // the raw text ends with '}' (Prometheus text)
  };
  static constexpr uint32_t kNone = UINT32_MAX;

  // The entry expected next, or nullptr; accept_prediction() when the input matched it.
  const Entry* predicted() const {
    if (last_ == kNone || entries_[last_].next == kNone) return nullptr;
    return &entries_[entries_[last_].next];
  }
  void accept_prediction() { last_ = entries_[last_].next; }

  const Entry* find(std::string_view raw) {
    if (const Entry* p = predicted(); p && p->raw == raw) {
      accept_prediction();
      return p;
    }
    auto it = index_.find(raw);
    if (it == index_.end()) return nullptr;
    follow(it->second);
    return &entries_[it->second];
  }
  void add(std::string_view raw, uint32_t id, bool braced) {
    if (persistent()) {
      if (id == kRejectedSeries) return;
      if (entries_.size() >= capacity_) {
        entries_.clear();
        index_.clear();
        owned_.clear();
        last_ = kNone;
      }
      raw = owned_.emplace_back(raw);
    }
    auto index = static_cast<uint32_t>(entries_.size());
    entries_.push_back({raw, id, kNone, braced});
    index_.emplace(raw, index);
    follow(index);
  }
  // A new read starts: nothing was read before its first line.
  void restart() { last_ = kNone; }

 private:
  void follow(uint32_t index) {
    if (last_ != kNone) entries_[last_].next = index;
    last_ = index;
  }
  std::vector<Entry> entries_;
  std::unordered_map<std::string_view, uint32_t> index_;
  uint32_t last_ = kNone;
  size_t capacity_ = 0;            // 0: for one read, viewing its input
  std::deque<std::string> owned_;  // persistent: the text the entries view
};

// The format readers, one per source file.
void read_prometheus_text(std::string_view text, bool openmetrics, ReaderContext& context,
                          const ReadOptions& options = {});
// The same, for a text handed over in chunks of whole lines (an empty chunk ends it), so that a
// large file is read without holding it whole. Remembers up to this many series' text.
inline constexpr size_t kChunkedSeriesCache = size_t{1} << 20;
void read_prometheus_chunks(const std::function<std::string_view()>& next_chunk, bool openmetrics,
                            ReaderContext& context);
void read_csv(std::string_view text, ReaderContext& context);
void read_json_lines(std::string_view text, ReaderContext& context);
void read_query_response(std::string_view text, ReaderContext& context);

}  // namespace metrics_detail
}  // namespace setpoint
