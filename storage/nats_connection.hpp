#pragma once

// The service's one connection to NATS (Debian's libnats, "cnats") and its
// JetStream context. CAF-free: actors hand it work and get answers through
// callbacks, which run on the client's own threads — a callback copies what it
// needs and sends an actor a message, nothing more (README "Clustering").

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nats/nats.h>

#include "config/config.hpp"

namespace happy {

// What JetStream answered to one publish.
struct publish_outcome {
  bool stored = false;        // acknowledged by a quorum: `seq` is the reading's
  std::uint64_t seq = 0;
  bool duplicate = false;     // the message id was seen before: `seq` is the first one's
  bool retryable = false;     // no answer or no leader (yet): the same id may be sent again
  bool sequence_moved = false;  // ExpectLastSeq did not hold: someone else published
  std::string error;          // why not, for logs and the client
};

// Where a hub appends its topic's readings: JetStream through the
// connection below, or a test's stand-in (tests/actors/hub_test.cpp),
// so the hub's JetStream side is tested without NATS.
class stream_writer {
 public:
  using publish_done = std::function<void(publish_outcome)>;
  virtual ~stream_writer() = default;

  // Appends `data` to the stream of `subject` without waiting: `done` runs on
  // another thread, once, within `max_wait_ms`. `expect_last_seq` (0: none)
  // fences the write: it is refused if the stream moved on.
  virtual void publish(const std::string& subject, std::string_view data,
                       const std::string& message_id, std::int64_t accepted_ms,
                       std::uint64_t expect_last_seq, std::int64_t max_wait_ms, publish_done done) = 0;
  virtual const nats_config& settings() const = 0;

  // Counters for /metrics (read from any thread).
  std::atomic<std::uint64_t> publishes_acked{0};    // stored by a quorum (first tries and retries)
  std::atomic<std::uint64_t> publish_retries{0};    // sent again after no answer / no leader
  std::atomic<std::uint64_t> publishes_failed{0};   // answered 503 after nats.publish_timeout_ms
  std::atomic<std::uint64_t> publishes_fenced{0};   // a former lease holder's reading refused
  std::atomic<std::uint64_t> ack_latency_us_sum{0}; // publish -> ack, over publishes_acked
  std::atomic<std::uint64_t> readings_followed{0};  // readings the followers handed to hubs
};

class nats_connection : public stream_writer {
 public:
  // (connected, why not): also when the client gives up for good.
  using state_change = std::function<void(bool connected, const std::string& reason)>;

  // Connects, or keeps trying in the background when no server answers yet.
  // Null with `problem` when the servers refuse the credentials or the
  // settings are unusable (a CA file that does not load, say): the caller
  // stops the start (exit 2).
  static std::unique_ptr<nats_connection> open(const nats_config& settings, state_change on_change,
                                               std::string& problem);
  ~nats_connection() override;
  nats_connection(const nats_connection&) = delete;
  nats_connection& operator=(const nats_connection&) = delete;

  bool connected() const { return connected_.load(); }
  // Why the connection is down, for /readyz, logs and refusals: the servers'
  // last complaint (refused credentials, say), or that none answers. Once
  // the client gave up for good (the servers refused the credentials twice
  // in a row), this node connects again only after a restart.
  std::string unavailable_reason() const;
  bool closed_for_good() const { return closed_for_good_.load(); }
  // Whether JetStream's own quorum (its meta leader) answered the last
  // request that needs it: false on a node cut off with a minority of the
  // servers, though connected. Set by whoever makes such requests.
  bool jetstream_answers() const { return jetstream_answers_.load(); }
  void set_jetstream_answers(bool answers) { jetstream_answers_ = answers; }
  std::string connected_url() const;
  const nats_config& settings() const override { return settings_; }
  jsCtx* jetstream() const { return js_; }
  natsConnection* connection() const { return connection_; }

  // `done` runs on the client's ack thread.
  void publish(const std::string& subject, std::string_view data, const std::string& message_id,
               std::int64_t accepted_ms, std::uint64_t expect_last_seq, std::int64_t max_wait_ms,
               publish_done done) override;

  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> disconnects{0};

 private:
  explicit nats_connection(nats_config settings, state_change on_change);
  static void on_ack(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* failure, void* closure);
  static void on_disconnected(natsConnection*, void* closure);
  static void on_reconnected(natsConnection*, void* closure);
  static void on_connected(natsConnection*, void* closure);
  static void on_closed(natsConnection*, void* closure);
  static void on_async_error(natsConnection*, natsSubscription*, natsStatus, void* closure);
  void remember_error(natsConnection* connection, natsStatus status);
  std::string last_complaint() const;

  nats_config settings_;
  state_change on_change_;
  std::atomic<bool> connected_{false};
  // The client calls back on its own thread after natsConnection_Close: this
  // object must outlive the last callback, which is the closed one.
  std::mutex closed_mutex_;
  std::condition_variable closed_changed_;
  bool closed_ = false;
  bool closing_ = false;  // this object closes the connection: not a loss
  std::atomic<bool> closed_for_good_{false};
  std::atomic<bool> jetstream_answers_{true};
  mutable std::mutex error_mutex_;
  std::string last_error_;  // the servers' last complaint, if any
  natsOptions* options_ = nullptr;
  natsConnection* connection_ = nullptr;
  jsCtx* js_ = nullptr;
  std::mutex pending_mutex_;  // the ack thread and the actors' threads
  std::unordered_map<const natsMsg*, publish_done> pending_;
};

// The header holding the Unix ms at which the publishing node accepted a reading.
inline constexpr const char* accepted_at_header = "Happy-Ts";

}  // namespace happy
