#pragma once

// The body of GET /cluster: this node, every member it knows with its state,
// and which of the topics known here each member owns in this node's view.

#include <string>
#include <vector>

namespace happy {

struct cluster_node_state;

std::string cluster_status_json(const cluster_node_state& state,
                                const std::vector<std::string>& topics);

// The body when the service runs without a cluster.
std::string standalone_cluster_status_json();

}  // namespace happy
