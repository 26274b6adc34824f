// The window store: per-series sample buffers used as rings, the limits that bound them, and
// the Prometheus rules for what range and instant selectors see.
#include "interpreter/window_store.h"

#include <algorithm>
#include <numeric>

namespace setpoint {

namespace {

// A key no two different label sets share: names and values never contain 0xff in valid UTF-8,
// so it separates them without escaping.
std::string canonical_key(const Labels& labels) {
  std::string key;
  size_t n = 0;
  for (const Label& l : labels) n += l.name.size() + l.value.size() + 2;
  key.reserve(n);
  for (const Label& l : labels) {
    key += l.name;
    key += '\xff';
    key += l.value;
    key += '\xff';
  }
  return key;
}

// a - b for b >= 0, saturating at INT64_MIN instead of overflowing.
int64_t minus(int64_t a, int64_t b) { return a < INT64_MIN + b ? INT64_MIN : a - b; }

bool is_normalized(const Labels& labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].value.empty()) return false;
    if (i > 0 && !(labels[i - 1].name < labels[i].name)) return false;
  }
  return true;
}

// The first sample of [begin, end) newer than t, searched from the newest end: the daemon asks
// for windows that end at (or near) the newest sample and reach a minute or so back into a
// buffer of an hour, so doubling steps from the end touch only the cache lines that the caller
// reads next, where a binary search over the buffer starts half a buffer away (a cache miss per
// probe, for every selector of every evaluation).
using SampleIt = std::vector<Sample>::const_iterator;
SampleIt first_after(SampleIt begin, SampleIt end, int64_t t) {
  if (begin == end || (end - 1)->t_ms <= t) return end;
  // Invariant: *(end - low) is newer than t; find a step at which it is not, or the front.
  std::ptrdiff_t size = end - begin, low = 1, high = 2;
  while (high <= size && (end - high)->t_ms > t) {
    low = high;
    high *= 2;
  }
  // The answer is in (end - min(high, size+1), end - low]: the first newer sample after the
  // last older one.
  SampleIt from = high > size ? begin : end - high + 1;
  return std::upper_bound(from, end - low, t,
                          [](int64_t x, const Sample& s) { return x < s.t_ms; });
}

const Labels kNoLabels;
const std::vector<uint32_t> kNoSeries;

}  // namespace

WindowStore::WindowStore(StoreLimits limits) : limits_(limits) {
  // A zero cap would make every append evict the sample it just stored.
  if (limits_.max_samples_per_series == 0) limits_.max_samples_per_series = 1;
}

uint32_t WindowStore::series(const Labels& labels) {
  // Callers are asked to normalize; a caller that did not still gets one id per label set.
  Labels normalized;
  const Labels* ls = &labels;
  if (!is_normalized(labels)) {
    normalized = labels;
    normalize_labels(normalized);
    ls = &normalized;
  }
  std::string key = canonical_key(*ls);
  if (auto it = by_key_.find(key); it != by_key_.end()) return it->second;
  // Ids are uint32_t with kRejectedSeries reserved, whatever max_series says.
  if (labels_.size() >= limits_.max_series || labels_.size() >= kRejectedSeries) {
    return kRejectedSeries;
  }
  uint32_t id = static_cast<uint32_t>(labels_.size());
  labels_.push_back(*ls);
  buffers_.emplace_back();
  by_key_.emplace(std::move(key), id);
  by_name_[std::string(label_value(*ls, "__name__"))].push_back(id);
  return id;
}

void WindowStore::sample(uint32_t series, int64_t t_ms, double value) {
  append(series, t_ms, value);
}

WindowStore::Append WindowStore::append(uint32_t series, int64_t t_ms, double value) {
  if (series >= buffers_.size()) {
    ++counters_.rejected_series;
    return Append::Rejected;
  }
  Buffer& b = buffers_[series];
  if (b.head < b.samples.size()) {
    int64_t newest = b.samples.back().t_ms;
    if (t_ms < newest) {
      ++counters_.out_of_order;
      return Append::OutOfOrder;
    }
    if (t_ms == newest) {
      ++counters_.duplicate;
      return Append::Duplicate;
    }
  }
  if (b.samples.size() == b.samples.capacity() || b.head >= b.compact_at) make_room(b, series);
  b.samples.push_back(Sample{t_ms, value});
  if (is_stale_marker(value)) b.newest_stale_ms = t_ms;
  b.appended_at = ++counters_.accepted;
  evict(b, t_ms);
  return Append::Accepted;
}

void WindowStore::evict(Buffer& b, int64_t newest_ms) {
  size_t end = b.samples.size();
  size_t head = b.head;
  if (limits_.retention_ms > 0) {
    int64_t cutoff = minus(newest_ms, limits_.retention_ms);
    while (head < end && b.samples[head].t_ms < cutoff) ++head;
  }
  if (end - head > limits_.max_samples_per_series) head = end - limits_.max_samples_per_series;
  if (head == b.head) return;
  counters_.evicted += head - b.head;
  b.head = head;
}

