#pragma once

// The history file's one writer. Hubs send it their readings batch by batch
// (the same frame_batch their sessions get); it writes everything that
// arrived while the previous transaction was being committed in one
// transaction (group commit), then tells each hub up to which seq its
// readings are on disk, and the hub answers those publishes. It runs
// detached, on its own thread: a slow disk delays acknowledgements, never
// the scheduler or the fan-out.
//
// When a write fails (disk full, I/O error) it keeps the readings (up to a
// bound) and tries again every second; meanwhile storage_status::writable is
// false, so hubs answer publishes "unavailable". Retention deletes readings
// beyond max_age and max_readings_per_topic in short chunks between writes.
// Its interface is store_actor (actors/actors.hpp).

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/actors.hpp"
#include "storage/storage_status.hpp"
#include "storage/history_db.hpp"

namespace happy {

struct store_state {
  static inline const char* name = "store";

  std::shared_ptr<history_db> db;
  storage_config settings;
  std::shared_ptr<storage_status> status;
  // Readings that arrived since the last commit, and whom to tell.
  std::vector<topic_frames> pending;
  std::unordered_map<caf::actor_addr, std::pair<hub_actor, std::uint64_t>> waiting;  // newest seq
  bool commit_scheduled = false;
  // Readings a failed transaction held, written first on the next one.
  std::vector<topic_frames> retained;
  std::size_t retained_readings = 0;
  bool retry_scheduled = false;
  // Write failures and failed deletes are logged once a minute each: a
  // failing retention delete must not hide why publishes are refused.
  std::int64_t last_failure_log_ms = 0;
  std::uint64_t failures_since_log = 0;
  std::int64_t last_delete_failure_log_ms = 0;
  std::uint64_t delete_failures_since_log = 0;
  // Hubs that may still send readings: the store ends after the last one.
  std::set<caf::actor_addr> hubs;
  bool stopping = false;
};

// The most readings kept in memory for a retry while the disk fails.
inline constexpr std::size_t max_retained_readings = 1000000;

store_actor::behavior_type store(store_actor::stateful_pointer<store_state> self,
                                 std::shared_ptr<history_db> db, storage_config settings,
                                 std::shared_ptr<storage_status> status);

}  // namespace happy
