// Scrapes a Prometheus exposition endpoint into the window store, as a Prometheus scrape job
// would: target labels added, `up` and friends written, vanished series ended with stale markers.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "interpreter/window_store.h"
#include "runtime/curl_multi.h"
#include "runtime/daemon_config.h"
#include "runtime/metric_source.h"
#include "runtime/metrics_reader.h"

namespace setpoint {

class ScrapeSource : public MetricSource {
 public:
  // `now_ms` is the clock samples are stamped with (lines without a timestamp take the time the
  // scrape started); `on_scraped` runs after each scrape's samples, failed or not, are in the
  // store. `http` must outlive this source.
  ScrapeSource(uv_loop_t* loop, CurlMulti& http, ScrapeSourceConfig config, WindowStore& store,
               std::function<int64_t()> now_ms, std::function<void(int64_t t_ms)> on_scraped);
  ~ScrapeSource() override;  // stop()
  ScrapeSource(const ScrapeSource&) = delete;
  ScrapeSource& operator=(const ScrapeSource&) = delete;

  // The first scrape after a random jitter in [0, jitter_fraction * interval), then one every
  // interval; a tick that finds the previous scrape still running is skipped.
  void start() override;
  // Closes the timer and cancels a scrape in flight; final: start() does nothing after it.
  void stop() override;
  // samples: scraped samples accepted by the store (not `up` and the other synthetic series);
  // skipped_lines and rejected_series add up over all scrapes.
  const SourceHealth& health() const override { return health_; }
  bool busy() const override { return in_flight_ != 0; }

 private:
  void scrape();
  void scraped(int64_t t_ms, const HttpClientResponse& response);
  bool ingest(int64_t t_ms, const HttpClientResponse& response, std::string& error,
              double& samples_scraped);
  void write_synthetic(int64_t t_ms, bool up, double seconds, double samples_scraped);
  void end_vanished(int64_t t_ms, bool up);
  uint32_t synthetic_series(const char* name);

  uv_loop_t* loop_;
  CurlMulti& http_;
  ScrapeSourceConfig config_;
  WindowStore& store_;
  std::function<int64_t()> now_ms_;
  std::function<void(int64_t)> on_scraped_;
  SourceHealth health_;
  uv_timer_t* timer_ = nullptr;  // heap-held: it is freed by its close callback
  uint64_t in_flight_ = 0;       // the scrape's transfer id, 0 when none
  bool stopped_ = false;
  std::vector<uint32_t> previous_;  // the series of the last successful scrape
  std::vector<uint32_t> current_;   // filled while a scrape is read, each series once
  std::vector<uint64_t> seen_in_;   // by series: the scrape that last had a sample of it
  // The series text of earlier scrapes: a target exposes the same series scrape after scrape,
  // and finding them by their bytes skips parsing and normalizing their labels.
  metrics_detail::RawSeriesCache series_cache_;
  std::vector<uint64_t> counted_in_;  // by series: the scrape that last counted it
  uint64_t scrapes_read_ = 0;
  std::mt19937_64 random_;
};

}  // namespace setpoint
