#pragma once

// What the store actor tells everyone else about the history file, without
// a message: hubs refuse publishes while it cannot write, /readyz answers 503,
// and /metrics shows the counters. Written by the store only.

#include <atomic>
#include <cstdint>

namespace happy {

// A hub hands out at most this many seqs beyond the last one its store has
// committed (publishes wait beyond that), so after a crash a topic's seqs
// continue this far above the last stored one, and no seq a dashboard saw
// before the crash is used again for another reading.
inline constexpr std::uint64_t max_uncommitted_seqs = 65536;

struct storage_status {
  std::atomic<bool> writable{true};
  std::atomic<std::uint64_t> commits{0};           // transactions (one sync each with synchronous=full)
  std::atomic<std::uint64_t> readings_written{0};
  std::atomic<std::uint64_t> write_errors{0};      // failed transactions
  std::atomic<std::uint64_t> readings_deleted{0};  // by retention
  std::atomic<std::uint64_t> readings_dropped{0};  // could not be kept for a retry
  std::atomic<std::uint64_t> pending_readings{0};  // kept for a retry while the disk fails
};

}  // namespace happy
