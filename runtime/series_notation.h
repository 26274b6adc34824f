// promtool's series notation, as in the input_series of `promtool test rules`: a series
// `metric{label="value", ...}` and a values string such as `0+10x5 _x2 stale 3`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "interpreter/labels.h"

namespace setpoint {

// One input series: its labels and one entry per interval step, from the first step on.
struct SeriesDesc {
  Labels labels;                              // normalized (sorted, no empty values)
  std::vector<std::optional<double>> values;  // nullopt = missing ("_"); stale_marker() = "stale"
};

// Values are expanded in memory, so a series is bounded (1,000,000 steps: 11.5 days at 1s,
// almost two years at 1m). promtool has no bound, and `1x18446744073709551616` makes it loop
// until memory runs out.
inline constexpr size_t kMaxSeriesValues = 1'000'000;

// The series text: an optional metric name and an optional `{...}` of label pairs with
// PromQL-quoted values ("...", '...' with Go escapes, `...` raw). As in promtool a name outside
// the braces wins over a `__name__` inside them, and a label with an empty value is absent.
// Differences from promtool, all refusals of what it accepts: a label value that is not valid
// UTF-8 (promtool takes `\xff`), a series with no label at all (`{}`), and `#` inside braces
// (promtool reads the rest of the line as a comment). On failure `error` (when given) says
// "series at offset N: ..." with N a byte offset into `series`.
std::optional<Labels> parse_series_labels(std::string_view series, std::string* error);

// The values text, items separated by blanks (space, tab, CR, LF):
//   a        one value: 1, -2, +3, .5, 5., 1e3, 1E-3, Inf, -Inf, NaN (any case)
//   stale    a staleness marker (exactly this word)
//   _        a missing value
//   axn      a repeated n+1 times (1x3 is 1 1 1 1)
//   a+bxn    a, a+b, ..., a+n*b: n+1 values (0+10x2 is 0 10 20)
//   a-bxn    a, a-b, ..., a-n*b: n+1 values
//   _xn      n missing values (_x3 is _ _ _: not n+1, since a missing value cannot be stepped)
// The rules are those of Prometheus' promql/parser: generated_parser.y `series_item` (the loops
// `i <= n` for values and `i < n` for `_`), lex.go `lexValueSequence` and `scanNumber`, and
// parse.go `number`; checked against promtool 2.42. Three of them surprise:
//   - a+bxn adds b again at every step (`a += b`), as promtool does, so 0.2+0.1x30 gives
//     0.9999999999999999 at step 8, not 1.
//   - an integer with a leading 0 is octal, because promtool reads numbers with Go's
//     strconv.ParseInt(s, 0, 64) first: 010 is 8 (but 08 and 0778 are decimal, as ParseInt
//     fails on them and ParseFloat takes over).
//   - `stale` steps to NaN: stale+1x2 is stale NaN NaN, since adding to the marker makes an
//     ordinary NaN. `stalex3`, `Infx3` are one word and refused; Inf+0x3 repeats Inf.
// A number out of range (1e400) is refused, as in promtool; one that underflows is 0.
// On failure `error` (when given) says "values at offset N: ..." with N a byte offset into
// `values` where the offending token starts, and quotes that token.
std::optional<std::vector<std::optional<double>>> parse_series_values(std::string_view values,
                                                                      std::string* error);

// Both of the above; the first error found is the one reported.
std::optional<SeriesDesc> parse_series_desc(std::string_view series, std::string_view values,
                                            std::string* error);

// Announces the series to the sink once and passes every value that is not missing, the i-th
// at start_ms + i * interval_ms (promtool starts at 0 with the test's interval). Missing values
// take their step but pass nothing. Returns the number of samples passed: 0 when the sink
// rejects the series or interval_ms is not positive; it stops at a time past the int64 range.
size_t feed_series(const SeriesDesc& desc, int64_t start_ms, int64_t interval_ms, SampleSink& sink);

}  // namespace setpoint
