#include "storage/history_db.hpp"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
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

// Another process's write lock (the sqlite3 shell, another writer) is waited
// for this long: well inside a publish's wait (5 s), so a held lock is
// answered as a storage failure, not as an overloaded service.
constexpr int busy_timeout_ms = 2000;

bool is_disk_error(int code) {
  int primary = code & 0xff;
  return primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
         primary == SQLITE_READONLY;
}

write_failure failure_of(const SQLite::Exception& e) {
  return {e.what(), is_disk_error(e.getExtendedErrorCode())};
}

}  // namespace

struct history_db::statements {
  explicit statements(SQLite::Database& db)
      : insert_reading(db, "INSERT OR IGNORE INTO readings (topic_id, seq, ts, value) VALUES (?1, ?2, ?3, ?4)"),
        find_topic(db, "SELECT id FROM topics WHERE name = ?1"),
        add_topic(db, "INSERT INTO topics (name, last_seq) VALUES (?1, 0)"),
        raise_last_seq(db, "UPDATE topics SET last_seq = max(last_seq, ?2) WHERE id = ?1") {}
  SQLite::Statement insert_reading, find_topic, add_topic, raise_last_seq;
  // Topic ids by name, as committed; ids added in a failed transaction are dropped.
  std::map<std::string, std::int64_t, std::less<>> topic_ids;

  // After a failed step a statement still holds that step; the next use
  // needs it reset. The failure itself was already thrown and is reported.
  void reset_all() noexcept {
    for (auto* s : {&insert_reading, &find_topic, &add_topic, &raise_last_seq}) s->tryReset();
  }
};

history_db::history_db(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}

history_db::~history_db() = default;

history_db::open_result history_db::open(const std::string& path, mode how,
                                         bool sync_every_commit) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored))
    return "history file " + path + ": is a directory; storage.path names the file itself (e.g. " +
           (std::filesystem::path(path) / "history.db").string() + ")";
  auto problem = [&](const std::string& what) { return "history file " + path + ": " + what; };
  int flags = how == mode::write ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE : SQLite::OPEN_READONLY;
  std::unique_ptr<SQLite::Database> opened;
  try {
    opened = std::make_unique<SQLite::Database>(path, flags | SQLITE_OPEN_NOMUTEX, busy_timeout_ms);
  } catch (const SQLite::Exception& e) {
    return problem(std::string("cannot be opened (") + e.what() +
                   "): does its directory exist, and may this user write there?");
  }
  std::unique_ptr<history_db> db(new history_db(std::move(opened)));
  auto& d = *db->db_;
  // Reading the header first: nothing is written to a file that is not ours.
  bool empty = true;
  try {
    std::int64_t app = d.execAndGet("PRAGMA application_id").getInt64();
    empty = d.execAndGet("SELECT count(*) FROM sqlite_schema").getInt64() == 0;
    std::int64_t version = d.execAndGet("PRAGMA user_version").getInt64();
    if (!empty && app != application_id)
      return problem("is a SQLite database of another application (application_id " + std::to_string(app) +
                     "); refusing to use it (set storage.path to another file)");
    if (version > schema_version)
      return problem("was written by a newer happy-dashboard (schema version " + std::to_string(version) +
                     "); refusing to use it");
  } catch (const SQLite::Exception& e) {
    if ((e.getErrorCode() & 0xff) == SQLITE_NOTADB)
      return problem("is not a SQLite database; refusing to use it (move it away or set storage.path to another file)");
    return problem(std::string("cannot be read: ") + e.what());
  }
  // The writer checks the pages once; the reader opens the same file right after.
  if (!empty && how == mode::write) {
    std::string check;
    try {
      check = d.execAndGet("PRAGMA quick_check").getString();
    } catch (const SQLite::Exception& e) {
      check = e.what();
    }
    if (check != "ok")
      return problem("is damaged (SQLite quick_check: " + check.substr(0, 200) +
                     "); refusing to start: restore it from a backup or move it away");
  }
  if (how == mode::read) {
    try {
      db->statements_ = std::make_unique<statements>(d);
    } catch (const SQLite::Exception& e) {
      return problem(std::string("cannot be read: ") + e.what());
    }
    return db;
  }
  if (sqlite3_db_readonly(d.getHandle(), "main") == 1) return problem("is read-only for this user");
  try {
    std::string journal = d.execAndGet("PRAGMA journal_mode = WAL").getString();
    if (journal != "wal") throw std::runtime_error("journal mode " + journal);
  } catch (const std::exception& e) {
    return problem(std::string("cannot use write-ahead logging (") + e.what() +
                   "): may this user create files in its directory?");
  }
  try {
    d.exec(sync_every_commit ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    SQLite::Transaction init(d, SQLite::TransactionBehavior::IMMEDIATE);
    d.exec(schema_sql);
    d.exec("PRAGMA application_id = " + std::to_string(application_id) +
           "; PRAGMA user_version = " + std::to_string(schema_version) + ";");
    db->previous_run_clean_ =
        d.execAndGet("SELECT value FROM run_state WHERE key = 'clean_shutdown'").getInt64() == 1;
    d.exec("UPDATE run_state SET value = 0 WHERE key = 'clean_shutdown'");
    init.commit();
    db->statements_ = std::make_unique<statements>(d);
  } catch (const SQLite::Exception& e) {
    return problem(std::string("cannot be written: ") + e.what());
  }
  return db;
}

