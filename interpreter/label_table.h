// Label sets interned to small numbers, so that evaluation moves (id, value) pairs instead of
// strings: matching two samples is comparing two ids, and dropping the metric name is a lookup.
#pragma once

#include <cstdint>
#include <deque>
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
  // Each set's place in label order (Labels' operator<), by id, so that ids sort without
  // comparing strings. Brought up to date with the sets added since the last call.
  const std::vector<uint32_t>& order();
  // Whether order() would return at once: no set was added since it last ran.
  bool ordered() const { return rank_.size() == sets_.size(); }

  // The labels two samples are matched or grouped on: with keep_listed, exactly the listed ones
  // (on (...), by (...)); otherwise all but the listed ones and __name__ (ignoring (...),
  // without (...), and the default). Cached per (slot, id): a slot is one operator's node.
  LabelSetId project(uint32_t slot, LabelSetId id, const std::vector<std::string_view>& names,
                     bool keep_listed);

 private:
  static constexpr LabelSetId kUnknown = UINT32_MAX;
  LabelSetId compute_without_name(LabelSetId id);
  // A deque, so that a set's labels stay where they are while the table grows: a caller may
  // hold them across an evaluation that adds sets.
  std::deque<Labels> sets_;
  std::vector<LabelSetId> without_name_;
  std::vector<LabelSetId> sorted_;  // the ids order() has placed, in label order
  std::vector<uint32_t> rank_;      // id -> its index in sorted_
  std::unordered_map<std::string, LabelSetId> by_key_;
  std::unordered_map<uint64_t, LabelSetId> projections_;  // (slot << 32 | id) -> id
  std::string key_;                                       // reused
};

}  // namespace setpoint
