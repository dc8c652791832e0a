#pragma once

// The seam between a hub and where its topic's readings are kept: the hub
// appends readings to its topic's log and fans out what the log hands back
// (hub_state::accept_reading); the log decides the seq and when a publish is
// answered. Two logs implement it (README "How it works", "Clustering"):
//   embedded_log   this process alone: the memory ring plus, with storage,
//                  the history file (answered once committed);
//   jetstream_log  the topic's NATS JetStream stream, shared by every node
//                  (answered with the quorum ack's seq; fanned out from the
//                  stream's follower).

#include <caf/typed_response_promise.hpp>

#include <cstdint>
#include <string>

#include "actors/messages.hpp"

namespace happy {

struct hub_state;

// One reading on its way into the log.
struct log_entry {
  std::string value_json;
  caf::typed_response_promise<std::uint64_t> promise;  // answered with the seq, or why not
  std::string key = {};          // the client's idempotency key, if any
  bool producer = false;         // from this node's generator or source: nobody waits
  std::int64_t accepted_ms = 0;  // when the hub took it: its ts
};

class topic_log {
 public:
  virtual ~topic_log() = default;

  // The hub is set up: the log may load or follow what it already holds.
  virtual void start(hub_state& hub) = 0;
  // Whether an entry may go in now; otherwise it waits, in arrival order,
  // in hub_state::held until the log calls hub_state::release_held().
  virtual bool ready(const hub_state& hub) const = 0;
  // Whether the hub holds what the log held when the hub started. Until
  // then a session resuming beyond the hub's seq waits (hub_state::waiting)
  // for hub_state::admit_waiting() or subscriber_catch_up_wait, so it is not
  // taken for one from before a restart while this node is catching up.
  virtual bool caught_up(const hub_state&) const { return true; }
  virtual void append(hub_state& hub, log_entry entry) = 0;
  // Whether other nodes append to and follow the same log, so a client may
  // have seen seqs this node has not yet got.
  virtual bool shared() const = 0;
  // The topic's history capacity changed (reload).
  virtual void resize(hub_state&, std::uint64_t /*history_capacity*/) {}
  // The hub ends: nothing more is appended.
  virtual void stop(hub_state&) {}

  // What the log's own machinery reports back through the hub's mailbox.
  // The history file committed (or failed to write) the hub's readings up to `seq`.
  virtual void on_stored(hub_state&, std::uint64_t /*seq*/, bool /*committed*/) {}
  // JetStream: the stream's answer to append `id`; its next reading; retry `id` (0: set-up).
  virtual void on_appended(hub_state&, std::uint64_t /*id*/, publish_outcome) {}
  virtual void on_reading(hub_state&, stream_reading) {}
  virtual void on_retry(hub_state&, std::uint64_t /*id*/) {}
};

}  // namespace happy
