#pragma once

// One topic's fan-out point: assigns seq and ts, serializes each reading once,
// keeps the history ring, and forwards every frame to each subscribed session
// actor as a message. The hub never touches a client connection: each
// session actor alone drives its own transport.
//
// Batching: readings accepted while the hub works through its mailbox wait
// in `unsent`; the first of them sends the hub a flush message, which lands
// behind whatever is queued, so one flush per mailbox drain sends every
// session one message holding all of them (a frame_batch, shared by pointer).
//
// Messages:
//   (subscribe_atom, replay_request)   sender (a session actor) becomes a
//        subscriber; it gets (subscribed_atom, frame_list replay, hub seq,
//        clustered), then (frames_atom, frame_batch) for every flush
//   (publish_atom, std::string value_json) -> std::uint64_t seq
//   (unsubscribe_atom)                      sender leaves
//   (stats_atom) -> topic_stats
//   (reconfigure_atom, std::uint64_t history, std::int64_t generator_interval_ms)
//   (remove_atom)   the topic was removed: end normally
//   (flush_atom)    from itself: fan out the unsent frames
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

namespace happy {

struct hub_state {
  static inline const char* name = "hub";

  caf::stateful_actor<hub_state>* self = nullptr;
  std::string topic;
  std::uint64_t seq = 0;
  std::int64_t generator_interval_ms = 0;
  topic_history history{0};
  // Session actors, dense for the fan-out loop; the index makes removal O(1).
  std::vector<caf::actor> subscribers;
  std::unordered_map<caf::actor_addr, std::size_t> subscriber_index;
  // Live frames accepted since the last flush, oldest first.
  frame_list unsent;
  bool flush_scheduled = false;

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

  // Assigns the next seq, keeps the envelope in history and queues it live.
  std::uint64_t accept_reading(const std::string& value_json);
  // A reading another node accepted: live when newer than any seen, else
  // it only fills the history.
  void apply_replica(std::uint64_t replica_seq, std::string envelope);
  topic_snapshot snapshot() const;
  void queue_live(frame f);
  // Sends every subscriber the unsent frames as one batch message.
  void flush();
  bool add_subscriber(const caf::actor& session);
  void remove_subscriber(const caf::actor_addr& session);
};

caf::behavior hub(caf::stateful_actor<hub_state>* self, std::string topic,
                  std::size_t history_capacity, std::int64_t generator_interval_ms,
                  std::shared_ptr<cluster_counters> counters);

}  // namespace happy
