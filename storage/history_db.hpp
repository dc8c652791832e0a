#pragma once

// The history file: one SQLite database (WAL mode) holding every topic's
// readings and its last seq. One object is one connection, used from one
// thread at a time: the store actor writes through one, the history reader
// answers GET /topics/<name>/history through another.
//
// Every statement goes through SQLiteCpp, which turns each SQLite failure
// into an exception; none is dropped here: each function answers with what
// failed (write_failure, or the problem in words), and the store turns it
// into 503s, /readyz, the write_errors counter and a log line.
//
// Opening never changes a file that is not ours: a file that is not SQLite,
// a SQLite file of another application (its application_id), one written by
// a newer version, or one that fails SQLite's quick_check is refused.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "wire/vocabulary.hpp"

namespace SQLite {
class Database;
}

namespace happy {

// What the store holds of one topic, as a restart needs it.
struct stored_topic {
  std::string name;
  std::uint64_t last_seq = 0;
  frame_list recent;  // the newest readings, oldest first
};

// Readings of one topic to write (envelopes as the hub made them).
struct topic_frames {
  std::string topic;
  frame_batch frames;
};

// Why a write failed; `disk` is true for a full disk, an I/O error or a
// file that became read-only (not for a lock another process holds).
struct write_failure {
  std::string message;
  bool disk = false;
};

struct trim_result {
  std::uint64_t deleted = 0;
  std::optional<write_failure> failure;  // the deletes stopped here
};

class history_db {
 public:
  enum class mode { write, read };
  using open_result = std::variant<std::unique_ptr<history_db>, std::string>;

  // Opens `path` (creating it for `write`) and checks it is a history file;
  // otherwise the problem, in words.
  static open_result open(const std::string& path, mode how, bool sync_every_commit = true);
  ~history_db();
  history_db(const history_db&) = delete;
  history_db& operator=(const history_db&) = delete;

  // Every stored topic with its last seq and its newest `keep(name)` readings.
  // After a run that did not stop cleanly, last_seq is raised by
  // `unclean_margin`: readings dashboards saw but that were not committed
  // before the crash keep their seqs to themselves.
  // The problem in words when the file cannot be read.
  std::variant<std::vector<stored_topic>, std::string> load(
      const std::function<std::size_t(const std::string&)>& keep, std::uint64_t unclean_margin);

  // Whether the previous run ended with mark_clean_shutdown() (true for a new file).
  bool previous_run_ended_cleanly() const { return previous_run_clean_; }
  // Records that every reading is committed: the next start needs no margin.
  [[nodiscard]] std::optional<write_failure> mark_clean_shutdown();

  // Writes all `batches` in one transaction; nullopt when committed.
  [[nodiscard]] std::optional<write_failure> write(const std::vector<topic_frames>& batches);

  // Deletes up to `limit` readings per topic that are older than `oldest_ts`
  // or beyond the newest `keep` of their topic; answers how many it deleted.
  [[nodiscard]] trim_result trim(std::int64_t oldest_ts, std::uint64_t keep, std::uint64_t limit);

  // Deletes a topic and its readings (it was removed from the config), in one transaction.
  [[nodiscard]] std::optional<write_failure> forget(const std::string& topic);

  // `topic`'s readings in [from, to) in at most `points` buckets, or why
  // the file could not answer.
  [[nodiscard]] std::variant<history_series, std::string> downsample(const std::string& topic, std::int64_t from,
                                                                     std::int64_t to, std::uint32_t points);

  // Every reading in the file; nullopt when it cannot be read.
  [[nodiscard]] std::optional<std::uint64_t> reading_count();

 private:
  explicit history_db(std::unique_ptr<SQLite::Database> db);
  struct statements;

  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<statements> statements_;
  bool previous_run_clean_ = true;
};

}  // namespace happy
