#include "interpreter/label_table.h"

#include <algorithm>

namespace setpoint {

LabelTable::LabelTable() { intern({}); }

LabelSetId LabelTable::intern(const Labels& labels) {
  // Names and values are UTF-8, which never holds 0xff: it separates them without escapes.
  key_.clear();
  for (const Label& l : labels) {
    key_ += l.name;
    key_ += '\xff';
    key_ += l.value;
    key_ += '\xff';
  }
  auto found = by_key_.find(key_);
  if (found != by_key_.end()) return found->second;
  auto id = static_cast<LabelSetId>(sets_.size());
  sets_.push_back(labels);
  without_name_.push_back(kUnknown);
  by_key_.emplace(key_, id);
  return id;
}

LabelSetId LabelTable::compute_without_name(LabelSetId id) {
  LabelSetId out = id;
  Labels labels = sets_[id];
  if (std::erase_if(labels, [](const Label& l) { return l.name == "__name__"; }) > 0) {
    out = intern(labels);
  }
  without_name_[id] = out;  // intern() may have grown the vector: index again
  return out;
}

const std::vector<uint32_t>& LabelTable::order() {
  if (rank_.size() == sets_.size()) return rank_;
  // The sets added since the last call are sorted among themselves and merged in: a table
  // that grows by a few sets costs a pass over the ranks, not a sort of the whole table.
  auto old = static_cast<std::ptrdiff_t>(sorted_.size());
  for (auto id = static_cast<LabelSetId>(old); id < sets_.size(); ++id) sorted_.push_back(id);
  auto less = [this](LabelSetId a, LabelSetId b) { return sets_[a] < sets_[b]; };
  std::sort(sorted_.begin() + old, sorted_.end(), less);
  std::inplace_merge(sorted_.begin(), sorted_.begin() + old, sorted_.end(), less);
  rank_.resize(sets_.size());
  for (size_t r = 0; r < sorted_.size(); ++r) rank_[sorted_[r]] = static_cast<uint32_t>(r);
  return rank_;
}

LabelSetId LabelTable::project(uint32_t slot, LabelSetId id,
                               const std::vector<std::string_view>& names, bool keep_listed) {
  uint64_t key = static_cast<uint64_t>(slot) << 32 | id;
  auto found = projections_.find(key);
  if (found != projections_.end()) return found->second;
  Labels out;
  for (const Label& l : sets_[id]) {
    bool listed = std::find(names.begin(), names.end(), l.name) != names.end();
    if (keep_listed ? listed : (!listed && l.name != "__name__")) out.push_back(l);
  }
  LabelSetId projected = intern(out);
  projections_.emplace(key, projected);
  return projected;
}

}  // namespace setpoint
