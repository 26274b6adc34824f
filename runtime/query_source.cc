// Polls a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir) for the raw samples of the
// selectors the policies use, so that setpoint can run beside an existing Prometheus.
#include "runtime/query_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "runtime/metrics_reader.h"

namespace setpoint {

namespace {

using json = nlohmann::json;

// Requests of one round in flight at once: a policy set with many selectors must not open a
// connection per selector to the same server.
constexpr size_t kMaxParallel = 4;

// RFC 3986: everything but the unreserved characters is percent-encoded.
std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Unix seconds as the API takes them: "1700000000", or "1700000000.250" with milliseconds.
std::string time_param(int64_t t_ms) {
  int64_t seconds = t_ms / 1000, ms = t_ms % 1000;
  if (ms < 0) seconds -= 1, ms += 1000;
  std::string out = std::to_string(seconds);
  if (ms != 0) {
    std::string frac = std::to_string(ms);
    out += "." + std::string(3 - frac.size(), '0') + frac;
  }
  return out;
}

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string string_member(const json& object, const char* key) {
  const json* v = member(object, key);
  return v && v->is_string() ? v->get<std::string>() : "";
}

bool decode_labels(const json& metric, Labels& labels) {
  if (!metric.is_object()) return false;
  for (auto it = metric.begin(); it != metric.end(); ++it) {
    if (it.key().empty() || !it.value().is_string()) return false;
    labels.push_back({it.key(), it.value().get<std::string>()});
  }
  normalize_labels(labels);
  return !labels.empty();
}

// [1700000000.123, "1.5"]: seconds as a JSON number, the value as a string.
bool decode_pair(const json& pair, Sample& sample) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
    return false;
  }
  double seconds = pair[0].get<double>();
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e12) return false;
  // The API's timestamps have millisecond resolution: rounding undoes the binary fraction.
  sample.t_ms = std::llround(seconds * 1000.0);
  return parse_sample_value(pair[1].get_ref<const std::string&>(), sample.value);
}

}  // namespace

QuerySource::QuerySource(uv_loop_t* loop, CurlMulti& http, QuerySourceConfig config,
                         WindowStore& store, std::function<int64_t()> now_ms,
                         std::function<void(int64_t t_ms)> on_scraped,
                         std::vector<std::string> selectors)
    : loop_(loop),
      http_(http),
      config_(std::move(config)),
      store_(store),
      now_ms_(std::move(now_ms)),
      on_scraped_(std::move(on_scraped)),
      selectors_(std::move(selectors)),
      selector_series_(selectors_.size()) {
  // Twice the interval, so that a late or slow round loses no sample; at least 30s, since
  // Prometheus' own scrape interval is often 15s or 30s.
  lookback_seconds_ =
      std::max<int64_t>(30, static_cast<int64_t>(std::ceil(2 * config_.interval_seconds)));
  while (!config_.url.empty() && config_.url.back() == '/') config_.url.pop_back();
  health_.name = config_.name;
  health_.kind = "query";
}

QuerySource::~QuerySource() { stop(); }

std::string QuerySource::range_query(const std::string& selector) const {
  return selector + "[" + std::to_string(lookback_seconds_) + "s]";
}

void QuerySource::start() {
  if (stopped_ || timer_) return;
  timer_ = new uv_timer_t{};
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  int64_t interval_ms = std::max<int64_t>(1, seconds_to_ms(config_.interval_seconds));
  uv_timer_start(
      timer_, [](uv_timer_t* t) { static_cast<QuerySource*>(t->data)->poll(); }, 0,
      static_cast<uint64_t>(interval_ms));
}

void QuerySource::stop() {
  stopped_ = true;
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    timer_ = nullptr;
  }
  queue_.clear();
  std::vector<uint64_t> ids(in_flight_.begin(), in_flight_.end());
  in_flight_.clear();
  for (uint64_t id : ids) http_.cancel(id);  // their callbacks see stopped_
}

