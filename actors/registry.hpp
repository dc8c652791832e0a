#pragma once

// Owns the topic -> hub map and the generators, as the config says.
// Hubs and generators are linked to it: when it stops, they stop, and every
// session watching a hub closes its client.
//
// Messages:
//   (lookup_atom, std::string topic) -> (caf::actor hub_or_null, std::vector<std::string> known)
//   (stats_atom) -> std::vector<topic_stats>   every topic, by name
//   (reload_atom, config)   apply a new config's topics live: add, remove
//        (sessions close 1000 "topic removed"), retune generators and history
//   (publish_atom, std::string topic, std::string value_json) -> std::uint64_t seq
//        creates the topic when new; seq 0 means limits.max_topics was reached
//   (topics_atom) -> std::vector<std::string>   topic names
// In a cluster (README "Clustering"), from the local cluster actor:
//   (view_atom, cluster_view)   generators run where this node owns the topic;
//        hubs replicate to the view's peers; topics this node now owns hold
//        their publishes until the peers' histories of them are merged, so
//        the new owner continues from the highest seq any node holds
//   (replica_atom, topic, seq, envelope)   creates the topic if needed
//   (snapshot_atom) -> snapshot_list   every topic's history
//   (snapshot_atom, std::vector<std::string> topics) -> snapshot_list   these topics' histories
//   (sync_atom, snapshot_list)   merge other nodes' histories

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <string>

#include "actors/cluster_counters.hpp"
#include "actors/cluster_messages.hpp"
#include "actors/messages.hpp"
#include "config/config.hpp"

namespace happy {

struct registry_state {
  static inline const char* name = "registry";

  config cfg;
  std::map<std::string, caf::actor> hubs;
  std::map<std::string, caf::actor> generators;
  cluster_view view;  // default: not clustered, every topic is this node's
  std::shared_ptr<cluster_counters> counters;

  std::vector<std::string> topic_names() const;
};

caf::behavior registry(caf::stateful_actor<registry_state>* self, config cfg,
                       std::shared_ptr<cluster_counters> counters);

}  // namespace happy
