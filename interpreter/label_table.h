// Label sets interned to small numbers, so that evaluation moves (id, value) pairs instead of
// strings: matching two samples is comparing two ids, and dropping the metric name is a lookup.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "interpreter/labels.h"

namespace setpoint {

using LabelSetId = uint32_t;

class LabelTable {
 public:
  LabelTable();
  // The id of a normalized label set, adding it when new.
  LabelSetId intern(const Labels& labels);
  const Labels& get(LabelSetId id) const { return sets_[id]; }
  size_t size() const { return sets_.size(); }
  // The same set without __name__ (cached: every function and arithmetic operator asks).
  LabelSetId without_name(LabelSetId id) {
    LabelSetId known = without_name_[id];
    return known != kUnknown ? known : compute_without_name(id);
  }
  // The empty label set.
  static constexpr LabelSetId kEmpty = 0;

  // The labels two samples are matched or grouped on: with keep_listed, exactly the listed ones
  // (on (...), by (...)); otherwise all but the listed ones and __name__ (ignoring (...),
  // without (...), and the default). Cached per (slot, id): a slot is one operator's node.
  LabelSetId project(uint32_t slot, LabelSetId id, const std::vector<std::string_view>& names,
                     bool keep_listed);

 private:
  static constexpr LabelSetId kUnknown = UINT32_MAX;
  LabelSetId compute_without_name(LabelSetId id);
  std::vector<Labels> sets_;
  std::vector<LabelSetId> without_name_;
  std::unordered_map<std::string, LabelSetId> by_key_;
  std::unordered_map<uint64_t, LabelSetId> projections_;  // (slot << 32 | id) -> id
  std::string key_;                                       // reused
};

}  // namespace setpoint
