// The effect model: reading [[effect]] tables with TOML++ (errors with file:line:col and a hint)
// and applying them to replayed samples, gauges by their value and counters by their increments.
#include "runtime/effect_model.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numbers>

#include "grammar/literal.h"
#include "grammar/spelling.h"
#include "runtime/metrics_reader.h"
#include "runtime/toml_errors.h"

namespace setpoint {
namespace {

using metrics_detail::quote;

// ---------------------------------------------------------------------------------------------
// Reading the TOML.

constexpr std::string_view kEffectKeys[] = {"knob",  "metric", "labels", "per_doubling", "per_unit",
                                            "delay", "ramp",   "noise",  "seed"};

// A delay or ramp past this would never show within a replay; the bound keeps ms in range.
constexpr int64_t kMaxDurationMs = int64_t{10} * 365 * 86400 * 1000;

std::string number_text(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

bool is_metric_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':';
  });
}

bool is_label_name(std::string_view s) {
  return is_metric_name(s) && s.find(':') == std::string_view::npos;
}

class Reader : public TomlErrors {
 public:
  explicit Reader(std::string_view file) : TomlErrors(file) {}

  void document(const toml::table& root, std::vector<Effect>& effects) {
    for (auto&& [key, node] : root) {
      if (key.str() != "effect") {
        std::string hint = did_you_mean(key.str(), {"effect"});
        error(key.source(), "unknown key " + quote(key.str()),
              hint.empty() ? "the file holds [[effect]] tables and nothing else" : hint);
        continue;
      }
      const toml::array* list = node.as_array();
      if (!list || !list->is_array_of_tables()) {
        error(key.source(), "\"effect\" must be an array of tables, not " + type_name(node.type()),
              "write each one as [[effect]], with double brackets");
        continue;
      }
      for (const toml::node& element : *list) {
        Effect e;
        if (effect(*element.as_table(), e)) effects.push_back(std::move(e));
      }
    }
  }

 private:
  bool wrong_type(const toml::key& key, const toml::node& node, std::string_view wanted,
                  std::string hint) {
    error(node.source(),
          quote(key.str()) + " must be " + std::string(wanted) + ", not " + type_name(node.type()),
          std::move(hint));
    return false;
  }

  bool number(const toml::key& key, const toml::node& node, double& out, std::string hint) {
    if (auto* f = node.as_floating_point()) {
      out = f->get();
    } else if (auto* i = node.as_integer()) {
      out = static_cast<double>(i->get());
    } else {
      return wrong_type(key, node, "a number", std::move(hint));
    }
    if (!std::isfinite(out)) {
      error(node.source(), quote(key.str()) + " must be finite", std::move(hint));
      return false;
    }
    return true;
  }

  bool duration(const toml::key& key, const toml::node& node, int64_t& ms) {
    std::string name(key.str());
    const auto* s = node.as_string();
    if (!s) {
      std::string hint = "write " + name + " = \"1m\"";
      if (auto* i = node.as_integer())
        hint = "write " + name + " = \"" + std::to_string(i->get()) + "s\" for seconds";
      return wrong_type(key, node, "a duration string", hint);
    }
    const std::string& text = s->get();
    NumberLiteral n = decode_number(text);
    const std::string usual = "durations look like 30s, 1m or 1h30m";
    if (!n.ok) {
      error(node.source(), quote(name) + " is not a duration: " + n.error,
            n.hint.empty() ? usual : n.hint);
      return false;
    }
    if (n.unit != Unit::Seconds && !(n.unit == Unit::None && n.value == 0)) {
      error(node.source(), quote(name) + " is not a duration: " + quote(text), usual);
      return false;
    }
    if (!(n.value * 1000 <= static_cast<double>(kMaxDurationMs))) {
      error(node.source(), quote(name) + " is longer than 10 years",
            "an effect this slow never shows within a replay");
      return false;
    }
    ms = std::llround(n.value * 1000);
    return true;
  }

