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
// Its interface is hub_actor (actors/actors.hpp). A session subscribes with
// its own handle and gets (subscribed, replay, hub seq, shared log) first,
// then (frames, batch) for every flush.
//
// With storage (README "Storage") every flush also sends the batch to the
// store actor, and a publish is answered only when the store reports its
// reading committed. A restarted hub starts from the stored seq and history.
//
// With JetStream (README "Clustering") the topic's stream is its log: a
// publish goes to the stream and is answered with the seq of JetStream's
// quorum ack, and the hub fans out what the stream's follower hands back, in
// stream order, on every node alike (actors/hub_stream.hpp).

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/actors.hpp"
#include "actors/storage_status.hpp"
#include "actors/hub_stream.hpp"
#include "actors/topic_history.hpp"

namespace happy {

// A hub's link to the history file; without a store, history is memory only.
struct hub_storage {
  store_actor store;
  std::shared_ptr<const storage_status> status;
  std::uint64_t last_seq = 0;  // from the file: seqs continue after it
  frame_list recent;           // from the file: the history ring's start
};

struct hub_state {
  static inline const char* name = "hub";

  hub_actor::stateful_pointer<hub_state> self = nullptr;
  std::string topic;
  std::uint64_t seq = 0;
  std::int64_t generator_interval_ms = 0;
  topic_history history{0};
  // Session actors, dense for the fan-out loop; the index makes removal O(1).
  std::vector<session_actor> subscribers;
  std::unordered_map<caf::actor_addr, std::size_t> subscriber_index;
  // Live frames accepted since the last flush, oldest first.
  frame_list unsent;
  bool flush_scheduled = false;

  // Publishes that wait: while the store is max_uncommitted_seqs behind, or
  // (JetStream) until the stream is set up.
  struct held_publish {
    std::string value_json;
    caf::typed_response_promise<std::uint64_t> promise;
    std::string key = {};   // JetStream: the idempotency key, if any
    bool producer = false;  // JetStream: from this node's generator or source
    std::int64_t accepted_ms = 0;  // JetStream: when the hub took it (its ts)
  };
  std::deque<held_publish> held;

  store_actor store;
  std::shared_ptr<const storage_status> storage;
  std::uint64_t committed_seq = 0;  // the store has reported up to here
  // Publishes answered once the store has committed their seq, oldest first.
  struct unacknowledged {
    std::uint64_t seq;
    caf::typed_response_promise<std::uint64_t> promise;
  };
  std::deque<unacknowledged> unacknowledged_publishes;

  // JetStream: the stream is the log (absent: memory ring and store).
  std::unique_ptr<hub_stream> stream;

  // Assigns the next seq, keeps the envelope in history and queues it live.
  std::uint64_t accept_reading(const std::string& value_json);
  // Publishes must wait (see `held`).
  bool must_hold() const;
  // Accepts a publish and answers `promise`: at once, or with storage once committed.
  void accept_publish(const std::string& value_json,
                      caf::typed_response_promise<std::uint64_t> promise);
  // Accepts the held publishes, in arrival order, while none must wait.
  void release_held();
  // Answers the publishes the store has reported on, up to `seq`.
  void acknowledge(std::uint64_t seq, bool committed);
  void queue_live(frame f);
  void schedule_flush();
  // Sends every subscriber, and the store, the unsent frames as one batch message.
  void flush();
  bool add_subscriber(const session_actor& session);
  void remove_subscriber(const caf::actor_addr& session);
};

hub_actor::behavior_type hub(hub_actor::stateful_pointer<hub_state> self, std::string topic,
                             std::size_t history_capacity, std::int64_t generator_interval_ms,
                             hub_storage storage,
                             hub_stream_link stream_link = {});

}  // namespace happy
