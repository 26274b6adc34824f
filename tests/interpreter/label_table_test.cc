// The label table hands out ids in the order sets arrive; order() ranks them as the labels
// sort, which is the order in which the engine reports instances.
#include "interpreter/label_table.h"

#include <catch2/catch.hpp>

using namespace setpoint;

namespace {

Labels host(const std::string& value) { return Labels{{"host", value}}; }

}  // namespace

TEST_CASE("label order ranks ids as their labels sort, also for sets added later") {
  LabelTable table;
  LabelSetId c = table.intern(host("c"));
  LabelSetId a = table.intern(host("a"));
  std::vector<uint32_t> rank = table.order();
  REQUIRE(rank.size() == 3);  // the empty set, always id 0, sorts first
  CHECK(rank[LabelTable::kEmpty] == 0);
  CHECK(rank[a] == 1);
  CHECK(rank[c] == 2);

  // Sets added since are merged in among the ones already ranked.
  LabelSetId b = table.intern(host("b"));
  LabelSetId d = table.intern(host("d"));
  LabelSetId job = table.intern(Labels{{"host", "a"}, {"job", "api"}});
  rank = table.order();
  REQUIRE(rank.size() == 6);
  CHECK(rank[LabelTable::kEmpty] == 0);
  CHECK(rank[a] == 1);
  CHECK(rank[job] == 2);  // {host="a", job="api"} sorts after {host="a"}, before {host="b"}
  CHECK(rank[b] == 3);
  CHECK(rank[c] == 4);
  CHECK(rank[d] == 5);
}

TEST_CASE("a set's labels stay where they are while the table grows") {
  LabelTable table;
  LabelSetId first = table.intern(host("a"));
  const Labels& held = table.get(first);
  for (int i = 0; i < 10000; ++i) table.intern(host("h" + std::to_string(i)));
  CHECK(held == host("a"));
  CHECK(&held == &table.get(first));
}