  bool labels(const toml::key& key, const toml::node& node, Labels& out) {
    const toml::table* t = node.as_table();
    if (!t) return wrong_type(key, node, "a table", "write labels = { job = \"api\" }");
    bool ok = true;
    for (auto&& [name, value] : *t) {
      std::string n(name.str());
      if (n == "__name__") {
        error(name.source(), "labels cannot match \"__name__\"",
              "the metric name goes in metric = \"...\"");
        ok = false;
      } else if (!is_label_name(n)) {
        error(name.source(), quote(n) + " is not a label name",
              "a label name is letters, digits and \"_\", not starting with a digit");
        ok = false;
      } else if (const auto* s = value.as_string()) {
        out.push_back({n, s->get()});
      } else {
        error(
            value.source(),
            "the value of label " + quote(n) + " must be a string, not " + type_name(value.type()),
            "write " + n + " = \"api\"");
        ok = false;
      }
    }
    std::sort(out.begin(), out.end());
    return ok;
  }

  // One [[effect]]; false (with errors) when it is not usable.
  bool effect(const toml::table& table, Effect& e) {
    e.where = where(table.source());
    bool ok = true;
    bool has_knob = false, has_metric = false;
    const toml::key* scale_key = nullptr;  // the first of per_doubling / per_unit in the file
    for (auto&& [key, node] : table) {
      std::string_view k = key.str();
      if (k == "knob" || k == "metric") {
        const auto* s = node.as_string();
        std::string example = k == "knob" ? "cache_ttl" : "http_request_duration_seconds";
        if (!s) {
          ok = wrong_type(key, node, "a string",
                          "write " + std::string(k) + " = \"" + example + "\"");
          (k == "knob" ? has_knob : has_metric) = true;
          continue;
        }
        if (k == "knob") {
          has_knob = true;
          e.knob = s->get();
          if (e.knob.empty()) {
            error(node.source(), "\"knob\" is empty",
                  "name the knob whose change causes the effect");
            ok = false;
          }
        } else {
          has_metric = true;
          e.metric = s->get();
          if (!is_metric_name(e.metric)) {
            error(node.source(), quote(e.metric) + " is not a metric name",
                  "a metric name is letters, digits, \"_\" and \":\", not starting with a digit");
            ok = false;
          }
        }
      } else if (k == "labels") {
        ok = labels(key, node, e.labels) && ok;
      } else if (k == "per_doubling" || k == "per_unit") {
        bool doubling = k == "per_doubling";
        std::string meaning = doubling ? "-0.25 means each doubling of the knob moves the metric "
                                         "by -25 %"
                                       : "0.01 means each +1 of the knob moves the metric by +1 %";
        if (scale_key) {
          // Report it at whichever of the two comes later in the file.
          const toml::key* later = scale_key;
          if (std::pair(key.source().begin.line, key.source().begin.column) >
              std::pair(later->source().begin.line, later->source().begin.column))
            later = &key;
          error(later->source(), "[[effect]] has both \"per_doubling\" and \"per_unit\"",
                "keep per_doubling for knobs that scale (sizes, TTLs) or per_unit for knobs "
                "that count (workers, replicas)");
          ok = false;
          continue;
        }
        scale_key = &key;
        double g = 0;
        if (!number(key, node, g, "a relative change: " + meaning)) {
          ok = false;
          continue;
        }
        if (!(1 + g > 0)) {
          error(node.source(),
                std::string(k) + " = " + number_text(g) + " would make the metric's factor 1 + (" +
                    number_text(g) + ") = " + number_text(1 + g) + ", which is not positive",
                "it must be above -1: " + meaning);
          ok = false;
          continue;
        }
        e.scale = doubling ? EffectScale::PerDoubling : EffectScale::PerUnit;
        e.change = g;
      } else if (k == "delay") {
        ok = duration(key, node, e.delay_ms) && ok;
      } else if (k == "ramp") {
        ok = duration(key, node, e.ramp_ms) && ok;
      } else if (k == "noise") {
        const std::string hint = "it is a standard deviation relative to the value: 0.02 is 2 %";
        if (!number(key, node, e.noise, hint)) {
          ok = false;
        } else if (e.noise < 0 || e.noise > 1) {
          error(node.source(), "noise = " + number_text(e.noise) + " is outside 0 to 1", hint);
          ok = false;
        }
      } else if (k == "seed") {
        if (auto* i = node.as_integer()) {
          e.seed = static_cast<uint64_t>(i->get());
        } else {
          ok = wrong_type(key, node, "an integer", "write seed = 7");
        }
      } else {
        std::vector<std::string_view> keys(std::begin(kEffectKeys), std::end(kEffectKeys));
        std::string hint = did_you_mean(k, keys);
        error(key.source(), "unknown key " + quote(k) + " in [[effect]]",
              hint.empty() ? "the keys are knob, metric, labels, per_doubling, per_unit, delay, "
                             "ramp, noise and seed"
                           : hint);
        ok = false;
      }
    }
    if (!has_knob) {
      error(table.source(), "[[effect]] has no \"knob\"",
            "name the knob whose change causes the effect: knob = \"cache_ttl\"");
      ok = false;
    }
    if (!has_metric) {
      error(table.source(), "[[effect]] has no \"metric\"",
            "name the metric it moves: metric = \"http_request_duration_seconds\"");
      ok = false;
    }
    if (!scale_key) {
      error(table.source(), "[[effect]] has neither \"per_doubling\" nor \"per_unit\"",
            "say how far the metric moves: per_doubling = -0.25 (-25 % for each doubling of "
            "the knob) or per_unit = 0.01 (+1 % for each +1)");
      ok = false;
    }
    return ok;
  }
};

