// Tests of the daemon's SQLite store: round trips, reopening, unfinished actions, transactions,
// a full disk, bad files, and the audit chain against tampering done with raw SQL.
#include "runtime/state_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "support/fixtures.h"
#include "support/process.h"

namespace setpoint {
namespace {

using test::TempDir;

std::unique_ptr<StateStore> open_store(const std::string& path, StoreOptions options = {}) {
  std::string error;
  auto store = StateStore::open(path, error, options);
  INFO(error);
  REQUIRE(store);
  CHECK(error.empty());
  return store;
}

// Runs SQL on the file behind the store's back, as an operator (or an attacker) could.
// Returns SQLite's error message, or "" when it succeeded.
std::string raw_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string result;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    result = sqlite3_errmsg(db);
  } else {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK)
      result = message ? message : "error";
    sqlite3_free(message);
  }
  sqlite3_close(db);
  return result;
}

StoredAction make_action(uint64_t id, const std::string& status) {
  StoredAction a;
  a.id = id;
  a.t_ms = 1000 * static_cast<int64_t>(id);
  a.policy = "enable_response_cache";
  a.instance = "{instance=\"a\"}";
  a.knob = "cache_ttl";
  a.before = 60;
  a.after = 120;
  a.status = status;
  a.updated_ms = a.t_ms + 5;
  return a;
}

void check_same(const StoredAction& got, const StoredAction& want) {
  CHECK(got.id == want.id);
  CHECK(got.t_ms == want.t_ms);
  CHECK(got.policy == want.policy);
  CHECK(got.instance == want.instance);
  CHECK(got.knob == want.knob);
  if (std::isnan(want.before))
    CHECK(std::isnan(got.before));
  else
    CHECK(got.before == want.before);
  if (std::isnan(want.after))
    CHECK(std::isnan(got.after));
  else
    CHECK(got.after == want.after);
  CHECK(got.status == want.status);
  CHECK(got.error == want.error);
  CHECK(got.updated_ms == want.updated_ms);
}

std::vector<uint64_t> ids(const std::vector<StoredAction>& actions) {
  std::vector<uint64_t> out;
  for (const auto& a : actions) out.push_back(a.id);
  return out;
}

// Five audit records, seq 1 to 5, in a closed store.
void write_five_records(const std::string& path) {
  auto store = open_store(path);
  for (int i = 1; i <= 5; ++i)
    REQUIRE(store->append_audit(100 * i, "action", "{\"id\":" + std::to_string(i) + "}"));
}

TEST_CASE("an action round-trips with every field, and a second put replaces it by id", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  CHECK(store->max_action_id() == 0);
  CHECK(!store->action(1));
  CHECK(store->actions().empty());

  StoredAction a = make_action(7, "applying");
  a.before = NAN;  // the knob's value was unknown
  REQUIRE(store->put_action(a));
  CHECK(store->last_error().empty());
  auto got = store->action(7);
  REQUIRE(got);
  check_same(*got, a);

  a.status = "failed";
  a.error = "actuator http: 503 Service Unavailable";
  a.after = -0.5;
  a.updated_ms = 9999;
  REQUIRE(store->put_action(a));
  got = store->action(7);
  REQUIRE(got);
  check_same(*got, a);
  CHECK(store->actions().size() == 1);
  CHECK(store->max_action_id() == 7);
}

TEST_CASE("actions come newest first up to the limit and max_action_id is the highest", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  for (uint64_t id : {3, 1, 12, 5}) REQUIRE(store->put_action(make_action(id, "applied")));
  CHECK(ids(store->actions()) == std::vector<uint64_t>{12, 5, 3, 1});
  CHECK(ids(store->actions(2)) == std::vector<uint64_t>{12, 5});
  CHECK(store->actions(0).empty());
  CHECK(store->max_action_id() == 12);
}

TEST_CASE("unfinished_actions picks exactly applying and rolling_back, oldest first", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  const char* statuses[] = {"rolling_back", "applied",  "applying",       "failed",
                            "rolled_back",  "applying", "rollback_failed"};
  uint64_t id = 1;
  for (const char* s : statuses) REQUIRE(store->put_action(make_action(id++, s)));
  auto unfinished = store->unfinished_actions();
  CHECK(ids(unfinished) == std::vector<uint64_t>{1, 3, 6});
  REQUIRE(unfinished.size() == 3);
  CHECK(unfinished[0].status == "rolling_back");
  CHECK(unfinished[1].status == "applying");

  // Finishing one takes it off the list.
  REQUIRE(store->put_action(make_action(3, "applied")));
  CHECK(ids(store->unfinished_actions()) == std::vector<uint64_t>{1, 6});
}