void QuerySource::poll() {
  if (stopped_ || polling_) return;  // the last round is still running: skip this tick
  polling_ = true;
  round_t_ms_ = now_ms_();
  round_start_ns_ = uv_hrtime();
  ++health_.attempts;
  health_.last_attempt_ms = round_t_ms_;
  round_error_.clear();
  rounds_.assign(selectors_.size(), SelectorRound{});
  round_series_.clear();
  for (size_t i = 0; i < selectors_.size(); ++i) {
    queue_.push_back({i, true});
    queue_.push_back({i, false});
  }
  round_pending_ = queue_.size();
  if (round_pending_ == 0) return finish_round();
  launch();
}

void QuerySource::launch() {
  while (!stopped_ && in_flight_.size() < kMaxParallel && !queue_.empty()) {
    Job job = queue_.front();
    queue_.pop_front();
    const std::string& selector = selectors_[job.selector];
    HttpClientRequest request;
    request.url = config_.url + "/api/v1/query?query=" +
                  url_encode(job.range ? range_query(selector) : selector) +
                  "&time=" + time_param(round_t_ms_);
    request.headers = config_.headers;
    request.headers.emplace_back("Accept", "application/json");
    request.timeout_seconds = config_.timeout_seconds;
    request.max_body_bytes = config_.max_body_bytes;
    // The callback learns its own id through the cell: request() returns it before any
    // callback can run.
    auto id = std::make_shared<uint64_t>(0);
    *id = http_.request(std::move(request), [this, job, id](const HttpClientResponse& r) {
      in_flight_.erase(*id);
      answered(job, r);
    });
    in_flight_.insert(*id);
  }
}

bool QuerySource::decode(const HttpClientResponse& r, bool range, std::vector<ResultSeries>& out,
                         uint64_t& skipped, std::string& error) {
  if (!r.ok) return error = r.error, false;
  bool http_ok = r.status >= 200 && r.status <= 299;
  std::string http_error = "HTTP " + std::to_string(r.status);
  json doc = json::parse(r.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return error = http_ok ? "not a Prometheus API response: the body is not a JSON object"
                           : http_error,
           false;
  }
  std::string status = string_member(doc, "status");
  if (status == "error") {
    std::string type = string_member(doc, "errorType");
    return error = (type.empty() ? "" : type + ": ") + string_member(doc, "error"), false;
  }
  if (!http_ok) return error = http_error, false;
  if (status != "success") {
    return error = "not a Prometheus API response: status \"" + status + "\"", false;
  }
  const json* data = member(doc, "data");
  const char* expected = range ? "matrix" : "vector";
  std::string type = data ? string_member(*data, "resultType") : "";
  if (type != expected) {
    return error = "resultType \"" + type + "\", expected \"" + expected + "\"", false;
  }
  const json* result = member(*data, "result");
  if (!result || !result->is_array()) return error = "no data.result array", false;
  for (const json& entry : *result) {
    ResultSeries series;
    const json* metric = member(entry, "metric");
    if (!metric || !decode_labels(*metric, series.labels)) {
      ++skipped;
      continue;
    }
    if (range) {
      const json* values = member(entry, "values");
      if (!values || !values->is_array()) {
        ++skipped;
        continue;
      }
      for (const json& pair : *values) {
        Sample sample;
        if (decode_pair(pair, sample)) {
          series.samples.push_back(sample);
        } else {
          ++skipped;
        }
      }
      // Prometheus sends them in order; another server might not.
      std::stable_sort(series.samples.begin(), series.samples.end(),
                       [](const Sample& a, const Sample& b) { return a.t_ms < b.t_ms; });
    }
    out.push_back(std::move(series));
  }
  return true;
}