// A full buffer either drops its dead prefix in place, when that frees at least an eighth of
// what is live (so a sample is moved at most 8 times on average), or moves what is live into a
// buffer a quarter larger. A series whose live count is steady (a retention, a regular scrape)
// thus settles at 1.125 to 1.25 times its live samples: growth by doubling, which a vector
// would do, leaves up to 2 times, and a vector never gives memory back.
//
// Series scraped together fill their buffers at the same ticks: every buffer of a scrape would
// drop its prefix at the same tick, one pause that moves all their samples (48 MB for 10,000
// series of 5 minutes at 1 s) and leaves a cold cache to the evaluation after it. So a buffer
// drops its prefix once its head reaches a point that varies by series, between an eighth of
// what is live (the least worth a move) and the full buffer: the periods differ and the moves
// spread over the ticks, as widely as the buffer's spare room allows, and the buffers keep
// their sizes (sizes that varied by series cost 20 MB more RSS in a daemon).
void WindowStore::make_room(Buffer& b, uint32_t series) {
  size_t live = b.samples.size() - b.head;
  auto first = b.samples.begin() + static_cast<std::ptrdiff_t>(b.head);
  if (b.head > live / 8) {
    b.samples.erase(b.samples.begin(), first);
  } else if (b.samples.size() == b.samples.capacity()) {
    std::vector<Sample> bigger;
    bigger.reserve(live + live / 4 + 4);
    bigger.assign(first, b.samples.end());
    b.samples.swap(bigger);
  } else {
    b.compact_at = SIZE_MAX;  // live grew since the point was set: wait for a full buffer
    return;
  }
  b.erased += b.head;
  b.head = 0;
  size_t room = b.samples.capacity() - live, least = live / 8 + 1;
  b.compact_at = SIZE_MAX;
  if (room > least) {
    b.compact_at = least + (static_cast<size_t>(series) * 2654435761u) % (room - least + 1);
  }
}

size_t WindowStore::series_count() const { return labels_.size(); }

const Labels& WindowStore::labels(uint32_t series) const {
  return series < labels_.size() ? labels_[series] : kNoLabels;
}

const std::vector<uint32_t>& WindowStore::series_named(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? kNoSeries : it->second;
}

std::vector<uint32_t> WindowStore::all_series() const {
  std::vector<uint32_t> ids(labels_.size());
  std::iota(ids.begin(), ids.end(), 0u);
  return ids;
}

void WindowStore::range(uint32_t series, int64_t from_ms, int64_t to_ms,
                        std::vector<Sample>& out) const {
  out.clear();
  if (series >= buffers_.size() || to_ms <= from_ms) return;
  const Buffer& b = buffers_[series];
  auto begin = b.samples.begin() + static_cast<std::ptrdiff_t>(b.head);
  auto last = first_after(begin, b.samples.cend(), to_ms);
  auto first = first_after(begin, last, from_ms);
  // Branch-free: write every sample, advance past the ones that are not stale markers.
  out.resize(static_cast<size_t>(last - first));
  size_t kept = 0;
  for (auto it = first; it != last; ++it) {
    out[kept] = *it;
    kept += !is_stale_marker(it->value);
  }
  out.resize(kept);
}

std::span<const Sample> WindowStore::range_view(uint32_t series, int64_t from_ms, int64_t to_ms,
                                                std::vector<Sample>& scratch) const {
  if (series >= buffers_.size() || to_ms <= from_ms) return {};
  const Buffer& b = buffers_[series];
  if (b.newest_stale_ms > from_ms) {  // a marker may be in the range: leave it out
    range(series, from_ms, to_ms, scratch);
    return scratch;
  }
  auto begin = b.samples.begin() + static_cast<std::ptrdiff_t>(b.head);
  auto last = first_after(begin, b.samples.cend(), to_ms);
  auto first = first_after(begin, last, from_ms);
  return {b.samples.data() + (first - b.samples.begin()), static_cast<size_t>(last - first)};
}

WindowStore::Positioned WindowStore::positioned(uint32_t series) const {
  if (series >= buffers_.size()) return {};
  const Buffer& b = buffers_[series];
  return {b.erased + b.head, {b.samples.data() + b.head, b.samples.size() - b.head}};
}

std::optional<Sample> WindowStore::instant(uint32_t series, int64_t t_ms,
                                           int64_t lookback_ms) const {
  if (series >= buffers_.size() || lookback_ms <= 0) return std::nullopt;
  const Buffer& b = buffers_[series];
  auto begin = b.samples.begin() + static_cast<std::ptrdiff_t>(b.head);
  auto after = first_after(begin, b.samples.cend(), t_ms);
  if (after == begin) return std::nullopt;
  const Sample& s = *(after - 1);
  // Prometheus 3.x excludes the left edge: a sample exactly `lookback` old is not seen.
  if (s.t_ms <= minus(t_ms, lookback_ms)) return std::nullopt;
  if (is_stale_marker(s.value)) return std::nullopt;
  return s;
}

std::optional<int64_t> WindowStore::newest_ms() const {
  std::optional<int64_t> newest;
  for (const Buffer& b : buffers_) {
    if (b.head < b.samples.size() && (!newest || b.samples.back().t_ms > *newest)) {
      newest = b.samples.back().t_ms;
    }
  }
  return newest;
}

std::optional<int64_t> WindowStore::oldest_ms() const {
  std::optional<int64_t> oldest;
  for (const Buffer& b : buffers_) {
    if (b.head < b.samples.size() && (!oldest || b.samples[b.head].t_ms < *oldest)) {
      oldest = b.samples[b.head].t_ms;
    }
  }
  return oldest;
}

size_t WindowStore::sample_count() const {
  size_t n = 0;
  for (const Buffer& b : buffers_) n += b.samples.size() - b.head;
  return n;
}

size_t WindowStore::sample_bytes() const {
  size_t n = 0;
  for (const Buffer& b : buffers_) n += b.samples.capacity() * sizeof(Sample);
  return n;
}

}  // namespace setpoint
