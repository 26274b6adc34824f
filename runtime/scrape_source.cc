// Scrapes a Prometheus exposition endpoint into the window store, as a Prometheus scrape job
// would: target labels added, `up` and friends written, vanished series ended with stale markers.
#include "runtime/scrape_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "runtime/metrics_reader.h"

namespace setpoint {

namespace {

// Between the reader and the store: adds the source's labels, counts the scrape's series
// against max_series and remembers which series this scrape had samples of.
class ScrapeSourceSink : public SampleSink {
 public:
  ScrapeSourceSink(WindowStore& store, const ScrapeSourceConfig& config,
                   std::vector<uint32_t>& seen, std::vector<uint64_t>& seen_in,
                   std::vector<uint64_t>& counted_in, uint64_t scrape)
      : store_(store),
        config_(config),
        seen_(seen),
        seen_in_(seen_in),
        counted_in_(counted_in),
        scrape_(scrape) {}

  uint32_t series(const Labels& labels) override {
    if (series_ >= config_.max_series) {
      ++rejected_series;
      return kRejectedSeries;
    }
    Labels l = labels;
    for (const auto& [name, value] : config_.labels) {
      // Prometheus' honor_labels: false: a scraped label that the target's labels also set
      // is kept as exported_<name>, and the target's value wins.
      for (Label& scraped : l) {
        if (scraped.name == name) scraped.name = "exported_" + name;
      }
      l.push_back({name, value});
    }
    normalize_labels(l);
    uint32_t id = store_.series(l);
    if (id == kRejectedSeries) {
      ++rejected_series;
      return id;
    }
    count(id);
    return id;
  }
  // A series the reader knew from an earlier scrape counts against this scrape's bound too,
  // once however many lines name it.
  uint32_t series_again(uint32_t id) override {
    if (id < counted_in_.size() && counted_in_[id] == scrape_) return id;
    if (series_ >= config_.max_series) {
      ++rejected_series;
      return kRejectedSeries;
    }
    count(id);
    return id;
  }

  // Seen only with a sample: a malformed line announces its series before its value fails.
  void sample(uint32_t series, int64_t t_ms, double value) override {
    if (series == kRejectedSeries) return;
    if (series >= seen_in_.size()) seen_in_.resize(store_.series_count(), 0);
    if (seen_in_[series] != scrape_) {
      seen_in_[series] = scrape_;
      seen_.push_back(series);
    }
    if (store_.append(series, t_ms, value) == WindowStore::Append::Accepted) ++accepted;
  }

  uint64_t accepted = 0;
  uint64_t rejected_series = 0;

 private:
  void count(uint32_t id) {
    ++series_;
    if (id >= counted_in_.size()) counted_in_.resize(store_.series_count(), 0);
    counted_in_[id] = scrape_;
  }

  WindowStore& store_;
  const ScrapeSourceConfig& config_;
  std::vector<uint32_t>& seen_;        // each series once, in the order first seen
  std::vector<uint64_t>& seen_in_;     // by series: the scrape that last had a sample of it
  std::vector<uint64_t>& counted_in_;  // by series: the scrape that last counted it
  uint64_t scrape_;
  size_t series_ = 0;
};

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

ScrapeSource::ScrapeSource(uv_loop_t* loop, CurlMulti& http, ScrapeSourceConfig config,
                           WindowStore& store, std::function<int64_t()> now_ms,
                           std::function<void(int64_t t_ms)> on_scraped)
    : loop_(loop),
      http_(http),
      config_(std::move(config)),
      store_(store),
      now_ms_(std::move(now_ms)),
      on_scraped_(std::move(on_scraped)),
      series_cache_(2 * std::max<size_t>(1, config_.max_series)),
      random_(std::random_device{}()) {
  health_.name = config_.name;
  health_.kind = "scrape";
}

ScrapeSource::~ScrapeSource() { stop(); }

void ScrapeSource::start() {
  if (stopped_ || timer_) return;
  timer_ = new uv_timer_t{};
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  int64_t interval_ms = std::max<int64_t>(1, seconds_to_ms(config_.interval_seconds));
  // Spread the scrapes of many sources (and of many daemons) over the interval.
  int64_t jitter_range = static_cast<int64_t>(std::clamp(config_.jitter_fraction, 0.0, 1.0) *
                                              static_cast<double>(interval_ms));
  int64_t jitter = 0;
  if (jitter_range > 0) {
    jitter = std::uniform_int_distribution<int64_t>(0, jitter_range - 1)(random_);
  }
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<ScrapeSource*>(t->data)->scrape(); },
      static_cast<uint64_t>(jitter), static_cast<uint64_t>(interval_ms));
}

void ScrapeSource::stop() {
  stopped_ = true;
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  if (in_flight_) {
    uint64_t id = in_flight_;
    in_flight_ = 0;
    http_.cancel(id);  // its callback sees stopped_ and does nothing
  }
}

