#pragma once

// A topic's log on NATS JetStream (README "Clustering"): the topic's stream
// is its log (actors/topic_log.hpp). A publish is sent to the stream with a message id (the client's
// Idempotency-Key, or one unique to this node) and answered with the seq of
// JetStream's quorum ack; while no leader answers, it is sent again with the
// same id (stored once) until nats.publish_timeout_ms, then refused. The
// hub fans out only what the stream's follower hands back, so every node
// fans out the same readings with the same seqs, in order, each once.
// Readings from this node's generator or source are fenced with
// ExpectLastSeq: a node that lost its lease while paused cannot add one.
//
// With a history file the file is a cache fed from the stream: the hub
// follows from just after the file's last seq (from the stream's start when
// the file is new or was deleted), so every reading reaches the file once.
// A file that holds seqs beyond the stream's end belongs to another stream
// (the stream was deleted, or another NATS): its readings of the topic are
// dropped, and it is filled again from the stream.

#include <caf/typed_response_promise.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "actors/actors.hpp"
#include "actors/lease_validity.hpp"
#include "actors/topic_log.hpp"
#include "storage/nats_connection.hpp"
#include "storage/topic_stream.hpp"

namespace happy {

// What a hub needs to use its topic's stream; a null `link`: no JetStream.
struct jetstream_link {
  std::shared_ptr<stream_writer> link;
  nats_admin_actor admin;  // sets the stream up (one of a pool: set-ups run side by side)
  stream_limits limits;  // max_readings: at least the topic's history
  // With a history file: the stream keeps at least as many readings as the
  // file does (storage.retention), so a new or deleted file is rebuilt whole.
  std::uint64_t stored_readings = 0;
  // This node's leases; null: no lease keeper, every producer reading goes.
  std::shared_ptr<const lease_validity> leases = nullptr;
  // Starts and ends followers; null: `admin`. Apart from the set-up pool, so
  // a topic is followed as soon as its own stream is set up, not after all.
  nats_admin_actor follow_admin = {};
};

class jetstream_log final : public topic_log {
 public:
  explicit jetstream_log(jetstream_link link);

  // Makes sure the stream exists, then follows it (from what history can
  // hold, or with a history file from just after its last seq).
  void start(hub_state& hub) override;
  // Publishes wait (in hub_state::held) until the stream is set up.
  bool ready(const hub_state&) const override { return ready_; }
  // Until the hub holds the stream's last seq as reported at set-up, a
  // client resuming beyond the hub's seq waits (it saw those seqs on another
  // node): it is not taken for one from before a restart just because this
  // node has only got to seq 0.
  bool caught_up(const hub_state& hub) const override;
  void append(hub_state& hub, log_entry entry) override;
  bool shared() const override { return true; }
  // A reload changed the topic's history: the stream keeps as many readings.
  void resize(hub_state& hub, std::uint64_t history_capacity) override;
  // The hub ends: its follower is ended by the admin, off the hub's thread.
  void stop(hub_state& hub) override;
  void on_appended(hub_state& hub, std::uint64_t id, publish_outcome outcome) override;
  // id 0: set the stream up again; else send publish `id` again.
  void on_retry(hub_state& hub, std::uint64_t id) override;
  void on_reading(hub_state& hub, stream_reading reading) override;

 private:
  struct in_flight {
    std::string value_json;
    std::string message_id;
    std::int64_t accepted_ms = 0;
    std::int64_t deadline_ms = 0;
    std::uint64_t expect_last_seq = 0;  // producers: fenced at the seq this node had seen
    std::optional<caf::typed_response_promise<std::uint64_t>> promise;  // none for producers
  };
  void send(hub_state& hub, std::uint64_t id);
  void follow(hub_state& hub, std::uint64_t from_seq);
  const nats_admin_actor& follow_admin() const { return link_.follow_admin ? link_.follow_admin : link_.admin; }
  // Where following starts once the stream reports `report`.
  std::uint64_t first_to_follow(hub_state& hub, const stream_report& report);
  // Lets the waiting sessions in once the hub holds what the stream held at set-up.
  void admit_if_caught_up(hub_state& hub);

  jetstream_link link_;
  std::string subject_;
  std::string id_prefix_;  // node and start time: ids unique across nodes and restarts
  bool ready_ = false;
  std::uint64_t catch_up_to_ = 0;  // the stream's last seq at set-up
  std::shared_ptr<stream_follower> follower_;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, in_flight> in_flight_;
};

}  // namespace happy
