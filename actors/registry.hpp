#pragma once

// Owns the topic -> hub map and the generators, as the config says. Its
// interface is registry_actor (actors/actors.hpp).
//
// Hubs and generators are linked to it: when it stops, they stop, and every
// session watching a hub closes its client. A publish to an unknown topic
// creates it, within limits.max_topics (else happy_errc::topic_limit). A
// reload adds and removes topics live (sessions of a removed topic close with
// 1000 "topic removed") and retunes generators and history.
//
// In a cluster (README "Clustering") the local cluster node sends it views:
// generators run where this node owns the topic, hubs replicate to the view's
// peers, and topics this node now owns hold their publishes until the peers'
// histories of them are merged, so the new owner continues from the highest
// seq any node holds.

#include <caf/stateful_actor.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/actors.hpp"
#include "actors/cluster/cluster_counters.hpp"
#include "actors/cluster/cluster_view.hpp"
#include "config/config.hpp"

namespace happy {

struct registry_state {
  static inline const char* name = "registry";

  config cfg;
  std::map<std::string, hub_actor> hubs;
  std::map<std::string, generator_actor> generators;
  cluster_view view;  // default: not clustered, every topic is this node's
  std::shared_ptr<cluster_counters> counters;

  std::vector<std::string> topic_names() const;
};

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

registry_actor::behavior_type registry(registry_pointer self, config cfg,
                                       std::shared_ptr<cluster_counters> counters);

}  // namespace happy
