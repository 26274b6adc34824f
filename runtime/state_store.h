// The daemon's durable store: actions, validations, knob values, policy sets and engine state in
// one SQLite file (WAL, synchronous=FULL), with an append-only, hash-chained audit log.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace setpoint {

struct StoreOptions {
  // The file's size cap (PRAGMA max_page_count): a write that would grow the file past it fails
  // cleanly with "database or disk is full" and changes nothing. The WAL beside the file is
  // checkpointed back into it every 1000 pages and then truncated to 4 MiB.
  uint64_t max_bytes = 1ull << 30;
  // How long a write waits for a lock held by another connection before it fails (SQLITE_BUSY).
  int busy_timeout_ms = 5000;
};

struct StoredAction {
  uint64_t id = 0;   // the engine's action number (unique, increasing)
  int64_t t_ms = 0;  // decided at
  std::string policy;
  std::string instance;  // the trigger's labels as text: {instance="a"}
  std::string knob;
  double before = NAN, after = NAN;  // NaN is stored as NULL and read back as NaN
  // "applying" | "applied" | "failed" | "rolling_back" | "rolled_back" | "rollback_failed"
  std::string status;
  std::string error;  // actuator error when failed
  int64_t updated_ms = 0;
};

struct StoredValidation {
  uint64_t action = 0;  // the action it judged (which must be stored first)
  int64_t t_ms = 0;
  std::string policy;
  std::string verdict;
  std::string detail_json;
};

struct StoredPolicySet {
  std::string sha256_hex;
  std::string files_json;
  int64_t t_ms = 0;
};

struct AuditRecord {
  uint64_t seq = 0;
  int64_t t_ms = 0;
  std::string kind;
  std::string body;  // JSON text
  std::string prev_hash;
  std::string hash;  // hex SHA-256
};

struct AuditVerdict {
  bool ok = true;
  uint64_t records = 0;   // records whose links held (all of them when ok)
  uint64_t bad_seq = 0;   // the first record that is wrong or missing, when !ok
  std::string reason;     // why, without the seq: "hash does not match its content"
  std::string last_hash;  // the hash of the last good record (64 '0' for an empty log)
};

// The prev_hash of the first audit record: 64 '0'.
extern const char* const kAuditGenesisHash;

// SHA-256 over the length-prefixed fields (docs/state-store.md): each field is an 8-byte
// big-endian length followed by its bytes; prev_hash is its 64 hex characters, seq and t_ms
// are 8-byte big-endian integers, kind and body their bytes. Lowercase hex.
std::string audit_hash(const std::string& prev_hash, uint64_t seq, int64_t t_ms,
                       const std::string& kind, const std::string& body);

class StateStore {
 public:
  // Opens or creates the file (WAL, synchronous=FULL, foreign keys, a schema_version table so a
  // later version can migrate). nullptr and `error` ("path: message") when it cannot: a missing
  // directory, a file that is not a SQLite database or belongs to something else, a read-only
  // file, a schema newer than this binary knows.
  static std::unique_ptr<StateStore> open(const std::string& path, std::string& error,
                                          StoreOptions options = {});
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Every write below returns false on failure (disk full, I/O error, read-only, a constraint)
  // with last_error() saying why; a failed write changes nothing (each is one transaction) and
  // never corrupts the file. last_error() is empty after any call that succeeded; a read that
  // fails (an I/O error) returns nothing (empty, nullopt, 0) and sets it too.
  //
  // begin() groups several writes into one transaction, made durable by commit(). Inside a
  // group the first failed write rolls the whole group back; later writes and commit() then
  // return false, so a group is all or nothing. rollback() abandons an open group, and so does
  // destroying the store (as a crash would).
  bool begin();
  bool commit();
  void rollback();

  bool put_action(const StoredAction& a);                        // insert or replace by id
  std::vector<StoredAction> actions(size_t limit = 1000) const;  // newest first
  std::vector<StoredAction> unfinished_actions() const;  // applying or rolling_back, oldest first
  std::optional<StoredAction> action(uint64_t id) const;
  uint64_t max_action_id() const;  // 0 when none: the engine resumes numbering after it

  // One row per verdict; the action must already be stored (a foreign key).
  bool put_validation(uint64_t action, int64_t t_ms, const std::string& policy,
                      const std::string& verdict, const std::string& detail_json);
  std::vector<StoredValidation> validations(uint64_t action) const;  // oldest first

  bool put_knob(const std::string& knob, double value, int64_t t_ms);
  std::map<std::string, double> knobs() const;

  // Every load is kept; the current one is the last.
  bool put_policy_set(const std::string& sha256_hex, const std::string& files_json, int64_t t_ms);
  std::optional<std::string> current_policy_set() const;  // the sha256 of the last one loaded
  std::optional<StoredPolicySet> last_policy_set() const;

  // The engine's restorable state (holds, cooldowns, validations...) as JSON: one document for
  // what belongs to no one policy, replaced whole, and one row per policy, replaced by name.
  bool put_engine_state(const std::string& json, int64_t t_ms);
  std::optional<std::string> engine_state() const;
  bool put_policy_state(const std::string& policy, const std::string& json, int64_t t_ms);
  bool clear_policy_states();  // before a whole set of rows is written anew
  std::vector<std::pair<std::string, std::string>> policy_states() const;  // (name, json)

  // Append-only audit log: record seq (1, 2, ...) has hash = audit_hash(prev_hash, seq, t_ms,
  // kind, body), prev_hash being the hash of record seq-1 (kAuditGenesisHash for the first).
  // Triggers in the schema refuse UPDATE and DELETE of audit rows.
  bool append_audit(int64_t t_ms, const std::string& kind, const std::string& body_json);
  std::vector<AuditRecord> audit(uint64_t after_seq = 0, size_t limit = 1000) const;

  const std::string& last_error() const { return last_error_; }
  const std::string& path() const { return path_; }

 private:
  StateStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  bool prepare_all(std::string& error);
  sqlite3_stmt* stmt(size_t which) const { return stmts_[which]; }  // the cached statements
  // Runs one write: its own transaction outside begin/commit, part of the group inside.
  template <class F>
  bool write(const std::string& what, F&& body);
  // One write of one statement: bind(binder) binds its parameters in order.
  template <class Bind>
  bool put_row(size_t which, const std::string& what, Bind&& bind);
  // Binds params in order and calls row for each row; false (and last_error_) when it fails.
  bool read_rows(size_t which, const std::string& what, std::initializer_list<int64_t> params,
                 const std::function<void(sqlite3_stmt*)>& row) const;
  bool fail(const std::string& what) const;  // sets last_error_ from the connection; false
  bool step_done(size_t which, const std::string& what);
  void rollback_open_transaction();

  std::string path_;
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> stmts_;
  bool in_group_ = false;
  std::string group_error_;  // set when a write inside the open group failed
  mutable std::string last_error_;
};

// Opens the file read-only (safe beside a running daemon) and walks the audit chain: checks
// that seq runs 1, 2, ... without a gap, that each prev_hash is the previous record's hash, and
// recomputes each hash from the record's content. The first bad record and why. `error` is
// set (and the verdict not ok) when the file cannot be read at all: "path: message".
AuditVerdict verify_audit(const std::string& path, std::string& error);

}  // namespace setpoint
