#pragma once

// Holds this node's leases in the JetStream bucket "happy_leases" (README
// "Clustering"), on a thread of its own (spawn it detached): every
// renew_interval it renews the leases it holds and tries to take the wanted
// ones nobody holds, and tells the registry which topics it holds — their
// generators and sources run here and nowhere else. A lease it could not
// renew for longer than it can be sure of (lease_ttl less a margin) counts
// as lost here before another node can take it; a node that was paused
// longer than that stops producing when it wakes up, and the readings it
// may send first are fenced off by ExpectLastSeq (actors/jetstream_log.hpp).

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/actors.hpp"
#include "actors/lease_validity.hpp"
#include "storage/lease_bucket.hpp"

namespace happy {

inline constexpr std::chrono::milliseconds lease_ttl{10000};
inline constexpr std::chrono::milliseconds lease_renew_interval{2000};

struct lease_keeper_state {
  static inline const char* name = "lease_keeper";
  std::shared_ptr<nats_connection> link;
  std::unique_ptr<lease_bucket> bucket;  // opened on the first tick JetStream answers
  registry_actor registry;
  std::shared_ptr<lease_validity> validity;  // what the hubs check before a producer's reading
  std::vector<std::string> wanted;
  struct lease {
    std::uint64_t revision = 0;
    std::int64_t renewed_ms = 0;
  };
  std::map<std::string, lease> held;
  // Who held each wanted topic's lease at the last renewal: /cluster asks
  // often and must not wait for the bucket.
  std::map<std::string, std::string> holders;
  std::vector<std::string> reported;

  void renew_all();
  void report();
  void release_all();
};

lease_keeper_actor::behavior_type lease_keeper(
    lease_keeper_actor::stateful_pointer<lease_keeper_state> self, std::shared_ptr<nats_connection> link,
    registry_actor registry, std::shared_ptr<lease_validity> validity);

}  // namespace happy
