#pragma once

// The cluster node's current picture, handed to the local registry: who may
// own topics, and where replicas go.

#include <caf/allowed_unsafe_message_type.hpp>

#include <string>
#include <utility>
#include <vector>

#include "actors/actors.hpp"

namespace happy {

struct cluster_view {
  std::string self;                 // this node's name
  std::vector<std::string> owners;  // names of nodes that may own topics (sorted)
  // Remote nodes that receive replicas (up and joining), by name.
  std::vector<std::pair<std::string, cluster_node_actor>> peers;
  // false: a single node, which owns every topic. true: a cluster node, which
  // owns nothing while no node is up (it is still meeting its peers).
  bool clustered = false;

  // The node owning `topic`; empty when no node may own topics yet.
  std::string owner_of(const std::string& topic) const;
  bool owns(const std::string& topic) const { return owner_of(topic) == self; }
  cluster_node_actor peer(const std::string& name) const;
  std::vector<cluster_node_actor> replica_targets() const;
};

}  // namespace happy

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::cluster_view)
