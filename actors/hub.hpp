#pragma once

// One topic's fan-out point: takes publishes into its topic's log, keeps the
// history ring, serializes each reading once, and forwards every frame to
// each subscribed session actor as a message. The hub never touches a
// client connection: each session actor alone drives its own transport.
//
// The log (actors/topic_log.hpp) decides seqs and when a publish is
// answered: embedded_log in this process alone (memory ring, and with
// storage the history file: answered once committed, README "Storage"), or
// jetstream_log, the topic's stream shared by every node (answered with the
// quorum ack's seq, fanned out from the stream's follower, README
// "Clustering"). Either way the log hands readings back through
// accept_reading, and the hub fans them out.
//
// Batching: readings accepted while the hub works through its mailbox wait
// in `unsent`; the first of them sends the hub a flush message, which lands
// behind whatever is queued, so one flush per mailbox drain sends every
// session one message holding all of them (a frame_batch, shared by pointer).
// With a history file every flush also sends the batch to the store actor.
//
// Its interface is hub_actor (actors/actors.hpp). A session subscribes with
// its own handle and gets (subscribed, replay, hub seq, shared log) first,
// then (frames, batch) for every flush.

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/actors.hpp"
#include "actors/jetstream_log.hpp"
#include "storage/storage_status.hpp"
#include "actors/topic_history.hpp"
#include "actors/topic_log.hpp"

namespace happy {

// How long a session resuming beyond the hub's seq waits for the log to
// catch up (readings that expired before the follower got to them never come).
inline constexpr std::chrono::seconds subscriber_catch_up_wait{10};

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
  std::uint64_t seq = 0;  // the newest reading's
  std::int64_t generator_interval_ms = 0;
  topic_history history{0};
  // Session actors, dense for the fan-out loop; the index makes removal O(1).
  std::vector<session_actor> subscribers;
  std::unordered_map<caf::actor_addr, std::size_t> subscriber_index;
  // Sessions that resume beyond `seq` while the log is still catching up, in order.
  std::vector<std::pair<session_actor, replay_request>> waiting;
  std::uint64_t admission_round = 0;  // admit_waiting() calls so far
  // Live frames accepted since the last flush, oldest first.
  frame_list unsent;
  bool flush_scheduled = false;

  std::unique_ptr<topic_log> log;
  // Publishes that wait, in arrival order, until the log is ready.
  std::deque<log_entry> held;

  store_actor store;
  std::shared_ptr<const storage_status> storage;

  // A publish (or a producer's reading) for the log, or for `held`.
  void take(log_entry entry);
  // Hands the held publishes to the log, in arrival order, while it is ready.
  void release_held();
  // From the log: the reading with the next seq (`at_seq`; 0: seq + 1) and
  // its ts. Keeps its envelope in history and queues it live; returns its seq.
  std::uint64_t accept_reading(const std::string& value_json, std::int64_t ts, std::uint64_t at_seq = 0);
  void queue_live(frame f);
  void schedule_flush();
  // Sends every subscriber, and the store, the unsent frames as one batch message.
  void flush();
  // Replays history to the session and makes it a subscriber (or, resuming
  // beyond `seq` while the log is catching up, lets it wait).
  void subscribe(const session_actor& session, const replay_request& request);
  // From the log: it has caught up (or the wait is over); the waiting
  // sessions are subscribed in the order they came.
  void admit_waiting();
  // subscriber_catch_up_wait has passed since admission round `round` began.
  void admit_overdue(std::uint64_t round);
  void admit(const session_actor& session, const replay_request& request);
  bool add_subscriber(const session_actor& session);
  // The log's history was replaced: seqs start over, history is forgotten,
  // and every session is dropped and closes its client, which reconnects and
  // is replayed anew.
  void start_over();
  // A subscriber, or a session still waiting, is gone.
  void remove_subscriber(const caf::actor_addr& session);
};

// `stream_link` with a connection: the topic's log is its JetStream stream;
// else the embedded log.
hub_actor::behavior_type hub(hub_actor::stateful_pointer<hub_state> self, std::string topic,
                             std::size_t history_capacity, std::int64_t generator_interval_ms,
                             hub_storage storage, jetstream_link stream_link = {});

}  // namespace happy