TEST_CASE("an action with an unknown status is refused and changes nothing", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  REQUIRE(store->put_action(make_action(1, "applied")));
  CHECK(!store->put_action(make_action(1, "done")));
  CHECK(store->last_error().rfind("cannot record action 1: CHECK constraint failed", 0) == 0);
  CHECK(store->action(1)->status == "applied");
  CHECK(!store->put_action(make_action(2, "")));
  CHECK(!store->action(2));
  CHECK(store->max_action_id() == 1);
}

TEST_CASE("validations, knobs, policy sets and engine state round-trip", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  CHECK(store->knobs().empty());
  CHECK(!store->current_policy_set());
  CHECK(!store->last_policy_set());
  CHECK(!store->engine_state());

  REQUIRE(store->put_action(make_action(4, "applied")));
  REQUIRE(store->put_validation(4, 5000, "enable_response_cache", "confirmed", "{\"p\":0.01}"));
  REQUIRE(store->put_validation(4, 6000, "enable_response_cache", "regressed", "{}"));
  auto v = store->validations(4);
  REQUIRE(v.size() == 2);
  CHECK(v[0].action == 4);
  CHECK(v[0].t_ms == 5000);
  CHECK(v[0].policy == "enable_response_cache");
  CHECK(v[0].verdict == "confirmed");
  CHECK(v[0].detail_json == "{\"p\":0.01}");
  CHECK(v[1].verdict == "regressed");
  CHECK(store->validations(5).empty());
  // A validation of an action that was never recorded is a bug in the caller: refused.
  CHECK(!store->put_validation(5, 7000, "p", "confirmed", "{}"));
  CHECK(store->last_error() ==
        "cannot record the validation of action 5: FOREIGN KEY constraint failed");

  REQUIRE(store->put_knob("cache_ttl", 60, 1000));
  REQUIRE(store->put_knob("pool_size", 8, 1000));
  REQUIRE(store->put_knob("cache_ttl", 120.5, 2000));
  REQUIRE(store->put_knob("unknown_yet", NAN, 2000));
  auto knobs = store->knobs();
  REQUIRE(knobs.size() == 3);
  CHECK(knobs.at("cache_ttl") == 120.5);
  CHECK(knobs.at("pool_size") == 8);
  CHECK(std::isnan(knobs.at("unknown_yet")));

  std::string sha_a(64, 'a'), sha_b(64, 'b');
  REQUIRE(store->put_policy_set(sha_a, "[\"a.setpoint\"]", 1000));
  REQUIRE(store->put_policy_set(sha_b, "[\"a.setpoint\",\"b.setpoint\"]", 2000));
  CHECK(store->current_policy_set() == sha_b);
  auto set = store->last_policy_set();
  REQUIRE(set);
  CHECK(set->sha256_hex == sha_b);
  CHECK(set->files_json == "[\"a.setpoint\",\"b.setpoint\"]");
  CHECK(set->t_ms == 2000);

  REQUIRE(store->put_engine_state("{\"holds\":[1]}", 1000));
  REQUIRE(store->put_engine_state("{\"cooldowns\":{}}", 2000));
  CHECK(store->engine_state() == "{\"cooldowns\":{}}");
}

