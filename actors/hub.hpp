#pragma once

// One topic's fan-out point: assigns seq and ts, serializes each reading once,
// keeps the history ring and hands every frame to every subscribed session's
// transport.
//
// A session subscribes with its transport, and the hub writes the frames
// straight to it: a hop through each session's mailbox cost more than the
// rest of a delivery together (BENCHMARKS.md). Sessions still own the
// subscription: they join and leave with messages, and the hub monitors them.
//
// Messages:
//   (subscribe_atom, replay_request, shared_ptr<transport>)  sender becomes a
//        subscriber: the transport gets accept(replay), then every live frame
//   (publish_atom, std::string value_json) -> std::uint64_t seq
//   (unsubscribe_atom)                      sender leaves
//   (stats_atom) -> topic_stats
//   (reconfigure_atom, std::uint64_t history, std::int64_t generator_interval_ms)
//   (remove_atom)   the topic was removed: end normally
// In a cluster (README "Clustering"):
//   (view_atom, std::vector<caf::actor> replicas)   this node is clustered; where
//        accepted readings also go: other nodes' cluster actors, as
//        (replica_atom, topic, seq, envelope)
//   (replica_atom, std::uint64_t seq, std::string envelope)   the owner accepted a reading
//   (snapshot_atom) -> topic_snapshot
//   (sync_atom, topic_snapshot)   merge another node's history
//   (handover_atom, bool holding)   true: this node just became the owner and
//        is collecting the other nodes' histories: hold publishes; false: go

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include <string>
#include <unordered_map>
#include <vector>

#include "actors/cluster_counters.hpp"
#include "actors/cluster_messages.hpp"
#include "actors/messages.hpp"
#include "actors/topic_history.hpp"
#include "actors/transport.hpp"

namespace happy {

// A subscriber of a clustered node resuming with a `since` at most this far
// ahead of the node's seq is taken to be ahead of a lagging replica (it saw
// newer readings on another node), not to come from before a restart.
inline constexpr std::uint64_t replica_lag_tolerance = 64;

struct hub_state {
  static inline const char* name = "hub";

  std::string topic;
  std::uint64_t seq = 0;
  std::int64_t generator_interval_ms = 0;
  topic_history history{0};
  struct subscriber {
    caf::actor_addr session;
    std::shared_ptr<transport> link;
    std::uint64_t skip_through = 0;  // it has seen every seq up to this one elsewhere
  };
  // Dense vector for the fan-out loop; the index map makes removal O(1).
  std::vector<subscriber> subscribers;
  std::unordered_map<caf::actor_addr, std::size_t> subscriber_index;

  bool clustered = false;
  std::vector<caf::actor> replicas;
  std::shared_ptr<cluster_counters> counters;
  // Publishes that arrived while this node took the topic over.
  int handovers = 0;  // takeovers in progress; publishes wait while any is
  struct held_publish {
    std::string value_json;
    caf::response_promise promise;
  };
  std::vector<held_publish> held;

  frame accept_reading(const std::string& value_json);
  // A reading another node accepted: live when newer than any seen, else
  // it only fills the history.
  void apply_replica(std::uint64_t replica_seq, std::string envelope);
  topic_snapshot snapshot() const;
  void deliver(const frame& f);
  bool add_subscriber(const caf::actor_addr& session, std::shared_ptr<transport> link,
                      std::uint64_t skip_through);
  void remove_subscriber(const caf::actor_addr& session);
};

caf::behavior hub(caf::stateful_actor<hub_state>* self, std::string topic,
                  std::size_t history_capacity, std::int64_t generator_interval_ms,
                  std::shared_ptr<cluster_counters> counters);

}  // namespace happy
