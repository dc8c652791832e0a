#pragma once

// What GET /cluster reports, as facts: this node, every member it knows with
// its state, and which of the topics known here each member owns in this
// node's view. net/cluster_status_json writes it out.

#include <caf/allowed_unsafe_message_type.hpp>

#include <string>
#include <vector>

namespace happy {

struct cluster_member_status {
  std::string node;  // empty until the member has introduced itself
  std::string address;
  std::string state;  // connecting, joining, up, down
  bool self = false;
  std::vector<std::string> owns;
};

struct cluster_status {
  bool enabled = false;  // false: the service runs without a cluster
  std::string node;
  std::string state;  // this node: joining or up; "standalone" without a cluster
  std::vector<cluster_member_status> members;  // this node first, then by name and address

  static cluster_status standalone() { return {false, {}, "standalone", {}}; }
};

struct cluster_node_state;

cluster_status make_cluster_status(const cluster_node_state& state,
                                   const std::vector<std::string>& topics);

}  // namespace happy

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::cluster_status)
