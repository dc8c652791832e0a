#pragma once

// The cluster's numbers for GET /metrics. The actors count; the network side
// reads. Atomics only: nothing here is actor state.

#include <atomic>
#include <cstdint>

namespace happy {

struct cluster_counters {
  std::atomic<std::uint64_t> forwarded{0};          // publishes sent on to a topic's owner
  std::atomic<std::uint64_t> replicas_sent{0};      // envelopes this node sent to members as owner
  std::atomic<std::uint64_t> replicas_received{0};  // envelopes received from an owner
  std::atomic<std::uint64_t> syncs_received{0};     // history snapshots merged
  // Other nodes by state; set by the cluster actor on every change.
  std::atomic<std::uint64_t> members_up{0};
  std::atomic<std::uint64_t> members_joining{0};
  std::atomic<std::uint64_t> members_down{0};
  std::atomic<std::uint64_t> members_connecting{0};
};

}  // namespace happy