std::optional<write_failure> history_db::mark_clean_shutdown() {
  try {
    db_->exec("UPDATE run_state SET value = 1 WHERE key = 'clean_shutdown'");
    return std::nullopt;
  } catch (const SQLite::Exception& e) {
    return failure_of(e);
  }
}

std::variant<std::vector<stored_topic>, std::string> history_db::load(
    const std::function<std::size_t(const std::string&)>& keep, std::uint64_t unclean_margin) {
  std::vector<stored_topic> out;
  try {
    SQLite::Statement topics(*db_, "SELECT id, name, last_seq, (SELECT max(seq) FROM readings WHERE topic_id = topics.id) FROM topics ORDER BY name");
    SQLite::Statement newest(*db_, "SELECT seq, ts, value FROM readings WHERE topic_id = ?1 ORDER BY seq DESC LIMIT ?2");
    while (topics.executeStep()) {
      stored_topic t;
      std::int64_t id = topics.getColumn(0).getInt64();
      t.name = topics.getColumn(1).getString();
      // max(seq) is NULL for a topic without readings: 0.
      t.last_seq = static_cast<std::uint64_t>(
          std::max(topics.getColumn(2).getInt64(), topics.getColumn(3).getInt64()));
      if (!previous_run_clean_) t.last_seq += unclean_margin;
      newest.bind(1, id);
      newest.bind(2, static_cast<std::int64_t>(keep(t.name)));
      while (newest.executeStep()) {
        auto seq = static_cast<std::uint64_t>(newest.getColumn(0).getInt64());
        t.recent.push_back(
            {seq, std::make_shared<const std::string>(make_envelope(
                      t.name, newest.getColumn(2).getString(), seq, newest.getColumn(1).getInt64()))});
      }
      newest.reset();
      std::reverse(t.recent.begin(), t.recent.end());
      out.push_back(std::move(t));
    }
  } catch (const SQLite::Exception& e) {
    return std::string("cannot be read: ") + e.what();
  }
  return out;
}

std::optional<write_failure> history_db::write(const std::vector<topic_frames>& batches) {
  auto& s = *statements_;
  try {
    SQLite::Transaction transaction(*db_);
    for (const auto& batch : batches) {
      std::int64_t id = 0;
      if (auto it = s.topic_ids.find(batch.topic); it != s.topic_ids.end()) {
        id = it->second;
      } else {
        s.find_topic.bind(1, batch.topic);
        bool known = s.find_topic.executeStep();
        if (known) id = s.find_topic.getColumn(0).getInt64();
        s.find_topic.reset();
        if (!known) {
          s.add_topic.bind(1, batch.topic);
          s.add_topic.exec();
          s.add_topic.reset();
          id = db_->getLastInsertRowid();
        }
        s.topic_ids.emplace(batch.topic, id);
      }
      std::uint64_t newest = 0;
      for (const auto& f : *batch.frames) {
        auto parts = split_envelope(batch.topic, *f.json);
        if (!parts) continue;  // not made by make_envelope: nothing to keep
        s.insert_reading.bind(1, id);
        s.insert_reading.bind(2, static_cast<std::int64_t>(f.seq));
        s.insert_reading.bind(3, parts->ts_ms);
        s.insert_reading.bind(4, std::string(parts->value_json));
        s.insert_reading.exec();
        s.insert_reading.reset();
        newest = std::max(newest, f.seq);
      }
      s.raise_last_seq.bind(1, id);
      s.raise_last_seq.bind(2, static_cast<std::int64_t>(newest));
      s.raise_last_seq.exec();
      s.raise_last_seq.reset();
    }
    transaction.commit();
    return std::nullopt;
  } catch (const SQLite::Exception& e) {
    // The transaction was rolled back as it went out of scope.
    s.reset_all();
    s.topic_ids.clear();  // ids added in the failed transaction are gone
    return failure_of(e);
  }
}

