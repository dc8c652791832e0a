#pragma once

// What nodes of a cluster say to each other (README "Clustering"). Everything
// that crosses the network is a CAF message of built-in types or of
// topic_snapshot, which CAF serializes through inspect().

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace happy {

// node -> node
using join_atom = caf::atom_constant<caf::atom("join")>;          // state exchange on contact
using member_up_atom = caf::atom_constant<caf::atom("memberup")>; // a joining node may now own topics
using forward_atom = caf::atom_constant<caf::atom("forward")>;    // a publish for the topic's owner
using replica_atom = caf::atom_constant<caf::atom("replica")>;    // an owner's accepted envelope
using sync_atom = caf::atom_constant<caf::atom("sync")>;          // history to merge
// local
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using view_atom = caf::atom_constant<caf::atom("view")>;
using cluster_atom = caf::atom_constant<caf::atom("cluster")>;
using topics_atom = caf::atom_constant<caf::atom("topics")>;
using connect_retry_atom = caf::atom_constant<caf::atom("reconnect")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using publish_retry_atom = caf::atom_constant<caf::atom("republish")>;
using handover_atom = caf::atom_constant<caf::atom("handover")>;
using probed_atom = caf::atom_constant<caf::atom("probed")>;

// One topic's history as a node holds it: its latest seq and the envelopes
// (parallel vectors, oldest first).
struct topic_snapshot {
  std::string topic;
  std::uint64_t seq = 0;
  std::vector<std::uint64_t> seqs;
  std::vector<std::string> envelopes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, topic_snapshot& x) {
  return f(caf::meta::type_name("happy::topic_snapshot"), x.topic, x.seq, x.seqs, x.envelopes);
}

using snapshot_list = std::vector<topic_snapshot>;

// The cluster actor's current picture, handed to the local registry:
// who may own topics, and where replicas go.
struct cluster_view {
  std::string self;                 // this node's name
  std::vector<std::string> owners;  // names of nodes that may own topics (sorted)
  // Remote nodes that receive replicas (up and joining), by name.
  std::vector<std::pair<std::string, caf::actor>> peers;
  // false: a single node, which owns every topic. true: a cluster node, which
  // owns nothing while no node is up (it is still meeting its peers).
  bool clustered = false;

  // The node owning `topic`; empty when no node may own topics yet.
  std::string owner_of(const std::string& topic) const;
  bool owns(const std::string& topic) const { return owner_of(topic) == self; }
  caf::actor peer(const std::string& name) const;
  std::vector<caf::actor> replica_targets() const;
};

}  // namespace happy

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::cluster_view)