void QuerySource::answered(Job job, const HttpClientResponse& response) {
  if (stopped_) return;
  std::vector<ResultSeries> result;
  uint64_t skipped = 0;
  std::string error;
  bool ok = decode(response, job.range, result, skipped, error);
  health_.skipped_lines += skipped;
  SelectorRound& round = rounds_[job.selector];
  if (!ok) {
    const std::string& selector = selectors_[job.selector];
    spdlog::debug("query source {}: {}: {}", config_.name,
                  job.range ? range_query(selector) : selector, error);
    if (round_error_.empty()) round_error_ = error;
  }
  if (job.range) {
    if (ok) take_range(job.selector, result);
    round.range_done = true;
  } else {
    if (ok) take_instant(job.selector, result);
    round.instant_ok = ok;
    round.instant_done = true;
  }
  if (round.range_done && round.instant_done) end_stale(job.selector);
  --round_pending_;
  launch();
  if (round_pending_ == 0) finish_round();
}

void QuerySource::take_range(size_t selector, std::vector<ResultSeries>& result) {
  for (ResultSeries& series : result) {
    if (round_series_.size() >= config_.max_series) {
      ++health_.rejected_series;
      continue;
    }
    uint32_t id = store_.series(series.labels);
    if (id == kRejectedSeries) {
      ++health_.rejected_series;
      continue;
    }
    round_series_.insert(id);
    SeriesState& state = series_[id];
    bool fresh = false;
    for (const Sample& s : series.samples) {
      if (s.t_ms <= state.last_t_ms) continue;  // seen in an earlier round: not new
      if (store_.append(id, s.t_ms, s.value) == WindowStore::Append::Accepted) {
        ++health_.samples;
        fresh = true;
      }
      state.last_t_ms = s.t_ms;
    }
    if (fresh) {
      state.stale = false;
      selector_series_[selector].insert(id);
    }
  }
}

void QuerySource::take_instant(size_t selector, std::vector<ResultSeries>& result) {
  std::unordered_set<std::string>& present = rounds_[selector].present;
  for (const ResultSeries& series : result) present.insert(labels_text(series.labels));
}

// Prometheus leaves a series out of an instant result once it is stale (a stale marker, or no
// sample for 5 minutes); the store hears of it through a marker of its own, once.
void QuerySource::end_stale(size_t selector) {
  const SelectorRound& round = rounds_[selector];
  if (!round.instant_ok) return;
  std::unordered_set<uint32_t>& live = selector_series_[selector];
  for (auto it = live.begin(); it != live.end();) {
    if (round.present.contains(labels_text(store_.labels(*it)))) {
      ++it;
      continue;
    }
    SeriesState& state = series_[*it];
    if (!state.stale && round_t_ms_ > state.last_t_ms) {
      store_.append(*it, round_t_ms_, stale_marker());
    }
    state.stale = true;
    state.last_t_ms = std::max(state.last_t_ms, round_t_ms_);
    it = live.erase(it);
  }
}

void QuerySource::finish_round() {
  polling_ = false;
  bool up = round_error_.empty();
  if (!up && (health_.up || health_.last_error != round_error_ || health_.failures == 0)) {
    spdlog::warn("query source {} ({}) failed: {}", config_.name, config_.url, round_error_);
  } else if (up && !health_.up && health_.failures > 0) {
    spdlog::info("query source {} ({}) is up again", config_.name, config_.url);
  }
  health_.up = up;
  health_.last_error = round_error_;
  health_.last_duration_seconds = static_cast<double>(uv_hrtime() - round_start_ns_) / 1e9;
  if (up) {
    health_.last_success_ms = round_t_ms_;
  } else {
    ++health_.failures;
  }
  // A series that can no longer appear in a range result needs no state: bounded memory.
  int64_t horizon = round_t_ms_ - 2 * lookback_seconds_ * 1000;
  std::erase_if(series_, [&](const auto& entry) {
    return entry.second.stale && entry.second.last_t_ms < horizon;
  });
  on_scraped_(round_t_ms_);  // last: it may stop or destroy this source
}

}  // namespace setpoint
