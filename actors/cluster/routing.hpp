#pragma once

// Where a publish goes in a cluster: the topic's owner assigns its seq. A
// node forwards publishes for topics it does not own, retries while views
// settle, and routes again what waited for an owner that is lost. Runs
// inside the cluster node actor (cluster_node.hpp).

#include "actors/cluster/cluster_node.hpp"

namespace happy {

// A publish made on this node.
caf::typed_response_promise<std::uint64_t> route_local_publish(cluster_node_pointer self,
                                                               std::string topic,
                                                               std::string value_json);

// A publish another node forwarded here; refused with happy_errc::forward_expired
// once its sender has stopped waiting.
caf::typed_response_promise<std::uint64_t> route_forwarded_publish(
    cluster_node_pointer self, std::string topic, std::string value_json, std::uint64_t hops,
    std::int64_t deadline_ms);

// The retry timer `id` fired.
void retry_publish(cluster_node_pointer self, std::uint64_t id);

// The owner at `lost` is gone: what waited for it goes to the new owner now
// rather than when its forward times out.
void reroute_forwards_to(cluster_node_pointer self, const caf::actor_addr& lost);

}  // namespace happy
