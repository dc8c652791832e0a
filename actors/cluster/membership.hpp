#pragma once

// Who is in the cluster: meeting the configured peers (probe, connect, join,
// with backoff), admitting nodes that introduce themselves, noticing lost
// ones, and telling the local registry each new view. Runs inside the
// cluster node actor (cluster_node.hpp).

#include <string>

#include "actors/cluster/cluster_node.hpp"

namespace happy {

// Starts meeting the configured peers; alone, the node is up at once.
void start_membership(cluster_node_pointer self);

// The first contacts took too long: own topics anyway, so a lone survivor
// restarts into a working node.
void become_up(cluster_node_pointer self);

// Reach `address` again (a retry after backoff).
void try_connect(cluster_node_pointer self, const std::string& address);

// The probe of `address` ended: connect if it answered.
void probed(cluster_node_pointer self, const std::string& address, bool open);

// Another node introduced itself; answers with this node's state, or
// happy_errc::node_name_in_use / join_without_sender.
caf::typed_response_promise<std::string, std::string, bool, snapshot_list> answer_join(
    cluster_node_pointer self, const std::string& name, const std::string& address, bool peer_up,
    snapshot_list theirs);

// A joining member says it may own topics now.
void member_up(cluster_node_pointer self, const std::string& name);

// A member's actor went away (the down handler).
void member_lost(cluster_node_pointer self, const caf::actor_addr& source);

}  // namespace happy