void ScrapeSource::scrape() {
  if (stopped_ || in_flight_) return;  // a slow scrape is not piled upon
  int64_t t_ms = now_ms_();
  ++health_.attempts;
  health_.last_attempt_ms = t_ms;
  HttpClientRequest request;
  request.url = config_.url;
  char timeout[32];
  auto end = std::to_chars(timeout, timeout + sizeof timeout, config_.timeout_seconds).ptr;
  // The header Prometheus sends, so an exporter can stop its work in time.
  request.headers = {{"Accept", "text/plain;version=0.0.4"},
                     {"X-Prometheus-Scrape-Timeout-Seconds", std::string(timeout, end)}};
  request.timeout_seconds = config_.timeout_seconds;
  request.max_body_bytes = config_.max_body_bytes;
  in_flight_ = http_.request(std::move(request), [this, t_ms](const HttpClientResponse& r) {
    in_flight_ = 0;
    if (stopped_) return;
    scraped(t_ms, r);
  });
}

bool ScrapeSource::ingest(int64_t t_ms, const HttpClientResponse& response, std::string& error,
                          double& samples_scraped) {
  if (!response.ok) {
    error = response.error;
    return false;
  }
  if (response.status < 200 || response.status > 299) {
    error = "HTTP " + std::to_string(response.status);
    return false;
  }
  current_.clear();
  ScrapeSourceSink sink(store_, config_, current_, seen_in_, counted_in_, ++scrapes_read_);
  bool openmetrics = starts_with_nocase(response.content_type, "application/openmetrics-text");
  ReadOptions options;
  options.default_t_ms = t_ms;
  options.series_cache = &series_cache_;
  ReadReport report = read_metrics(
      response.body, openmetrics ? MetricsFormat::OpenMetrics : MetricsFormat::PrometheusText,
      config_.name, sink, options);
  health_.samples += sink.accepted;
  health_.skipped_lines += report.skipped;
  health_.rejected_series += sink.rejected_series;
  samples_scraped = static_cast<double>(report.samples + report.rejected);
  if (!report.errors.empty()) {
    spdlog::debug("scrape {}: {} malformed lines, the first: {}", config_.name, report.skipped,
                  report.errors.front());
  }
  if (sink.rejected_series > 0) {
    spdlog::debug("scrape {}: {} series over the bound of {}", config_.name, sink.rejected_series,
                  config_.max_series);
  }
  return error.empty();
}

void ScrapeSource::scraped(int64_t t_ms, const HttpClientResponse& response) {
  std::string error;
  double samples_scraped = 0;
  bool up = ingest(t_ms, response, error, samples_scraped);
  end_vanished(t_ms, up);
  write_synthetic(t_ms, up, response.seconds, up ? samples_scraped : 0);

  if (!up && (health_.up || health_.last_error != error || health_.failures == 0)) {
    spdlog::warn("scrape {} ({}) failed: {}", config_.name, config_.url, error);
  } else if (up && !health_.up && health_.failures > 0) {
    spdlog::info("scrape {} ({}) is up again", config_.name, config_.url);
  }
  health_.up = up;
  health_.last_error = error;
  health_.last_duration_seconds = response.seconds;
  if (up) {
    health_.last_success_ms = t_ms;
  } else {
    ++health_.failures;
  }
  on_scraped_(t_ms);  // last: it may stop or destroy this source
}

// A series of the previous scrape that this one lacks ends now, as Prometheus marks it; a
// failed scrape ends every series the last one had. Which series this scrape had is a mark per
// series, not a set: 10,000 series a second made the hashing a fifth of the daemon's CPU.
void ScrapeSource::end_vanished(int64_t t_ms, bool up) {
  for (uint32_t id : previous_) {
    if (!up || seen_in_[id] != scrapes_read_) store_.append(id, t_ms, stale_marker());
  }
  if (up) {
    previous_.swap(current_);
  } else {
    previous_.clear();
  }
  current_.clear();
}

uint32_t ScrapeSource::synthetic_series(const char* name) {
  Labels labels = {{"__name__", name}};
  for (const auto& [n, v] : config_.labels) labels.push_back({n, v});
  normalize_labels(labels);
  return store_.series(labels);
}

void ScrapeSource::write_synthetic(int64_t t_ms, bool up, double seconds, double samples_scraped) {
  const std::pair<const char*, double> values[] = {
      {"up", up ? 1.0 : 0.0},
      {"scrape_duration_seconds", seconds},
      {"scrape_samples_scraped", samples_scraped},
  };
  for (const auto& [name, value] : values) {
    uint32_t id = synthetic_series(name);
    if (id != kRejectedSeries) store_.append(id, t_ms, value);
  }
}

}  // namespace setpoint
