#include "actors/cluster/cluster_view.hpp"

#include "actors/cluster/rendezvous.hpp"

namespace happy {

std::string cluster_view::owner_of(const std::string& topic) const {
  return clustered ? rendezvous_owner(owners, topic) : self;
}

cluster_node_actor cluster_view::peer(const std::string& name) const {
  for (const auto& [peer_name, handle] : peers)
    if (peer_name == name) return handle;
  return {};
}

std::vector<cluster_node_actor> cluster_view::replica_targets() const {
  std::vector<cluster_node_actor> out;
  for (const auto& entry : peers) out.push_back(entry.second);
  return out;
}

}  // namespace happy
