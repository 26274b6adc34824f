// Which instances of a policy went, which are new, and which have something to say at this
// evaluation (firing and not yet acted on, or pending for their whole `for`). Two ways to the
// same answer: merging the instances present now with the active ones, a pass over all of
// them; or, when the condition is a mask over the same elements as at the last evaluation,
// from the bits that changed, with no pass over the instances that simply go on holding (in
// a replay most of them, most of the time). evaluate_policy() then reports both alike.
#include <algorithm>
#include <bit>

#include "interpreter/engine.h"

namespace setpoint {

void Engine::merge_present(size_t p, int64_t t_ms, int64_t hold) {
  // Merge the present ids with the active instances. Holds that simply go on cost no label
  // work; the instances with something to say are handled after, in label order, so that
  // events and which instance acts first do not depend on how ids were handed out.
  PolicyState& st = state_[p];
  std::vector<ActiveInstance>& next = next_instances_;
  std::vector<ActiveInstance>& gone = gone_instances_;
  std::vector<std::pair<size_t, bool>>& notable = notable_;  // index in next, fresh
  // Firing but not yet acted on, or pending for its whole `for`: handled below.
  auto has_news = [t_ms, hold](const Instance& inst) {
    return inst.firing ? !inst.acted : t_ms - inst.active_since >= hold;
  };
  // Mostly the same instances hold as at the last evaluation: they are updated in place.
  bool unchanged = present_.size() == st.instances.size();
  for (size_t i = 0; unchanged && i < present_.size(); ++i) {
    unchanged = present_[i] == st.instances[i].id;
  }
  if (unchanged) {
    for (size_t i = 0; i < present_.size(); ++i) {
      if (has_news(st.instances[i].state)) notable.push_back({i, false});
    }
  }
  next.resize(unchanged ? 0 : present_.size());
  size_t a = 0;
  for (size_t i = 0; i < next.size(); ++i) {
    LabelSetId id = present_[i];
    while (a < st.instances.size() && st.instances[a].id < id) gone.push_back(st.instances[a++]);
    if (a < st.instances.size() && st.instances[a].id == id) {
      next[i] = st.instances[a++];
      if (has_news(next[i].state)) notable.push_back({i, false});
    } else {
      next[i] = {id, Instance{t_ms, false, false}};
      notable.push_back({i, true});
    }
  }
  if (!unchanged) {
    while (a < st.instances.size()) gone.push_back(st.instances[a++]);
    // Copied, not swapped: a swap would pass buffers from policy to policy until every one had
    // the capacity of the largest.
    st.instances.assign(next.begin(), next.end());
  }
}

void Engine::changes_from_bits(size_t p, int64_t t_ms, int64_t hold,
                               const std::vector<LabelSetId>& ids) {
  PolicyState& st = state_[p];
  std::vector<ActiveInstance>& gone = gone_instances_;
  std::vector<std::pair<size_t, bool>>& notable = notable_;  // index in instances, fresh
  added_.clear();
  removed_.clear();
  for (size_t w = 0; w < truth_now_.size(); ++w) {
    for (uint64_t flips = truth_now_[w] ^ st.truth_bits[w]; flips != 0; flips &= flips - 1) {
      auto bit = static_cast<size_t>(std::countr_zero(flips));
      (truth_now_[w] >> bit & 1 ? added_ : removed_).push_back(ids[w * 64 + bit]);
    }
  }
  // The instances stay sorted by id. Few change at an evaluation: the blocks between them
  // move in place (one memmove each), not element by element into a copy, and the places of
  // the changes are found by walking, which reads memory in order: the instances of one
  // policy are rarely still in a cache, and reads in order are prefetched, jumps are not.
  std::vector<ActiveInstance>& v = st.instances;
  auto at = [&v](size_t i) { return v.begin() + static_cast<std::ptrdiff_t>(i); };
  if (!removed_.empty()) {
    std::sort(removed_.begin(), removed_.end());
    size_t rd = 0;
    while (rd < v.size() && v[rd].id < removed_[0]) ++rd;
    size_t w = rd;
    for (LabelSetId id : removed_) {
      size_t q = rd;
      while (q < v.size() && v[q].id < id) ++q;
      std::move(at(rd), at(q), at(w));
      w += q - rd;
      rd = q;
      if (rd < v.size() && v[rd].id == id) gone.push_back(v[rd++]);
    }
    std::move(at(rd), v.end(), at(w));
    v.resize(w + (v.size() - rd));
  }
  if (!added_.empty()) {
    std::sort(added_.begin(), added_.end());
    // Where each goes, from the back: before the first instance with a larger id. One that is
    // active already (never, by the bits) is left as it is.
    size_t n = v.size(), rd = n, fresh = 0;
    places_.resize(added_.size());
    for (size_t k = added_.size(); k-- > 0;) {
      while (rd > 0 && v[rd - 1].id > added_[k]) --rd;
      bool active = rd > 0 && v[rd - 1].id == added_[k];
      places_[k] = active ? SIZE_MAX : rd;
      fresh += !active;
    }
    // Room for a few more, not the doubling of resize(): a million instances are 12 MB.
    if (v.capacity() < n + fresh) v.reserve(n + fresh + n / 16);
    v.resize(n + fresh);
    rd = n;
    size_t w = v.size();
    for (size_t k = added_.size(); k-- > 0;) {
      if (places_[k] == SIZE_MAX) continue;
      std::move_backward(at(places_[k]), at(rd), at(w));
      w -= rd - places_[k];
      rd = places_[k];
      v[--w] = {added_[k], Instance{t_ms, false, false}};
      notable.push_back({w, true});
    }
  }
  auto index_of = [&st](LabelSetId id) {
    auto it = std::lower_bound(st.instances.begin(), st.instances.end(), id,
                               [](const ActiveInstance& x, LabelSetId y) { return x.id < y; });
    return it != st.instances.end() && it->id == id ? static_cast<size_t>(it - st.instances.begin())
                                                    : SIZE_MAX;
  };
  // Pending instances whose `for` has passed. Looking for them is a pass over the instances,
  // but only at the evaluations where one may be due; a queue of them by the time they began
  // to hold would cost as much memory again as the instances themselves.
  if (t_ms >= st.next_due_ms) {
    st.next_due_ms = INT64_MAX;
    for (size_t i = 0; i < v.size(); ++i) {
      const Instance& inst = v[i].state;
      bool pending = !inst.firing && inst.active_since != t_ms;  // not new just now
      int64_t due_ms = inst.active_since + hold;
      if (pending && due_ms <= t_ms) notable.push_back({i, false});  // fires below
      // Without a branch: whether an instance is firing follows no pattern.
      st.next_due_ms = std::min(st.next_due_ms, pending && due_ms > t_ms ? due_ms : INT64_MAX);
    }
  }
  for (LabelSetId id : st.waiting) {
    size_t i = index_of(id);
    if (i != SIZE_MAX && st.instances[i].state.firing && !st.instances[i].state.acted) {
      notable.push_back({i, false});
    }
  }
}

void Engine::remember_truth(size_t p, bool incremental, uint64_t layout, int64_t hold) {
  PolicyState& st = state_[p];
  st.truth_bits.swap(truth_now_);
  st.truth_layout = layout;
  st.waiting.clear();
  auto remember = [&](const ActiveInstance& a) {
    if (a.state.firing) {
      if (!a.state.acted) st.waiting.push_back(a.id);
    } else {
      st.next_due_ms = std::min(st.next_due_ms, a.state.active_since + hold);
    }
  };
  if (incremental) {
    // Every instance with news was looked at just now; those that began to hold now are due
    // after every other pending one.
    for (auto [index, fresh] : notable_) {
      if (fresh || st.instances[index].state.firing) remember(st.instances[index]);
    }
    return;
  }
  // Starting over (the first evaluation, or other elements than at the last one).
  st.next_due_ms = INT64_MAX;
  for (const ActiveInstance& a : st.instances) remember(a);
}

}  // namespace setpoint
