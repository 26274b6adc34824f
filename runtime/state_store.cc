// The SQLite store behind the daemon: schema and migrations, cached statements, one transaction
// per write, the audit hash chain and its read-only verifier.
#include "runtime/state_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>

namespace setpoint {

const char* const kAuditGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

namespace {

// kStateStoreMigrations[v] takes a store from schema version v to v + 1, inside the one
// transaction that also records the new version. A later version appends a step; none is
// ever edited, so every file reaches the same schema.
const char* const kStateStoreMigrations[] = {
    R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT;
INSERT INTO schema_version (version) VALUES (0);
CREATE TABLE actions (
  id INTEGER PRIMARY KEY,
  t_ms INTEGER NOT NULL,
  policy TEXT NOT NULL,
  instance TEXT NOT NULL,
  knob TEXT NOT NULL,
  value_before REAL,
  value_after REAL,
  status TEXT NOT NULL CHECK (status IN ('applying', 'applied', 'failed', 'rolling_back',
                                         'rolled_back', 'rollback_failed')),
  error TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX actions_by_status ON actions (status, id);
CREATE TABLE validations (
  id INTEGER PRIMARY KEY,
  action_id INTEGER NOT NULL REFERENCES actions (id),
  t_ms INTEGER NOT NULL,
  policy TEXT NOT NULL,
  verdict TEXT NOT NULL,
  detail TEXT NOT NULL
) STRICT;
CREATE INDEX validations_by_action ON validations (action_id, id);
CREATE TABLE knobs (
  name TEXT PRIMARY KEY,
  value REAL,
  t_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE policy_sets (
  id INTEGER PRIMARY KEY,
  sha256 TEXT NOT NULL,
  files TEXT NOT NULL,
  t_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE engine_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  state TEXT NOT NULL,
  t_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  t_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql",
    // 1 -> 2: each policy's part of the engine state in a row of its own, so that a decision
    // rewrites the policies it changed rather than the whole state of every policy.
    R"sql(
CREATE TABLE policy_state (
  name TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  t_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql",
};
constexpr int64_t kStateStoreSchemaVersion =
    sizeof(kStateStoreMigrations) / sizeof(kStateStoreMigrations[0]);

// Bounds one string or blob: a runaway engine state fails its write instead of filling the disk.
constexpr int kStateStoreMaxValueBytes = 64 << 20;
constexpr int64_t kStateStoreWalLimitBytes = 4 << 20;

enum StateStoreSql : size_t {
  kBegin,
  kCommit,
  kRollback,
  kPutAction,
  kActions,
  kUnfinished,
  kAction,
  kMaxActionId,
  kPutValidation,
  kValidations,
  kPutKnob,
  kKnobs,
  kPutPolicySet,
  kLastPolicySet,
  kPutEngineState,
  kEngineState,
  kPutPolicyState,
  kPolicyStates,
  kClearPolicyStates,
  kLastAudit,
  kAppendAudit,
  kAudit,
  kStateStoreSqlCount
};

#define SETPOINT_ACTION_COLUMNS \
  "id, t_ms, policy, instance, knob, value_before, value_after, status, error, updated_ms"

const char* const kStateStoreSql[] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "INSERT INTO actions (" SETPOINT_ACTION_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
    "ON CONFLICT (id) DO UPDATE SET t_ms = excluded.t_ms, policy = excluded.policy, "
    "instance = excluded.instance, knob = excluded.knob, value_before = excluded.value_before, "
    "value_after = excluded.value_after, status = excluded.status, error = excluded.error, "
    "updated_ms = excluded.updated_ms",
    "SELECT " SETPOINT_ACTION_COLUMNS " FROM actions ORDER BY id DESC LIMIT ?1",
    "SELECT " SETPOINT_ACTION_COLUMNS
    " FROM actions WHERE status IN ('applying', 'rolling_back') ORDER BY id",
    "SELECT " SETPOINT_ACTION_COLUMNS " FROM actions WHERE id = ?1",
    "SELECT coalesce(max(id), 0) FROM actions",
    "INSERT INTO validations (action_id, t_ms, policy, verdict, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5)",
    "SELECT action_id, t_ms, policy, verdict, detail FROM validations WHERE action_id = ?1 "
    "ORDER BY id",
    "INSERT INTO knobs (name, value, t_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value, t_ms = excluded.t_ms",
    "SELECT name, value FROM knobs ORDER BY name",
    "INSERT INTO policy_sets (sha256, files, t_ms) VALUES (?1, ?2, ?3)",
    "SELECT sha256, files, t_ms FROM policy_sets ORDER BY id DESC LIMIT 1",
    "INSERT INTO engine_state (id, state, t_ms) VALUES (1, ?1, ?2) "
    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, t_ms = excluded.t_ms",
    "SELECT state FROM engine_state WHERE id = 1",
    "INSERT INTO policy_state (name, state, t_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (name) DO UPDATE SET state = excluded.state, t_ms = excluded.t_ms",
    "SELECT name, state FROM policy_state ORDER BY name",
    "DELETE FROM policy_state",
    "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    "INSERT INTO audit (seq, t_ms, kind, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    "SELECT seq, t_ms, kind, body, prev_hash, hash FROM audit WHERE seq > ?1 ORDER BY seq "
    "LIMIT ?2",
};
static_assert(sizeof(kStateStoreSql) / sizeof(kStateStoreSql[0]) == kStateStoreSqlCount);

#undef SETPOINT_ACTION_COLUMNS

// Leaves a cached statement ready for its next use, whichever way the function returns.
struct StateStoreReset {
  sqlite3_stmt* s;
  ~StateStoreReset() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

// Binds parameters 1, 2, ... in order and keeps the first error. Text is bound without a copy:
// the caller's strings outlive the statement's use (StateStoreReset clears the bindings).
struct StateStoreBinder {
  sqlite3_stmt* s;
  int rc = SQLITE_OK;
  int next = 1;
  void keep(int r) {
    if (rc == SQLITE_OK) rc = r;
    ++next;
  }
  StateStoreBinder& text(const std::string& v) {
    keep(sqlite3_bind_text64(s, next, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  StateStoreBinder& i64(int64_t v) {
    keep(sqlite3_bind_int64(s, next, v));
    return *this;
  }
  // NaN (an unknown value) is stored as NULL, which is what SQLite would make of it anyway.
  StateStoreBinder& real(double v) {
    keep(std::isnan(v) ? sqlite3_bind_null(s, next) : sqlite3_bind_double(s, next, v));
    return *this;
  }
};

std::string column_text(sqlite3_stmt* s, int i) {
  const unsigned char* p = sqlite3_column_text(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s, i))
           : std::string();
}

double column_real(sqlite3_stmt* s, int i) {
  return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

StoredAction read_action(sqlite3_stmt* s) {
  StoredAction a;
  a.id = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
  a.t_ms = sqlite3_column_int64(s, 1);
  a.policy = column_text(s, 2);
  a.instance = column_text(s, 3);
  a.knob = column_text(s, 4);
  a.before = column_real(s, 5);
  a.after = column_real(s, 6);
  a.status = column_text(s, 7);
  a.error = column_text(s, 8);
  a.updated_ms = sqlite3_column_int64(s, 9);
  return a;
}

int64_t sql_limit(size_t limit) {
  constexpr auto kMax = static_cast<size_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(limit < kMax ? limit : kMax);
}

bool fits_i64(uint64_t v) {
  return v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}
int64_t as_i64(uint64_t v) { return static_cast<int64_t>(v); }  // after fits_i64

using ActionList = std::vector<StoredAction>;

// strerror in the lower case the rest of setpoint's messages use.
std::string errno_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && (s.size() < 2 || s[1] < 'A' || s[1] > 'Z'))
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

std::string db_error(sqlite3* db) { return db ? sqlite3_errmsg(db) : "out of memory"; }

struct StateStoreCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using StateStoreDb = std::unique_ptr<sqlite3, StateStoreCloser>;

void put_length_prefixed(std::string& out, const void* data, uint64_t n) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(static_cast<const char*>(data), n);
}

void put_u64_field(std::string& out, uint64_t v) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>((v >> (56 - 8 * i)) & 0xff);
  put_length_prefixed(out, bytes, sizeof bytes);
}

// Runs SQL that holds no value from outside (the schema, pragmas); error gets SQLite's word.
bool exec(sqlite3* db, const std::string& sql, std::string& error) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK) return true;
  error = message ? message : db_error(db);
  sqlite3_free(message);
  return false;
}

// The first column of the first row (a pragma's answer, a count), as text: "" when there is
// no row; nullopt and error when the statement fails.
std::optional<std::string> one_value(sqlite3* db, const std::string& sql, std::string& error) {
  sqlite3_stmt* s = nullptr;
  std::optional<std::string> value;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) value = column_text(s, 0);
  if (rc == SQLITE_DONE) value = "";
  if (!value) error = db_error(db);
  sqlite3_finalize(s);
  return value;
}

// An integer answer; text that is not one (from a file of unknown origin) reads as 0.
std::optional<int64_t> one_int(sqlite3* db, const std::string& sql, std::string& error) {
  auto text = one_value(db, sql, error);
  if (!text) return std::nullopt;
  return std::strtoll(text->c_str(), nullptr, 10);
}

// Brings the schema up to kStateStoreSchemaVersion in one transaction, refusing a database
// that belongs to something else or to a newer setpoint.
bool migrate(sqlite3* db, std::string& error) {
  if (!exec(db, "BEGIN IMMEDIATE", error)) return false;
  auto fail = [&](std::string message) {
    error = std::move(message);
    std::string ignored;
    exec(db, "ROLLBACK", ignored);
    return false;
  };
  auto has_version = one_int(
      db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
      error);
  if (!has_version) return fail(error);
  int64_t version = 0;
  if (*has_version == 0) {
    auto objects = one_int(db, "SELECT count(*) FROM sqlite_master", error);
    if (!objects) return fail(error);
    if (*objects != 0) return fail("not a setpoint state store (it holds other tables)");
  } else {
    auto v = one_int(db, "SELECT version FROM schema_version", error);
    if (!v) return fail(error);
    version = *v;
  }
  if (version > kStateStoreSchemaVersion)
    return fail("the store has schema version " + std::to_string(version) +
                ", newer than this setpoint knows (" + std::to_string(kStateStoreSchemaVersion) +
                ")");
  if (version == kStateStoreSchemaVersion) return exec(db, "COMMIT", error) || fail(error);
  for (int64_t v = version; v < kStateStoreSchemaVersion; ++v)
    if (!exec(db, kStateStoreMigrations[v], error)) return fail(error);
  if (!exec(db, "UPDATE schema_version SET version = " + std::to_string(kStateStoreSchemaVersion),
            error) ||
      !exec(db, "COMMIT", error))
    return fail(error);
  spdlog::debug("state store: schema at version {}", kStateStoreSchemaVersion);
  return true;
}

}  // namespace

std::string audit_hash(const std::string& prev_hash, uint64_t seq, int64_t t_ms,
                       const std::string& kind, const std::string& body) {
  std::string message;
  message.reserve(5 * 8 + prev_hash.size() + 16 + kind.size() + body.size());
  put_length_prefixed(message, prev_hash.data(), prev_hash.size());
  put_u64_field(message, seq);
  put_u64_field(message, static_cast<uint64_t>(t_ms));
  put_length_prefixed(message, kind.data(), kind.size());
  put_length_prefixed(message, body.data(), body.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(message.data(), message.size(), digest, &n, EVP_sha256(), nullptr) != 1)
    return std::string();  // never matches a stored hash, so it cannot pass for one
  static const char* const kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

std::unique_ptr<StateStore> StateStore::open(const std::string& path, std::string& error,
                                             StoreOptions options) {
  error.clear();
  auto fail = [&](const std::string& message) {
    error = path + ": " + message;
    return nullptr;
  };
  // A new store is created owner-only; SQLite gives its -wal and -shm files the same mode.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail(errno_text(errno));
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return fail(errno_text(errno));
    if (fd >= 0) ::close(fd);
  } else if (S_ISDIR(st.st_mode)) {
    return fail("is a directory");
  }

  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  StateStoreDb db(raw);
  if (rc != SQLITE_OK) return fail(db_error(raw));
  if (sqlite3_db_readonly(raw, "main") == 1) return fail("the file is read-only");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  sqlite3_limit(raw, SQLITE_LIMIT_LENGTH, kStateStoreMaxValueBytes);

  // The first statement reads the file, so it is where "file is not a database" shows.
  std::string message;
  auto mode = one_value(raw, "PRAGMA journal_mode = WAL", message);
  if (!mode) return fail(message);
  if (*mode != "wal") return fail("cannot use a write-ahead log (journal mode is " + *mode + ")");
  // Pragmas take no bound parameters; every value here is a number this function made.
  if (!exec(raw, "PRAGMA synchronous = FULL", message) ||
      !exec(raw, "PRAGMA foreign_keys = ON", message) ||
      !exec(raw, "PRAGMA journal_size_limit = " + std::to_string(kStateStoreWalLimitBytes),
            message))
    return fail(message);
  auto page_size = one_int(raw, "PRAGMA page_size", message);
  if (!page_size) return fail(message);
  uint64_t pages = options.max_bytes / static_cast<uint64_t>(std::max<int64_t>(1, *page_size));
  pages = std::clamp<uint64_t>(pages, 1, std::numeric_limits<uint32_t>::max() - 1);
  auto max_pages = one_int(raw, "PRAGMA max_page_count = " + std::to_string(pages), message);
  if (!max_pages) return fail(message);
  if (!migrate(raw, message)) return fail(message);

  std::unique_ptr<StateStore> store(new StateStore(path, db.release()));
  if (!store->prepare_all(message)) return fail(message);
  spdlog::debug("state store: opened {} (at most {} pages of {} bytes)", path, *max_pages,
                *page_size);
  return store;
}

bool StateStore::prepare_all(std::string& error) {
  stmts_.assign(kStateStoreSqlCount, nullptr);
  for (size_t i = 0; i < kStateStoreSqlCount; ++i) {
    if (sqlite3_prepare_v3(db_, kStateStoreSql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts_[i],
                           nullptr) != SQLITE_OK) {
      error = db_error(db_);
      return false;
    }
  }
  return true;
}

StateStore::~StateStore() {
  rollback_open_transaction();
  for (sqlite3_stmt* s : stmts_) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

bool StateStore::fail(const std::string& what) const {
  last_error_ = what + ": " + db_error(db_);
  spdlog::debug("state store: {}", last_error_);
  return false;
}

bool StateStore::step_done(size_t which, const std::string& what) {
  StateStoreReset reset{stmt(which)};
  return sqlite3_step(stmt(which)) == SQLITE_DONE || fail(what);
}

void StateStore::rollback_open_transaction() {
  if (!db_ || sqlite3_get_autocommit(db_)) return;  // SQLite may already have rolled it back
  StateStoreReset reset{stmt(kRollback)};
  if (sqlite3_step(stmt(kRollback)) != SQLITE_DONE)
    spdlog::warn("state store: {}: cannot roll back: {}", path_, db_error(db_));
}

template <class F>
bool StateStore::write(const std::string& what, F&& body) {
  last_error_.clear();
  if (!group_error_.empty()) {
    last_error_ = what + ": an earlier write in this transaction failed (" + group_error_ + ")";
    return false;
  }
  if (!in_group_ && !step_done(kBegin, what)) return false;
  if (!body()) {
    rollback_open_transaction();
    if (in_group_) group_error_ = last_error_;
    return false;
  }
  if (!in_group_ && !step_done(kCommit, what)) {
    rollback_open_transaction();
    return false;
  }
  return true;
}

template <class Bind>
bool StateStore::put_row(size_t which, const std::string& what, Bind&& bind) {
  return write(what, [&] {
    sqlite3_stmt* s = stmt(which);
    StateStoreReset reset{s};
    StateStoreBinder b{s};
    bind(b);
    return (b.rc == SQLITE_OK && sqlite3_step(s) == SQLITE_DONE) || fail(what);
  });
}

bool StateStore::read_rows(size_t which, const std::string& what,
                           std::initializer_list<int64_t> params,
                           const std::function<void(sqlite3_stmt*)>& row) const {
  last_error_.clear();
  sqlite3_stmt* s = stmt(which);
  StateStoreReset reset{s};
  StateStoreBinder b{s};
  for (int64_t p : params) b.i64(p);
  int rc = b.rc;
  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) row(s);
  return rc == SQLITE_DONE || fail(what);
}

bool StateStore::begin() {
  last_error_.clear();
  if (in_group_) {
    last_error_ = "begin: a transaction is already open";
    return false;
  }
  if (!step_done(kBegin, "begin")) return false;
  in_group_ = true;
  group_error_.clear();
  return true;
}

bool StateStore::commit() {
  last_error_.clear();
  if (!in_group_) {
    last_error_ = "commit: no transaction is open";
    return false;
  }
  in_group_ = false;
  if (!group_error_.empty()) {
    last_error_ = "commit: the transaction was rolled back (" + group_error_ + ")";
    group_error_.clear();
    return false;
  }
  if (step_done(kCommit, "commit")) return true;
  rollback_open_transaction();
  return false;
}

void StateStore::rollback() {
  last_error_.clear();
  rollback_open_transaction();
  in_group_ = false;
  group_error_.clear();
}

bool StateStore::put_action(const StoredAction& a) {
  std::string what = "cannot record action " + std::to_string(a.id);
  if (!fits_i64(a.id)) return last_error_ = what + ": the id is out of range", false;
  return put_row(kPutAction, what, [&](StateStoreBinder& b) {
    b.i64(as_i64(a.id)).i64(a.t_ms).text(a.policy).text(a.instance).text(a.knob);
    b.real(a.before).real(a.after).text(a.status).text(a.error).i64(a.updated_ms);
  });
}

std::vector<StoredAction> StateStore::actions(size_t limit) const {
  std::vector<StoredAction> out;
  auto row = [&](sqlite3_stmt* r) { out.push_back(read_action(r)); };
  return read_rows(kActions, "cannot read actions", {sql_limit(limit)}, row) ? out : ActionList{};
}

std::vector<StoredAction> StateStore::unfinished_actions() const {
  std::vector<StoredAction> out;
  auto row = [&](sqlite3_stmt* r) { out.push_back(read_action(r)); };
  return read_rows(kUnfinished, "cannot read unfinished actions", {}, row) ? out : ActionList{};
}

std::optional<StoredAction> StateStore::action(uint64_t id) const {
  std::optional<StoredAction> out;
  auto row = [&](sqlite3_stmt* r) { out = read_action(r); };
  if (!fits_i64(id) ||
      !read_rows(kAction, "cannot read action " + std::to_string(id), {as_i64(id)}, row))
    return std::nullopt;
  return out;
}

uint64_t StateStore::max_action_id() const {
  uint64_t id = 0;
  read_rows(kMaxActionId, "cannot read the last action id", {},
            [&](sqlite3_stmt* r) { id = static_cast<uint64_t>(sqlite3_column_int64(r, 0)); });
  return id;
}

bool StateStore::put_validation(uint64_t action, int64_t t_ms, const std::string& policy,
                                const std::string& verdict, const std::string& detail_json) {
  std::string what = "cannot record the validation of action " + std::to_string(action);
  if (!fits_i64(action)) return last_error_ = what + ": the id is out of range", false;
  return put_row(kPutValidation, what, [&](StateStoreBinder& b) {
    b.i64(as_i64(action)).i64(t_ms).text(policy).text(verdict).text(detail_json);
  });
}

std::vector<StoredValidation> StateStore::validations(uint64_t action) const {
  std::vector<StoredValidation> out;
  auto row = [&](sqlite3_stmt* r) {
    out.push_back({static_cast<uint64_t>(sqlite3_column_int64(r, 0)), sqlite3_column_int64(r, 1),
                   column_text(r, 2), column_text(r, 3), column_text(r, 4)});
  };
  std::string what = "cannot read the validations of action " + std::to_string(action);
  if (!fits_i64(action) || !read_rows(kValidations, what, {as_i64(action)}, row)) return {};
  return out;
}

bool StateStore::put_knob(const std::string& knob, double value, int64_t t_ms) {
  return put_row(kPutKnob, "cannot record knob " + knob,
                 [&](StateStoreBinder& b) { b.text(knob).real(value).i64(t_ms); });
}

std::map<std::string, double> StateStore::knobs() const {
  std::map<std::string, double> out;
  auto row = [&](sqlite3_stmt* r) { out[column_text(r, 0)] = column_real(r, 1); };
  if (!read_rows(kKnobs, "cannot read knobs", {}, row)) return {};
  return out;
}

bool StateStore::put_policy_set(const std::string& sha256_hex, const std::string& files_json,
                                int64_t t_ms) {
  return put_row(kPutPolicySet, "cannot record policy set " + sha256_hex.substr(0, 64),
                 [&](StateStoreBinder& b) { b.text(sha256_hex).text(files_json).i64(t_ms); });
}

std::optional<StoredPolicySet> StateStore::last_policy_set() const {
  std::optional<StoredPolicySet> out;
  auto row = [&](sqlite3_stmt* r) {
    out = StoredPolicySet{column_text(r, 0), column_text(r, 1), sqlite3_column_int64(r, 2)};
  };
  if (!read_rows(kLastPolicySet, "cannot read the policy set", {}, row)) return std::nullopt;
  return out;
}

std::optional<std::string> StateStore::current_policy_set() const {
  auto set = last_policy_set();
  if (!set) return std::nullopt;
  return set->sha256_hex;
}

bool StateStore::put_engine_state(const std::string& json, int64_t t_ms) {
  return put_row(kPutEngineState, "cannot record the engine state",
                 [&](StateStoreBinder& b) { b.text(json).i64(t_ms); });
}

std::optional<std::string> StateStore::engine_state() const {
  std::optional<std::string> out;
  auto row = [&](sqlite3_stmt* r) { out = column_text(r, 0); };
  if (!read_rows(kEngineState, "cannot read the engine state", {}, row)) return std::nullopt;
  return out;
}

bool StateStore::put_policy_state(const std::string& policy, const std::string& json,
                                  int64_t t_ms) {
  return put_row(kPutPolicyState, "cannot record the state of policy " + policy,
                 [&](StateStoreBinder& b) { b.text(policy).text(json).i64(t_ms); });
}

bool StateStore::clear_policy_states() {
  return put_row(kClearPolicyStates, "cannot clear the policies' state", [](StateStoreBinder&) {});
}

std::vector<std::pair<std::string, std::string>> StateStore::policy_states() const {
  std::vector<std::pair<std::string, std::string>> out;
  auto row = [&](sqlite3_stmt* r) { out.emplace_back(column_text(r, 0), column_text(r, 1)); };
  if (!read_rows(kPolicyStates, "cannot read the policies' state", {}, row)) return {};
  return out;
}

bool StateStore::append_audit(int64_t t_ms, const std::string& kind, const std::string& body_json) {
  std::string what = "cannot append to the audit log";
  return write(what, [&] {
    // Read inside the write transaction, so no other writer can take the same seq.
    uint64_t seq = 0;
    std::string prev_hash = kAuditGenesisHash;
    auto row = [&](sqlite3_stmt* r) {
      seq = static_cast<uint64_t>(sqlite3_column_int64(r, 0));
      prev_hash = column_text(r, 1);
    };
    if (!read_rows(kLastAudit, what, {}, row)) return false;
    ++seq;
    std::string hash = audit_hash(prev_hash, seq, t_ms, kind, body_json);
    sqlite3_stmt* s = stmt(kAppendAudit);
    StateStoreReset reset{s};
    StateStoreBinder b{s};
    b.i64(as_i64(seq)).i64(t_ms).text(kind).text(body_json).text(prev_hash);
    b.text(hash);
    return (b.rc == SQLITE_OK && sqlite3_step(s) == SQLITE_DONE) || fail(what);
  });
}

std::vector<AuditRecord> StateStore::audit(uint64_t after_seq, size_t limit) const {
  std::vector<AuditRecord> out;
  auto row = [&](sqlite3_stmt* r) {
    out.push_back({static_cast<uint64_t>(sqlite3_column_int64(r, 0)), sqlite3_column_int64(r, 1),
                   column_text(r, 2), column_text(r, 3), column_text(r, 4), column_text(r, 5)});
  };
  if (!fits_i64(after_seq) ||
      !read_rows(kAudit, "cannot read the audit log", {as_i64(after_seq), sql_limit(limit)}, row))
    return {};
  return out;
}

AuditVerdict verify_audit(const std::string& path, std::string& error) {
  AuditVerdict verdict;
  verdict.last_hash = kAuditGenesisHash;
  error.clear();
  auto fail = [&](const std::string& message) {
    error = path + ": " + message;
    verdict.ok = false;
    return verdict;
  };
  // SQLite would create a missing file or open a directory as an empty database: refuse first.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return fail(errno_text(errno));
  if (S_ISDIR(st.st_mode)) return fail("is a directory");

  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  StateStoreDb db(raw);
  if (rc != SQLITE_OK) return fail(db_error(raw));
  sqlite3_busy_timeout(raw, 5000);
  std::string message;
  auto has_audit = one_int(
      raw, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit'", message);
  if (!has_audit) return fail(message);
  if (*has_audit == 0) return fail("not a setpoint state store (it has no audit table)");

  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(raw,
                         "SELECT seq, t_ms, kind, body, prev_hash, hash FROM audit ORDER BY seq",
                         -1, &s, nullptr) != SQLITE_OK)
    return fail(db_error(raw));
  // One statement reads one snapshot, so a daemon appending meanwhile cannot tear the walk.
  uint64_t expected = 1;
  std::string prev_hash = kAuditGenesisHash;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    auto seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    auto broken = [&](uint64_t at, std::string reason) {
      verdict.ok = false;
      verdict.bad_seq = at;
      verdict.reason = std::move(reason);
    };
    if (seq != expected) {
      broken(expected, expected == 1
                           ? "missing (the log starts at record " + std::to_string(seq) + ")"
                           : "missing (record " + std::to_string(expected - 1) +
                                 " is followed by record " + std::to_string(seq) + ")");
    } else if (column_text(s, 4) != prev_hash) {
      broken(seq, seq == 1
                      ? "prev_hash is not the start of the chain (64 zeros)"
                      : "prev_hash does not match the hash of record " + std::to_string(seq - 1));
    } else if (std::string hash = column_text(s, 5);
               hash != audit_hash(prev_hash, seq, sqlite3_column_int64(s, 1), column_text(s, 2),
                                  column_text(s, 3))) {
      broken(seq, "hash does not match its content");
    } else {
      prev_hash = std::move(hash);
      verdict.records = seq;
      verdict.last_hash = prev_hash;
      ++expected;
      continue;
    }
    break;
  }
  if (verdict.ok && rc != SQLITE_DONE) message = db_error(raw);
  sqlite3_finalize(s);
  if (!message.empty()) return fail(message);
  return verdict;
}

}  // namespace setpoint