// ---------------------------------------------------------------------------------------------
// Applying the effects.

// FNV-1a, then splitmix64's finalizer: a hash fixed here (std::hash is not), so that a seed
// gives the same noise on every machine and build.
struct Hash {
  uint64_t h = 0xcbf29ce484222325ull;
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  }
  void text(std::string_view s) {
    bytes(s.data(), s.size());
    bytes("\xff", 1);  // a separator no UTF-8 text holds
  }
  void word(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(b, 8);
  }
};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A standard normal deviate that depends on (seed, effect, series, t) only: every sample hashes
// its own generator state, so asking in any order gives the same noise. Box-Muller on two
// uniforms, u1 in (0, 1] so that its logarithm is finite.
double gaussian(const Effect& e, const Labels& series, int64_t t_ms) {
  Hash hash;
  hash.word(e.seed);
  hash.text(e.knob);
  hash.text(e.metric);
  for (const Label& l : series) {
    hash.text(l.name);
    hash.text(l.value);
  }
  hash.word(static_cast<uint64_t>(t_ms));
  uint64_t state = hash.h;
  double u1 = static_cast<double>((splitmix64(state) >> 11) + 1) * 0x1.0p-53;
  double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
}

// Factors are capped, so that an absurd change (per_unit over a huge step) gives a huge factor
// rather than an infinity that a zero noise factor or a zero increment would make NaN.
constexpr double kMaxFactor = std::numeric_limits<double>::max();

// The exponent of (1 + change) for one change, or nullopt when the effect cannot use it.
std::optional<double> exponent(const Effect& e, const KnobChange& c) {
  if (!std::isfinite(c.old_value) || !std::isfinite(c.new_value)) return std::nullopt;
  if (e.scale == EffectScale::PerUnit) return c.new_value - c.old_value;
  if (!(c.old_value > 0 && c.new_value > 0)) return std::nullopt;
  return std::log2(c.new_value / c.old_value);
}

// The factor of one effect at t over all the changes of its knob; `active` when one of them
// has started to act (its delay is over).
double effect_factor(const Effect& e, int64_t t_ms, const std::vector<KnobChange>& changes,
                     bool& active) {
  double f = 1;
  for (const KnobChange& c : changes) {
    if (c.knob != e.knob) continue;
    std::optional<double> x = exponent(e, c);
    if (!x) continue;
    int64_t start = 0;
    if (__builtin_add_overflow(c.t_ms, e.delay_ms, &start)) continue;
    if (t_ms <= start) continue;  // "changed before t - delay": strictly
    active = true;
    double full = std::min(std::pow(1 + e.change, *x), kMaxFactor);
    int64_t since = 0;
    if (e.ramp_ms == 0 || __builtin_sub_overflow(t_ms, start, &since) || since >= e.ramp_ms) {
      f = std::min(f * full, kMaxFactor);
    } else {
      double p = static_cast<double>(since) / static_cast<double>(e.ramp_ms);
      f = std::min(f * (1 + p * (full - 1)), kMaxFactor);  // the factor moves linearly to full
    }
  }
  return f;
}

std::string encode(const Labels& labels) {
  std::string key;
  for (const Label& l : labels) {
    key += l.name;
    key += '\xff';
    key += l.value;
    key += '\xfe';
  }
  return key;
}

}  // namespace