TEST_CASE("everything written survives closing and reopening the store", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  std::string last_hash;
  {
    auto store = open_store(path);
    REQUIRE(store->put_action(make_action(1, "applied")));
    REQUIRE(store->put_action(make_action(2, "applying")));
    REQUIRE(store->put_validation(1, 5000, "enable_response_cache", "confirmed", "{}"));
    REQUIRE(store->put_knob("cache_ttl", 120, 1000));
    REQUIRE(store->put_policy_set(std::string(64, 'c'), "[]", 1000));
    REQUIRE(store->put_engine_state("{\"v\":1}", 1000));
    REQUIRE(store->append_audit(1000, "action", "{\"id\":1}"));
    REQUIRE(store->append_audit(2000, "action", "{\"id\":2}"));
    last_hash = store->audit().back().hash;
  }
  auto store = open_store(path);
  CHECK(store->path() == path);
  CHECK(store->max_action_id() == 2);
  check_same(*store->action(1), make_action(1, "applied"));
  CHECK(ids(store->unfinished_actions()) == std::vector<uint64_t>{2});
  CHECK(store->validations(1).size() == 1);
  CHECK(store->knobs() == std::map<std::string, double>{{"cache_ttl", 120}});
  CHECK(store->current_policy_set() == std::string(64, 'c'));
  CHECK(store->engine_state() == "{\"v\":1}");
  // The chain continues from the reopened file's last record.
  REQUIRE(store->append_audit(3000, "knob", "{}"));
  auto records = store->audit();
  REQUIRE(records.size() == 3);
  CHECK(records[1].hash == last_hash);
  CHECK(records[2].prev_hash == last_hash);
  CHECK(records[2].seq == 3);
}

TEST_CASE("audit_hash is SHA-256 over the length-prefixed fields as documented", "[store]") {
  std::string genesis(64, '0');
  CHECK(kAuditGenesisHash == genesis);
  // Computed independently with the Python snippet in docs/state-store.md.
  std::string h1 = audit_hash(genesis, 1, 1700000000000, "action", "{\"id\":1}");
  CHECK(h1 == "b89a79917b6d0d82eb92fed9eaff96ea43fa9cbf3c6352138256b81c8b573e22");
  CHECK(audit_hash(h1, 2, -5, "", "") ==
        "5b1a2f8df7cdb9387163612aef5c615117c59da31e8c1cb069702bf3f2083bf0");
  // Moving a byte from one field to the next changes the hash: the lengths keep them apart.
  CHECK(audit_hash(genesis, 1, 0, "ab", "c") != audit_hash(genesis, 1, 0, "a", "bc"));
}

TEST_CASE("each audit record links to the one before and the chain verifies", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  auto store = open_store(path);
  REQUIRE(store->append_audit(1700000000000, "action", "{\"id\":1}"));
  REQUIRE(store->append_audit(1700000001000, "validation", "{\"id\":1,\"verdict\":\"ok\"}"));
  REQUIRE(store->append_audit(1700000002000, "knob", "{\"cache_ttl\":120}"));
  auto records = store->audit();
  REQUIRE(records.size() == 3);
  CHECK(records[0].seq == 1);
  CHECK(records[0].t_ms == 1700000000000);
  CHECK(records[0].kind == "action");
  CHECK(records[0].body == "{\"id\":1}");
  CHECK(records[0].prev_hash == std::string(64, '0'));
  CHECK(records[0].hash == "b89a79917b6d0d82eb92fed9eaff96ea43fa9cbf3c6352138256b81c8b573e22");
  for (size_t i = 1; i < records.size(); ++i) {
    CHECK(records[i].seq == i + 1);
    CHECK(records[i].prev_hash == records[i - 1].hash);
    CHECK(records[i].hash == audit_hash(records[i].prev_hash, records[i].seq, records[i].t_ms,
                                        records[i].kind, records[i].body));
  }
  auto page = store->audit(1, 1);
  REQUIRE(page.size() == 1);
  CHECK(page[0].seq == 2);
  CHECK(store->audit(3).empty());

  // Verified while the daemon still has the file open, and again after it closed it.
  std::string error;
  AuditVerdict verdict = verify_audit(path, error);
  CHECK(error.empty());
  CHECK(verdict.ok);
  CHECK(verdict.records == 3);
  CHECK(verdict.last_hash == records[2].hash);
  store.reset();
  verdict = verify_audit(path, error);
  CHECK(error.empty());
  CHECK(verdict.ok);
  CHECK(verdict.records == 3);
  CHECK(verdict.last_hash == records[2].hash);
}

TEST_CASE("an empty audit log verifies with 0 records and the all-zero hash", "[store]") {
  TempDir dir;
  open_store(dir.file("state.db"));
  std::string error;
  AuditVerdict verdict = verify_audit(dir.file("state.db"), error);
  CHECK(error.empty());
  CHECK(verdict.ok);
  CHECK(verdict.records == 0);
  CHECK(verdict.last_hash == std::string(64, '0'));
}

