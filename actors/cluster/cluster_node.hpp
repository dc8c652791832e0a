#pragma once

// This process as one node of a cluster (README "Clustering"). The actor is
// published with CAF's middleman on cluster.listen; nodes reach each other's
// cluster actors and speak only CAF messages (its interface:
// cluster_node_actor in actors/actors.hpp).
//
// Membership (membership.cpp): it connects to configured peers with backoff,
// monitors every member, exchanges histories on contact, and tells the local
// registry the current view. Routing (routing.cpp): a topic's owner (by
// rendezvous hashing over the nodes that are up) assigns seq and ts; other
// nodes forward publishes to it, and route them again when it is lost.

#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/actors.hpp"
#include "actors/cluster/cluster_counters.hpp"
#include "actors/cluster/cluster_status.hpp"
#include "actors/cluster/cluster_view.hpp"
#include "config/config.hpp"

namespace happy {

enum class member_state { connecting, joining, up, down };
const char* member_state_name(member_state state);

struct cluster_member {
  std::string name;     // empty until the node has introduced itself
  std::string address;  // "host:port" as configured or as it announced itself
  cluster_node_actor handle;  // its cluster actor while connected
  member_state state = member_state::connecting;
  bool configured = false;  // in cluster.peers: reconnect when lost
  bool first_contact_done = false;  // its first connection attempt has ended
  std::int64_t backoff_ms = 0;
};

// A publish on its way to the topic's owner.
struct pending_publish {
  caf::typed_response_promise<std::uint64_t> promise;
  std::string topic;
  std::string value_json;
  std::uint64_t hops = 0;
  // Routing stops trying here: the caller's own request times out at 5 s.
  std::chrono::steady_clock::time_point give_up;
  // A forwarded publish: the Unix ms after which its sender has given up on
  // it, so the owner must not accept it any more; 0 for a local publish.
  std::int64_t deadline_ms = 0;
};

struct cluster_node_state {
  static inline const char* name = "cluster";

  cluster_config cfg;
  registry_actor registry;
  std::shared_ptr<cluster_counters> counters;
  bool up = false;  // may own topics; false while the first contacts are made
  std::vector<cluster_member> members;  // other nodes
  cluster_view view;
  // Publishes waiting to be routed again after their owner failed them.
  std::map<std::uint64_t, pending_publish> retries;
  // Publishes forwarded to an owner and not answered yet, with that owner:
  // routed again at once when it is lost.
  struct in_flight {
    pending_publish publish;
    caf::actor_addr owner;
  };
  std::map<std::uint64_t, in_flight> forwarding;
  std::uint64_t next_id = 0;

  cluster_member* member_named(const std::string& name);
  cluster_member* member_at(const std::string& address);
  cluster_member* member_with(const caf::actor_addr& handle);
  cluster_view make_view() const;
};

using cluster_node_pointer = cluster_node_actor::stateful_pointer<cluster_node_state>;

cluster_node_actor::behavior_type cluster_node(cluster_node_pointer self, cluster_config cfg,
                                               registry_actor registry,
                                               std::shared_ptr<cluster_counters> counters);

}  // namespace happy