std::optional<EffectModel> EffectModel::parse(std::string_view toml_text, std::string_view file,
                                              std::vector<std::string>& errors) {
  Reader reader(file);
  EffectModel model;
  try {
    toml::table root = toml::parse(toml_text, file);
    reader.document(root, model.effects_);
  } catch (const toml::parse_error& e) {
    reader.error(e.source(), "invalid TOML: " + std::string(e.description()));
  }
  reader.flush(errors);
  if (reader.failed()) return std::nullopt;
  return model;
}

bool EffectModel::is_counter(std::string_view name) {
  for (std::string_view suffix : {"_total", "_count", "_sum", "_bucket"}) {
    if (name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix)
      return true;
  }
  return false;
}

void EffectModel::matching(const Labels& series, std::vector<uint32_t>& out) const {
  out.clear();
  std::string_view name = label_value(series, "__name__");
  for (size_t i = 0; i < effects_.size(); ++i) {
    const Effect& e = effects_[i];
    if (e.metric != name) continue;
    bool all = std::all_of(e.labels.begin(), e.labels.end(),
                           [&](const Label& m) { return label_value(series, m.name) == m.value; });
    if (all) out.push_back(static_cast<uint32_t>(i));
  }
}

double EffectModel::factor_of(const std::vector<uint32_t>& matched, const Labels& series,
                              int64_t t_ms, const std::vector<KnobChange>& changes) const {
  double f = 1;
  for (uint32_t i : matched) {
    const Effect& e = effects_[i];
    bool active = false;
    f = std::min(f * effect_factor(e, t_ms, changes, active), kMaxFactor);
    // Noise stands for what the model does not know about the effect, so it starts with it.
    // Clamped at 0 so that a value never changes sign (and a counter never runs backwards).
    if (active && e.noise > 0) {
      f = std::min(f * std::max(0.0, 1 + e.noise * gaussian(e, series, t_ms)), kMaxFactor);
    }
  }
  return f;
}

double EffectModel::factor(const Labels& series, int64_t t_ms,
                           const std::vector<KnobChange>& changes) const {
  std::vector<uint32_t> matched;
  matching(series, matched);
  return factor_of(matched, series, t_ms, changes);
}

double EffectModel::apply(const Labels& series, int64_t t_ms, double recorded,
                          const std::vector<KnobChange>& changes) {
  if (!std::isfinite(recorded)) return recorded;  // NaN keeps its bits: stale stays stale
  matching(series, matched_);
  if (matched_.empty()) return recorded;
  double m = factor_of(matched_, series, t_ms, changes);
  if (!is_counter(label_value(series, "__name__"))) return m == 1 ? recorded : recorded * m;

  auto [it, fresh] = counters_.try_emplace(encode(series));
  CounterState& s = it->second;
  if (fresh || t_ms < s.last_t) {
    s = {t_ms, recorded, recorded, 0};
    return recorded;
  }
  if (t_ms == s.last_t) return s.last_out;
  double out;
  if (recorded >= s.last_recorded) {
    s.offset += (recorded - s.last_recorded) * (m - 1);
    // In exact arithmetic out - last_out is the increment times m >= 0; the max keeps rounding
    // from ever making it negative.
    out = std::max(recorded + s.offset, s.last_out);
  } else {
    // A reset: the recording starts again from 0, and so does the output, with the increment
    // since the reset (the recorded value itself) moved.
    s.offset = recorded * (m - 1);
    out = recorded + s.offset;
  }
  s.last_t = t_ms;
  s.last_recorded = recorded;
  s.last_out = out;
  return out;
}

std::vector<std::string> EffectModel::unusable_changes(
    const std::vector<KnobChange>& changes) const {
  std::vector<std::string> out;
  for (const KnobChange& c : changes) {
    for (const Effect& e : effects_) {
      if (e.knob != c.knob || exponent(e, c)) continue;
      bool doubling = e.scale == EffectScale::PerDoubling;
      out.push_back("knob " + quote(c.knob) + " changed from " + number_text(c.old_value) + " to " +
                    number_text(c.new_value) + " at " + std::to_string(c.t_ms) +
                    " ms: the effect at " + e.where +
                    (doubling ? " works per doubling and needs both values above 0"
                              : " works per unit and needs finite values") +
                    ", so it leaves this change out");
    }
  }
  return out;
}

}  // namespace setpoint