TEST_CASE("the schema refuses UPDATE and DELETE of audit rows", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  write_five_records(path);
  CHECK(raw_sql(path, "UPDATE audit SET body = '{}' WHERE seq = 2") ==
        "the audit log is append-only");
  CHECK(raw_sql(path, "DELETE FROM audit WHERE seq = 5") == "the audit log is append-only");
  std::string error;
  CHECK(verify_audit(path, error).records == 5);
}

TEST_CASE("a body changed behind the store's back breaks the chain at that record", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  write_five_records(path);
  REQUIRE(raw_sql(path,
                  "DROP TRIGGER audit_no_update; "
                  "UPDATE audit SET body = '{\"id\":99}' WHERE seq = 2") == "");
  std::string error;
  AuditVerdict verdict = verify_audit(path, error);
  CHECK(error.empty());
  CHECK(!verdict.ok);
  CHECK(verdict.bad_seq == 2);
  CHECK(verdict.reason == "hash does not match its content");
  CHECK(verdict.records == 1);
}

TEST_CASE("a deleted middle record is reported missing", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  write_five_records(path);
  REQUIRE(raw_sql(path, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 3") == "");
  std::string error;
  AuditVerdict verdict = verify_audit(path, error);
  CHECK(!verdict.ok);
  CHECK(verdict.bad_seq == 3);
  CHECK(verdict.reason == "missing (record 2 is followed by record 4)");
  CHECK(verdict.records == 2);
}

TEST_CASE("a deleted first record is reported missing", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  write_five_records(path);
  REQUIRE(raw_sql(path, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 1") == "");
  std::string error;
  AuditVerdict verdict = verify_audit(path, error);
  CHECK(!verdict.ok);
  CHECK(verdict.bad_seq == 1);
  CHECK(verdict.reason == "missing (the log starts at record 2)");
}

TEST_CASE("a changed hash breaks the chain, and so does a rehashed record", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  write_five_records(path);
  std::string error;
  SECTION("a hash replaced by another") {
    REQUIRE(raw_sql(path, "DROP TRIGGER audit_no_update; UPDATE audit SET hash = '" +
                              std::string(64, 'f') + "' WHERE seq = 4") == "");
    AuditVerdict verdict = verify_audit(path, error);
    CHECK(!verdict.ok);
    CHECK(verdict.bad_seq == 4);
    CHECK(verdict.reason == "hash does not match its content");
  }
  SECTION("a body changed with its own hash recomputed: the next link breaks") {
    std::string prev = audit_hash(std::string(64, '0'), 1, 100, "action", "{\"id\":1}");
    std::string forged = audit_hash(prev, 2, 200, "action", "{\"id\":99}");
    REQUIRE(raw_sql(path,
                    "DROP TRIGGER audit_no_update; UPDATE audit SET body = '{\"id\":99}', "
                    "hash = '" +
                        forged + "' WHERE seq = 2") == "");
    AuditVerdict verdict = verify_audit(path, error);
    CHECK(!verdict.ok);
    CHECK(verdict.bad_seq == 3);
    CHECK(verdict.reason == "prev_hash does not match the hash of record 2");
    CHECK(verdict.records == 2);
  }
  CHECK(error.empty());
}

TEST_CASE("a group of writes commits together, and one failure rolls the group back", "[store]") {
  TempDir dir;
  auto store = open_store(dir.file("state.db"));
  CHECK(!store->commit());
  CHECK(store->last_error() == "commit: no transaction is open");

  REQUIRE(store->begin());
  CHECK(!store->begin());
  CHECK(store->last_error() == "begin: a transaction is already open");
  REQUIRE(store->put_action(make_action(1, "applying")));
  REQUIRE(store->append_audit(1000, "action", "{\"id\":1}"));
  REQUIRE(store->commit());
  CHECK(store->action(1));
  CHECK(store->audit().size() == 1);

  REQUIRE(store->begin());
  REQUIRE(store->put_action(make_action(2, "applying")));
  CHECK(!store->put_action(make_action(3, "bogus")));
  CHECK(!store->put_knob("cache_ttl", 1, 1));
  CHECK(store->last_error().rfind(
            "cannot record knob cache_ttl: an earlier write in this transaction failed", 0) == 0);
  CHECK(!store->commit());
  CHECK(store->last_error().rfind("commit: the transaction was rolled back", 0) == 0);
  CHECK(!store->action(2));
  CHECK(store->knobs().empty());

  // rollback() abandons a group; the store then works as before.
  REQUIRE(store->begin());
  REQUIRE(store->put_action(make_action(4, "applying")));
  store->rollback();
  CHECK(!store->action(4));
  REQUIRE(store->put_action(make_action(5, "applied")));
  CHECK(store->max_action_id() == 5);
}

TEST_CASE("a writer killed with SIGKILL mid-stream leaves whole groups and a valid chain",
          "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child writes until it is killed: an action and its audit record per group, and the
    // id on the pipe once the group is committed.
    ::close(fds[0]);
    std::string error;
    auto store = StateStore::open(path, error);
    for (uint64_t id = 1; store && id < 100000; ++id) {
      if (!store->begin() || !store->put_action(make_action(id, "applied")) ||
          !store->append_audit(static_cast<int64_t>(id), "action", std::string(300, 'x')) ||
          !store->commit())
        break;
      if (::write(fds[1], &id, sizeof id) != sizeof id) break;
    }
    ::_exit(1);
  }
  ::close(fds[1]);
  uint64_t committed = 0, id = 0;
  while (committed < 50 && ::read(fds[0], &id, sizeof id) == sizeof id) committed = id;
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fds[0]);
  REQUIRE(committed >= 50);
  CHECK(WIFSIGNALED(status));

  auto store = open_store(path);
  uint64_t last = store->max_action_id();
  CHECK(last >= committed);                        // every group the child reported is there
  CHECK(store->audit(0, 1000000).size() == last);  // and no group is there by half
  std::string error;
  AuditVerdict verdict = verify_audit(path, error);
  CHECK(error.empty());
  CHECK(verdict.ok);
  CHECK(verdict.records == last);
}

TEST_CASE("a full store fails a large write cleanly and keeps what it had", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  {
    auto store = open_store(path, StoreOptions{64 * 1024});
    REQUIRE(store->put_action(make_action(1, "applied")));
    for (int i = 1; i <= 3; ++i) REQUIRE(store->append_audit(i, "action", "{}"));
    CHECK(!store->put_engine_state(std::string(200 * 1024, 'x'), 1000));
    CHECK(store->last_error() == "cannot record the engine state: database or disk is full");
    CHECK(!store->append_audit(4, "state", std::string(200 * 1024, 'y')));
    CHECK(store->last_error() == "cannot append to the audit log: database or disk is full");
    // Small writes still fit, and the chain goes on from record 3.
    REQUIRE(store->append_audit(5, "note", "{}"));
  }
  auto store = open_store(path);
  check_same(*store->action(1), make_action(1, "applied"));
  CHECK(!store->engine_state());
  auto records = store->audit();
  REQUIRE(records.size() == 4);
  CHECK(records[3].t_ms == 5);
  std::string error;
  AuditVerdict verdict = verify_audit(path, error);
  CHECK(error.empty());
  CHECK(verdict.ok);
  CHECK(verdict.records == 4);
}

TEST_CASE("a cap too small to hold the schema fails at open and says the store is full",
          "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  std::string error;
  CHECK(!StateStore::open(path, error, StoreOptions{8 * 1024}));
  CHECK(error == path + ": database or disk is full");
}

TEST_CASE("opening a store in a missing directory fails and says why", "[store]") {
  TempDir dir;
  std::string path = dir.file("missing/state.db");
  std::string error;
  CHECK(!StateStore::open(path, error));
  CHECK(error == path + ": no such file or directory");
  AuditVerdict verdict = verify_audit(path, error);
  CHECK(!verdict.ok);
  CHECK(error == path + ": no such file or directory");
}

TEST_CASE("a file that is not a setpoint store is refused cleanly", "[store]") {
  TempDir dir;
  std::string error;
  SECTION("text") {
    std::string path = dir.file("notes.txt");
    test::write_text(path, "this is not a database, but it is long enough to look like one?\n");
    CHECK(!StateStore::open(path, error));
    CHECK(error == path + ": file is not a database");
    CHECK(!verify_audit(path, error).ok);
    CHECK(error == path + ": file is not a database");
    CHECK(test::read_text(path) ==
          "this is not a database, but it is long enough to look like one?\n");
  }
  SECTION("another application's database") {
    std::string path = dir.file("other.db");
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(!StateStore::open(path, error));
    CHECK(error == path + ": not a setpoint state store (it holds other tables)");
    CHECK(!verify_audit(path, error).ok);
    CHECK(error == path + ": not a setpoint state store (it has no audit table)");
  }
  SECTION("a directory") {
    CHECK(!StateStore::open(dir.path(), error));
    CHECK(error == dir.path() + ": is a directory");
    CHECK(!verify_audit(dir.path(), error).ok);
    CHECK(error == dir.path() + ": is a directory");
  }
}

TEST_CASE("policy rows are replaced by name and cleared together", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  {
    auto store = open_store(path);
    CHECK(store->policy_states().empty());
    REQUIRE(store->put_policy_state("shrink", "{\"s\":1}", 1000));
    REQUIRE(store->put_policy_state("grow", "{\"g\":1}", 1000));
    REQUIRE(store->put_policy_state("shrink", "{\"s\":2}", 2000));
  }
  auto store = open_store(path);
  using Rows = std::vector<std::pair<std::string, std::string>>;
  CHECK(store->policy_states() == Rows{{"grow", "{\"g\":1}"}, {"shrink", "{\"s\":2}"}});
  // Cleared and rewritten in one group: a reader sees the old rows or the new, never none.
  REQUIRE(store->begin());
  REQUIRE(store->clear_policy_states());
  REQUIRE(store->put_policy_state("grow", "{\"g\":2}", 3000));
  store->rollback();
  CHECK(store->policy_states() == Rows{{"grow", "{\"g\":1}"}, {"shrink", "{\"s\":2}"}});
  REQUIRE(store->begin());
  REQUIRE(store->clear_policy_states());
  REQUIRE(store->put_policy_state("grow", "{\"g\":2}", 3000));
  REQUIRE(store->commit());
  CHECK(store->policy_states() == Rows{{"grow", "{\"g\":2}"}});
}

TEST_CASE("a store of schema version 1 gains the policy rows and keeps its engine state",
          "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  {
    auto store = open_store(path);
    REQUIRE(store->put_engine_state("{\"v\":1}", 1000));
  }
  REQUIRE(raw_sql(path, "DROP TABLE policy_state; UPDATE schema_version SET version = 1") == "");
  auto store = open_store(path);
  CHECK(store->engine_state() == "{\"v\":1}");
  CHECK(store->policy_states().empty());
  REQUIRE(store->put_policy_state("grow", "{}", 2000));
  CHECK(store->policy_states().size() == 1);
}

TEST_CASE("a store written by a newer setpoint is refused", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  open_store(path);
  REQUIRE(raw_sql(path, "UPDATE schema_version SET version = 3") == "");
  std::string error;
  CHECK(!StateStore::open(path, error));
  CHECK(error == path + ": the store has schema version 3, newer than this setpoint knows (2)");
}

TEST_CASE("audit verify prints the record count and the last hash", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  write_five_records(path);
  std::string error;
  std::string last = verify_audit(path, error).last_hash;
  REQUIRE(last.size() == 64);
  test::ProcessResult r = test::run_setpoint({"audit", "verify", "--state", path});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "audit log ok: 5 records, last hash " + last + "\n");
  CHECK(r.err == "");
}

TEST_CASE("audit verify exits 1 at the first broken record", "[store]") {
  TempDir dir;
  std::string path = dir.file("state.db");
  write_five_records(path);
  REQUIRE(raw_sql(path,
                  "DROP TRIGGER audit_no_update; UPDATE audit SET kind = 'x' WHERE seq = 3") == "");
  test::ProcessResult r = test::run_setpoint({"audit", "verify", "--state", path});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "audit log broken at record 3: hash does not match its content\n");
}

TEST_CASE("audit verify exits 2 on a missing state file", "[store]") {
  TempDir dir;
  std::string path = dir.file("nothing.db");
  test::ProcessResult r = test::run_setpoint({"audit", "verify", "--state", path});
  CHECK(r.exit_code == 2);
  CHECK(r.out == "");
  CHECK(r.err == "setpoint: " + path + ": no such file or directory\n");
}

}  // namespace
}  // namespace setpoint