trim_result history_db::trim(std::int64_t oldest_ts, std::uint64_t keep, std::uint64_t limit) {
  // Per topic, a bounded seq range from its oldest reading: each statement
  // is a short transaction, so writes wait at most one chunk.
  trim_result out;
  try {
    SQLite::Statement ids(*db_, "SELECT id FROM topics");
    SQLite::Statement by_age(*db_,
                             "DELETE FROM readings WHERE topic_id = ?1 AND ts < ?2 AND seq < "
                             "(SELECT min(seq) FROM readings WHERE topic_id = ?1) + ?3");
    SQLite::Statement by_count(*db_,
                               "DELETE FROM readings WHERE topic_id = ?1 AND seq <= "
                               "(SELECT seq FROM readings WHERE topic_id = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2) "
                               "AND seq < (SELECT min(seq) FROM readings WHERE topic_id = ?1) + ?3");
    std::vector<std::int64_t> topic_ids;
    while (ids.executeStep()) topic_ids.push_back(ids.getColumn(0).getInt64());
    for (auto id : topic_ids) {
      by_age.bind(1, id);
      by_age.bind(2, oldest_ts);
      by_age.bind(3, static_cast<std::int64_t>(limit));
      out.deleted += static_cast<std::uint64_t>(by_age.exec());
      by_age.reset();
      by_count.bind(1, id);
      by_count.bind(2, static_cast<std::int64_t>(keep));
      by_count.bind(3, static_cast<std::int64_t>(limit));
      out.deleted += static_cast<std::uint64_t>(by_count.exec());
      by_count.reset();
    }
  } catch (const SQLite::Exception& e) {
    out.failure = failure_of(e);
  }
  return out;
}

std::optional<write_failure> history_db::forget(const std::string& topic) {
  try {
    SQLite::Transaction transaction(*db_);
    SQLite::Statement readings(*db_, "DELETE FROM readings WHERE topic_id = (SELECT id FROM topics WHERE name = ?1)");
    readings.bind(1, topic);
    readings.exec();
    SQLite::Statement topics(*db_, "DELETE FROM topics WHERE name = ?1");
    topics.bind(1, topic);
    topics.exec();
    transaction.commit();
  } catch (const SQLite::Exception& e) {
    return failure_of(e);
  }
  statements_->topic_ids.erase(topic);
  return std::nullopt;
}

std::variant<history_series, std::string> history_db::downsample(const std::string& topic, std::int64_t from,
                                                                  std::int64_t to, std::uint32_t points) {
  history_series out;
  out.topic = topic;
  out.from = from;
  out.to = to;
  out.bucket_ms = std::max<std::int64_t>(1, (to - from + points - 1) / std::max<std::uint32_t>(points, 1));
  try {
    // json_each of a plain number is one row with a NULL key: the unnamed field.
    SQLite::Statement q(*db_,
                        "SELECT (r.ts - ?2) / ?4 AS bucket, CAST(avg(r.ts) AS INTEGER), j.key, count(*), "
                        "min(j.value), avg(j.value), max(j.value) "
                        "FROM readings r, json_each(r.value) j "
                        "WHERE r.topic_id = (SELECT id FROM topics WHERE name = ?1) AND r.ts >= ?2 AND r.ts < ?3 "
                        "AND j.type IN ('integer', 'real') AND (j.key IS NULL OR typeof(j.key) = 'text') "
                        "GROUP BY bucket, j.key ORDER BY bucket, j.key");
    q.bind(1, topic);
    q.bind(2, from);
    q.bind(3, to);
    q.bind(4, out.bucket_ms);
    std::int64_t current = -1;
    while (q.executeStep()) {
      std::int64_t bucket = q.getColumn(0).getInt64();
      if (bucket != current) {
        current = bucket;
        out.buckets.push_back({q.getColumn(1).getInt64(), 0, {}});
      }
      auto& b = out.buckets.back();
      auto count = static_cast<std::uint64_t>(q.getColumn(3).getInt64());
      b.count = std::max(b.count, count);
      b.fields.push_back({q.getColumn(2).isNull() ? std::string() : q.getColumn(2).getString(),
                          q.getColumn(4).getDouble(), q.getColumn(5).getDouble(), q.getColumn(6).getDouble(),
                          count});
    }
  } catch (const SQLite::Exception& e) {
    return std::string(e.what());
  }
  return out;
}

std::optional<std::uint64_t> history_db::reading_count() {
  try {
    return static_cast<std::uint64_t>(db_->execAndGet("SELECT count(*) FROM readings").getInt64());
  } catch (const SQLite::Exception&) {
    return std::nullopt;
  }
}

}  // namespace happy
