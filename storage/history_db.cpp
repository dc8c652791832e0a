#include "storage/history_db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "wire/envelope.hpp"

namespace happy {

namespace {

// PRAGMA application_id of a happy-dashboard history file ("HPPY").
constexpr std::int32_t application_id = 0x48505059;
constexpr int schema_version = 1;

const char* const schema_sql = R"(
CREATE TABLE IF NOT EXISTS topics (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS readings (
  topic_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (topic_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (topic_id, ts);
CREATE TABLE IF NOT EXISTS run_state (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO run_state VALUES ('clean_shutdown', 1);
)";

// One prepared statement, reset after every use.
class statement {
 public:
  statement(sqlite3* db, const char* sql) { sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr); }
  ~statement() { sqlite3_finalize(stmt_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  statement& bind(int at, std::int64_t v) {
    sqlite3_bind_int64(stmt_, at, v);
    return *this;
  }
  statement& bind(int at, std::string_view v) {
    sqlite3_bind_text(stmt_, at, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  std::string text(int column) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Runs `sql` (no results wanted); the error text or nullopt.
std::optional<std::string> run(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) == SQLITE_OK) return std::nullopt;
  std::string text = error ? error : sqlite3_errmsg(db);
  sqlite3_free(error);
  return text;
}

// The first column of the first row of `sql`, as text; nullopt on error.
std::optional<std::string> single_text(sqlite3* db, const char* sql) {
  statement s(db, sql);
  int rc = s.step();
  if (rc == SQLITE_ROW) return s.text(0);
  if (rc == SQLITE_DONE) return std::string();
  return std::nullopt;
}

bool is_disk_error(int code) {
  int primary = code & 0xff;
  return primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
         primary == SQLITE_READONLY;
}

}  // namespace

struct history_db::statements {
  explicit statements(sqlite3* db)
      : insert_reading(db, "INSERT OR IGNORE INTO readings (topic_id, seq, ts, value) VALUES (?1, ?2, ?3, ?4)"),
        find_topic(db, "SELECT id FROM topics WHERE name = ?1"),
        add_topic(db, "INSERT INTO topics (name, last_seq) VALUES (?1, 0)"),
        raise_last_seq(db, "UPDATE topics SET last_seq = max(last_seq, ?2) WHERE id = ?1") {}
  statement insert_reading, find_topic, add_topic, raise_last_seq;
  // Topic ids by name, as committed; ids added in a failed transaction are dropped.
  std::map<std::string, std::int64_t, std::less<>> topic_ids;
};

history_db::history_db(sqlite3* db) : db_(db) {}

history_db::~history_db() {
  statements_.reset();
  sqlite3_close_v2(db_);
}

history_db::open_result history_db::open(const std::string& path, mode how,
                                         bool sync_every_commit) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored))
    return "history file " + path + ": is a directory; storage.path names the file itself (e.g. " +
           (std::filesystem::path(path) / "history.db").string() + ")";
  sqlite3* raw = nullptr;
  int flags = how == mode::write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<history_db> db(new history_db(raw));
  auto problem = [&](const std::string& what) { return "history file " + path + ": " + what; };
  if (rc != SQLITE_OK)
    return problem(std::string("cannot be opened (") + sqlite3_errstr(rc) +
                   "): does its directory exist, and may this user write there?");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 5000);
  // Reading the header first: nothing is written to a file that is not ours.
  auto app = single_text(raw, "PRAGMA application_id");
  if (!app) {
    int code = sqlite3_errcode(raw) & 0xff;
    if (code == SQLITE_NOTADB)
      return problem("is not a SQLite database; refusing to use it (move it away or set storage.path to another file)");
    return problem(std::string("cannot be read: ") + sqlite3_errmsg(raw));
  }
  auto tables = single_text(raw, "SELECT count(*) FROM sqlite_schema");
  auto version = single_text(raw, "PRAGMA user_version");
  if (!tables || !version)
    return problem(std::string("cannot be read: ") + sqlite3_errmsg(raw));
  bool empty = *tables == "0";
  if (!empty && std::stoll(*app) != application_id)
    return problem("is a SQLite database of another application (application_id " + *app +
                   "); refusing to use it (set storage.path to another file)");
  if (std::stoi(*version) > schema_version)
    return problem("was written by a newer happy-dashboard (schema version " + *version +
                   "); refusing to use it");
  // The writer checks the pages once; the reader opens the same file right after.
  if (!empty && how == mode::write) {
    auto check = single_text(raw, "PRAGMA quick_check");
    if (!check || *check != "ok")
      return problem("is damaged (SQLite quick_check: " +
                     (check ? check->substr(0, 200) : std::string(sqlite3_errmsg(raw))) +
                     "); refusing to start: restore it from a backup or move it away");
  }
  if (how == mode::read) {
    db->statements_ = std::make_unique<statements>(raw);
    return db;
  }
  if (sqlite3_db_readonly(raw, "main") == 1) return problem("is read-only for this user");
  auto journal = single_text(raw, "PRAGMA journal_mode = WAL");
  if (!journal || *journal != "wal")
    return problem("cannot use write-ahead logging (" +
                   (journal ? *journal : std::string(sqlite3_errmsg(raw))) +
                   "): may this user create files in its directory?");
  if (auto e = run(raw, sync_every_commit ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL"))
    return problem(*e);
  std::string init = "BEGIN IMMEDIATE;" + std::string(schema_sql) +
                     "PRAGMA application_id = " + std::to_string(application_id) +
                     "; PRAGMA user_version = " + std::to_string(schema_version) + ";";
  if (auto e = run(raw, init.c_str())) {
    run(raw, "ROLLBACK");
    return problem("cannot be written: " + *e);
  }
  auto clean = single_text(raw, "SELECT value FROM run_state WHERE key = 'clean_shutdown'");
  db->previous_run_clean_ = clean && *clean == "1";
  if (auto e = run(raw, "UPDATE run_state SET value = 0 WHERE key = 'clean_shutdown'; COMMIT;")) {
    run(raw, "ROLLBACK");
    return problem("cannot be written: " + *e);
  }
  db->statements_ = std::make_unique<statements>(raw);
  return db;
}

void history_db::mark_clean_shutdown() {
  run(db_, "UPDATE run_state SET value = 1 WHERE key = 'clean_shutdown'");
}

std::vector<stored_topic> history_db::load(
    const std::function<std::size_t(const std::string&)>& keep, std::uint64_t unclean_margin) {
  std::vector<stored_topic> out;
  statement topics(db_, "SELECT id, name, last_seq, (SELECT max(seq) FROM readings WHERE topic_id = topics.id) FROM topics ORDER BY name");
  statement newest(db_, "SELECT seq, ts, value FROM readings WHERE topic_id = ?1 ORDER BY seq DESC LIMIT ?2");
  while (topics.step() == SQLITE_ROW) {
    stored_topic t;
    std::int64_t id = topics.integer(0);
    t.name = topics.text(1);
    t.last_seq = static_cast<std::uint64_t>(std::max(topics.integer(2), topics.integer(3)));
    if (!previous_run_clean_) t.last_seq += unclean_margin;
    newest.bind(1, id).bind(2, static_cast<std::int64_t>(keep(t.name)));
    while (newest.step() == SQLITE_ROW) {
      auto seq = static_cast<std::uint64_t>(newest.integer(0));
      t.recent.push_back(
          {seq, std::make_shared<const std::string>(
                    make_envelope(t.name, newest.text(2), seq, newest.integer(1)))});
    }
    newest.reset();
    std::reverse(t.recent.begin(), t.recent.end());
    out.push_back(std::move(t));
  }
  return out;
}

std::optional<write_failure> history_db::write(const std::vector<topic_frames>& batches) {
  auto& s = *statements_;
  auto fail = [&](int code) -> std::optional<write_failure> {
    write_failure f{sqlite3_errstr(code), is_disk_error(code)};
    if (const char* detail = sqlite3_errmsg(db_)) f.message = detail;
    if (!sqlite3_get_autocommit(db_)) run(db_, "ROLLBACK");
    s.topic_ids.clear();  // ids added in the failed transaction are gone
    return f;
  };
  if (auto e = run(db_, "BEGIN")) return fail(sqlite3_errcode(db_));
  for (const auto& batch : batches) {
    std::int64_t id = 0;
    if (auto it = s.topic_ids.find(batch.topic); it != s.topic_ids.end()) {
      id = it->second;
    } else {
      int rc = s.find_topic.bind(1, batch.topic).step();
      if (rc == SQLITE_ROW) {
        id = s.find_topic.integer(0);
      } else {
        s.find_topic.reset();
        if (rc != SQLITE_DONE) return fail(rc);
        rc = s.add_topic.bind(1, batch.topic).step();
        s.add_topic.reset();
        if (rc != SQLITE_DONE) return fail(rc);
        id = sqlite3_last_insert_rowid(db_);
      }
      s.find_topic.reset();
      s.topic_ids.emplace(batch.topic, id);
    }
    std::uint64_t newest = 0;
    for (const auto& f : *batch.frames) {
      auto parts = split_envelope(batch.topic, *f.json);
      if (!parts) continue;  // not made by make_envelope: nothing to keep
      int rc = s.insert_reading.bind(1, id)
                   .bind(2, static_cast<std::int64_t>(f.seq))
                   .bind(3, parts->ts_ms)
                   .bind(4, parts->value_json)
                   .step();
      s.insert_reading.reset();
      if (rc != SQLITE_DONE) return fail(rc);
      newest = std::max(newest, f.seq);
    }
    int rc = s.raise_last_seq.bind(1, id).bind(2, static_cast<std::int64_t>(newest)).step();
    s.raise_last_seq.reset();
    if (rc != SQLITE_DONE) return fail(rc);
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK)
    return fail(sqlite3_extended_errcode(db_));
  return std::nullopt;
}

std::uint64_t history_db::trim(std::int64_t oldest_ts, std::uint64_t keep, std::uint64_t limit) {
  // Per topic, a bounded seq range from its oldest reading: each statement
  // is a short transaction, so writes wait at most one chunk.
  statement ids(db_, "SELECT id FROM topics");
  statement by_age(db_,
                   "DELETE FROM readings WHERE topic_id = ?1 AND ts < ?2 AND seq < "
                   "(SELECT min(seq) FROM readings WHERE topic_id = ?1) + ?3");
  statement by_count(db_,
                     "DELETE FROM readings WHERE topic_id = ?1 AND seq <= "
                     "(SELECT seq FROM readings WHERE topic_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2) "
                     "AND seq < (SELECT min(seq) FROM readings WHERE topic_id = ?1) + ?3");
  std::uint64_t deleted = 0;
  std::vector<std::int64_t> topic_ids;
  while (ids.step() == SQLITE_ROW) topic_ids.push_back(ids.integer(0));
  for (auto id : topic_ids) {
    if (by_age.bind(1, id).bind(2, oldest_ts).bind(3, static_cast<std::int64_t>(limit)).step() == SQLITE_DONE)
      deleted += static_cast<std::uint64_t>(sqlite3_changes(db_));
    by_age.reset();
    if (by_count.bind(1, id).bind(2, static_cast<std::int64_t>(keep)).bind(3, static_cast<std::int64_t>(limit)).step() == SQLITE_DONE)
      deleted += static_cast<std::uint64_t>(sqlite3_changes(db_));
    by_count.reset();
  }
  return deleted;
}

void history_db::forget(const std::string& topic) {
  statement readings(db_, "DELETE FROM readings WHERE topic_id = (SELECT id FROM topics WHERE name = ?1)");
  statement topics(db_, "DELETE FROM topics WHERE name = ?1");
  readings.bind(1, topic).step();
  topics.bind(1, topic).step();
  statements_->topic_ids.erase(topic);
}

history_series history_db::downsample(const std::string& topic, std::int64_t from, std::int64_t to,
                                      std::uint32_t points) {
  history_series out;
  out.topic = topic;
  out.from = from;
  out.to = to;
  out.bucket_ms = std::max<std::int64_t>(1, (to - from + points - 1) / std::max<std::uint32_t>(points, 1));
  // json_each of a plain number is one row with a NULL key: the unnamed field.
  statement q(db_,
              "SELECT (r.ts - ?2) / ?4 AS bucket, CAST(avg(r.ts) AS INTEGER), j.key, count(*), "
              "min(j.value), avg(j.value), max(j.value) "
              "FROM readings r, json_each(r.value) j "
              "WHERE r.topic_id = (SELECT id FROM topics WHERE name = ?1) AND r.ts >= ?2 AND r.ts < ?3 "
              "AND j.type IN ('integer', 'real') AND (j.key IS NULL OR typeof(j.key) = 'text') "
              "GROUP BY bucket, j.key ORDER BY bucket, j.key");
  q.bind(1, topic).bind(2, from).bind(3, to).bind(4, out.bucket_ms);
  std::int64_t current = -1;
  while (q.step() == SQLITE_ROW) {
    std::int64_t bucket = q.integer(0);
    if (bucket != current) {
      current = bucket;
      out.buckets.push_back({q.integer(1), 0, {}});
    }
    auto& b = out.buckets.back();
    auto count = static_cast<std::uint64_t>(q.integer(3));
    b.count = std::max(b.count, count);
    b.fields.push_back({q.is_null(2) ? std::string() : q.text(2), q.real(4), q.real(5), q.real(6), count});
  }
  return out;
}

std::uint64_t history_db::reading_count() {
  auto n = single_text(db_, "SELECT count(*) FROM readings");
  return n && !n->empty() ? std::stoull(*n) : 0;
}

}  // namespace happy
