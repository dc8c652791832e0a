#pragma once

// What nodes of a cluster say to each other (README "Clustering"). Everything
// that crosses the network is a CAF message of built-in types or of
// topic_snapshot, which CAF serializes through inspect().

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
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

// Local only, defined in cluster_view.hpp and cluster_status.hpp.
struct cluster_view;
struct cluster_status;

}  // namespace happy
