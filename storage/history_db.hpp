#pragma once

// The history file: one SQLite database (WAL mode) holding every topic's
// readings and its last seq. One object is one connection, used from one
// thread at a time: the store actor writes through one, the history reader
// answers GET /topics/<name>/history through another.
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

struct sqlite3;

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

// Why a write failed; `disk` is true for a full disk or an I/O error.
struct write_failure {
  std::string message;
  bool disk = false;
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
  std::vector<stored_topic> load(const std::function<std::size_t(const std::string&)>& keep,
                                 std::uint64_t unclean_margin);

  // Whether the previous run ended with mark_clean_shutdown() (true for a new file).
  bool previous_run_ended_cleanly() const { return previous_run_clean_; }
  // Records that every reading is committed: the next start needs no margin.
  void mark_clean_shutdown();

  // Writes all `batches` in one transaction; nullopt when committed.
  std::optional<write_failure> write(const std::vector<topic_frames>& batches);

  // Deletes up to `limit` readings per topic that are older than `oldest_ts`
  // or beyond the newest `keep` of their topic; answers how many it deleted.
  std::uint64_t trim(std::int64_t oldest_ts, std::uint64_t keep, std::uint64_t limit);

  // Deletes a topic and its readings (it was removed from the config).
  void forget(const std::string& topic);

  // `topic`'s readings in [from, to) in at most `points` buckets.
  history_series downsample(const std::string& topic, std::int64_t from, std::int64_t to,
                            std::uint32_t points);

  std::uint64_t reading_count();

 private:
  explicit history_db(sqlite3* db);
  struct statements;

  sqlite3* db_;
  std::unique_ptr<statements> statements_;
  bool previous_run_clean_ = true;
};

}  // namespace happy
