#pragma once

// Owns the topic -> hub map and the generators and sources, as the config says. Its
// interface is registry_actor (actors/actors.hpp).
//
// Hubs and generators are linked to it: when it stops, they stop, and every
// session watching a hub closes its client. A publish to an unknown topic
// creates it, within limits.max_topics (else happy_errc::topic_limit). A
// reload adds and removes topics live (sessions of a removed topic close with
// 1000 "topic removed") and retunes generators and history.
//
// With JetStream (README "Clustering") every hub's log is its topic's stream,
// every node runs a hub for every stream (it looks for streams other nodes
// created every few seconds), and a generator or source runs on the node
// that holds the topic's lease (actors/lease_keeper.hpp).
//
// With storage, topics found in the history file are started at once (also
// those that only publishing had created) and continue from their stored seq
// and history; every hub reports to the store actor, and a removed topic is
// forgotten by the store too.

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "actors/actors.hpp"
#include "actors/lease_validity.hpp"
#include "storage/storage_status.hpp"
#include "config/config.hpp"
#include "sources/source_counters.hpp"
#include "storage/history_db.hpp"

namespace happy {

// The registry's link to JetStream; a null `link`: the embedded log.
struct registry_jetstream {
  std::shared_ptr<nats_connection> link;
  nats_admin_actor admin;  // discovery, followers
  // Stream set-ups, each topic always on the same one (README "Clustering").
  std::vector<nats_admin_actor> setup_admins;
  std::shared_ptr<lease_validity> leases = std::make_shared<lease_validity>();
};

// The registry's link to the history file; without a store, none.
struct registry_storage {
  store_actor store;
  std::shared_ptr<const storage_status> status;
  std::vector<stored_topic> topics;  // as the file held them at start
};

struct registry_state {
  static inline const char* name = "registry";

  config cfg;
  std::map<std::string, hub_actor> hubs;
  std::map<std::string, generator_actor> generators;
  std::map<std::string, source_actor> sources;  // real sources, where generators would be
  std::shared_ptr<source_counters> source_numbers;
  store_actor store;
  std::shared_ptr<const storage_status> storage;
  // Stored topics whose hub has not started yet.
  std::map<std::string, stored_topic> restored;
  // Hubs of removed topics, until they end (then the store forgets the topic).
  std::map<caf::actor_addr, std::string> removed_hubs;
  registry_jetstream jetstream;
  lease_keeper_actor leases;     // JetStream: holds this node's leases
  std::set<std::string> leased;  // JetStream: topics whose producers run here

  std::vector<std::string> topic_names() const;
};

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

registry_actor::behavior_type registry(registry_pointer self, config cfg,
                                       registry_storage storage,
                                       std::shared_ptr<source_counters> source_numbers,
                                       registry_jetstream jetstream = {});

}  // namespace happy
