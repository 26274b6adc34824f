// Polls a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir) for the raw samples of the
// selectors the policies use, so that setpoint can run beside an existing Prometheus.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "interpreter/window_store.h"
#include "runtime/curl_multi.h"
#include "runtime/daemon_config.h"
#include "runtime/metric_source.h"

namespace setpoint {

class QuerySource : public MetricSource {
 public:
  // `selectors` are PromQL instant vector selectors without modifiers
  // (`http_requests_total{job="api"}`). Every interval, for each of them:
  //   GET <url>/api/v1/query?query=<selector>[<lookback>]&time=<now>  the raw samples
  //   GET <url>/api/v1/query?query=<selector>&time=<now>              which series are live
  // with lookback twice the interval (whole seconds, at least 30s). Samples newer than the last
  // one seen of their series go into the store with their own timestamps; a series held but
  // absent from the instant result has gone stale in Prometheus and gets a stale marker at now.
  // `on_scraped` runs once per round, after every selector answered or failed. `http` must
  // outlive this source.
  QuerySource(uv_loop_t* loop, CurlMulti& http, QuerySourceConfig config, WindowStore& store,
              std::function<int64_t()> now_ms, std::function<void(int64_t t_ms)> on_scraped,
              std::vector<std::string> selectors);
  ~QuerySource() override;  // stop()
  QuerySource(const QuerySource&) = delete;
  QuerySource& operator=(const QuerySource&) = delete;

  void start() override;  // the first round at once, then one every interval
  // Closes the timer and cancels the requests in flight; final: start() does nothing after it.
  void stop() override;
  // up: every request of the last round succeeded; last_error: the first failure of the round.
  // samples: new samples accepted by the store; skipped_lines: malformed result entries and
  // pairs; rejected_series: series over max_series in a round.
  const SourceHealth& health() const override { return health_; }
  bool busy() const override { return !in_flight_.empty(); }

  // "http_requests_total{job=\"api\"}[30s]": the range query sent for a selector.
  std::string range_query(const std::string& selector) const;

 private:
  struct Job {
    size_t selector;
    bool range;  // the range query, else the instant one
  };
  // One selector's part of the current round.
  struct SelectorRound {
    bool range_done = false, instant_done = false, instant_ok = false;
    std::unordered_set<std::string> present;  // labels_text of the instant result's series
  };
  // What this source knows of a series it wrote.
  struct SeriesState {
    int64_t last_t_ms = INT64_MIN;  // the newest sample or stale marker written
    bool stale = false;
  };

  void poll();
  void launch();
  void answered(Job job, const HttpClientResponse& response);
  void fail(const std::string& error);
  // One series of a query result: the matrix's samples, or none for a vector entry.
  struct ResultSeries {
    Labels labels;
    std::vector<Sample> samples;
  };
  // Decodes a response of resultType matrix (range) or vector; false with `error` for a
  // failed request or query. A malformed entry or pair is counted in `skipped` and left out.
  static bool decode(const HttpClientResponse& response, bool range, std::vector<ResultSeries>& out,
                     uint64_t& skipped, std::string& error);
  void take_range(size_t selector, std::vector<ResultSeries>& result);
  void take_instant(size_t selector, std::vector<ResultSeries>& result);
  void end_stale(size_t selector);
  void finish_round();

  uv_loop_t* loop_;
  CurlMulti& http_;
  QuerySourceConfig config_;
  WindowStore& store_;
  std::function<int64_t()> now_ms_;
  std::function<void(int64_t)> on_scraped_;
  std::vector<std::string> selectors_;
  int64_t lookback_seconds_;
  SourceHealth health_;
  uv_timer_t* timer_ = nullptr;  // heap-held: it is freed by its close callback
  bool stopped_ = false;

  // The round in progress.
  bool polling_ = false;
  int64_t round_t_ms_ = 0;
  uint64_t round_start_ns_ = 0;
  size_t round_pending_ = 0;
  std::string round_error_;
  std::vector<SelectorRound> rounds_;
  std::unordered_set<uint32_t> round_series_;  // against max_series
  std::deque<Job> queue_;
  std::unordered_set<uint64_t> in_flight_;

  // Per selector, the live series its range queries returned.
  std::vector<std::unordered_set<uint32_t>> selector_series_;
  std::unordered_map<uint32_t, SeriesState> series_;
};

}  // namespace setpoint
