#pragma once

// The actor side of the service as the network layer sees it: open a session
// for a connection, publish, ask for numbers, shut down. Everything it does is
// a message to an actor; no call blocks. Answers are facts (actors/
// vocabulary.hpp, jetstream_status); net/ turns them into HTTP.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/actors.hpp"
#include "actors/publisher.hpp"
#include "storage/storage_status.hpp"
#include "actors/transport.hpp"
#include "config/config.hpp"
#include "sources/source_counters.hpp"
#include "storage/history_db.hpp"
#include "storage/nats_connection.hpp"
#include "storage/topic_stream.hpp"

namespace caf {
class actor_system;
}

namespace happy {

// A connection's handle on its session actor.
class session_handle {
 public:
  session_handle() = default;
  explicit session_handle(session_actor session) : session_(std::move(session)) {}
  explicit operator bool() const { return static_cast<bool>(session_); }
  // The client went away: the session leaves its hub and ends.
  void transport_closed() const;

 private:
  session_actor session_;
};

// A publisher connection's handle on its publisher actor.
class publisher_handle {
 public:
  publisher_handle() = default;
  explicit publisher_handle(publisher_actor publisher) : publisher_(std::move(publisher)) {}
  // Publishes in call order; `done` runs on an actor thread. `key`: as
  // service::publish's.
  void publish(std::string value_json, std::function<void(publish_result)> done,
               std::string key = {}) const;
  // The connection is gone: the publisher actor ends.
  void close() const;

 private:
  publisher_actor publisher_;
};

// The history file as main opened it (README "Storage"); empty: no storage.
struct service_storage {
  std::shared_ptr<history_db> writer;  // for the store actor
  std::shared_ptr<history_db> reader;  // for GET /topics/<name>/history
  std::vector<stored_topic> topics;    // what the file held at start
};

// GET /cluster with JetStream: the connection, and each topic's stream.
struct jetstream_status {
  std::string node;
  bool connected = false;
  std::string url;
  std::vector<stream_report> streams;  // by topic
  std::vector<std::string> lease_holders;  // per stream: "" when nobody holds it
};

class service {
 public:
  // `nats`: the JetStream connection main opened (README "Clustering"); null: one machine.
  service(caf::actor_system& system, config cfg, service_storage storage = {},
          std::shared_ptr<nats_connection> nats = nullptr);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // Spawns the connection's session actor. It calls client->accept(replay)
  // or client->refuse(why) once it knows whether `topic` exists.
  session_handle open_session(const std::string& topic, replay_request replay,
                              std::shared_ptr<transport> client);

  // Spawns the publisher actor of one WebSocket publisher connection.
  publisher_handle open_publisher(const std::string& topic);

  // Calls `done` (from an actor thread) with every topic's numbers, by name.
  void collect_stats(std::function<void(std::vector<topic_stats>)> done);

  // Applies a new config's topics live (see registry.hpp).
  void reload(config next);

  // Publishes `value_json` (valid, compact JSON) to `topic`, creating the
  // topic if needed; calls `done` from an actor thread.
  // `key` (Idempotency-Key): with JetStream, retries with the same key are
  // stored once and answered with the first seq.
  void publish(const std::string& topic, std::string value_json,
               std::function<void(publish_result)> done, std::string key = {});

  // JetStream (null: none): its connection state and counters.
  const nats_connection* jetstream() const { return nats_.get(); }
  // Calls `done` (from an actor thread) with the connection and every
  // topic's stream; nullopt when JetStream did not answer in time.
  void describe_jetstream(std::function<void(std::optional<jetstream_status>)> done);

  // Calls `done` (from an actor thread) with `topic`'s stored readings in
  // [from, to) in at most `points` buckets; nullopt when the file could not
  // answer. Only with storage (has_storage()).
  void history(const std::string& topic, std::int64_t from, std::int64_t to, std::uint32_t points,
               std::function<void(std::optional<history_series>)> done);
  bool has_storage() const { return static_cast<bool>(reader_); }
  // The history file's state for /readyz and /metrics; null without storage.
  const storage_status* storage_numbers() const { return reader_ ? storage_status_.get() : nullptr; }

  // The sources' counters for GET /metrics (empty without sources).
  const source_counters& source_numbers() const { return *source_counters_; }

  // Stops generators, sources and hubs; every session closes its client with 1001.
  void shutdown();

 private:
  caf::actor_system& system_;
  std::shared_ptr<nats_connection> nats_;
  nats_admin_actor nats_admin_;
  std::vector<nats_admin_actor> setup_admins_;
  // Answers /cluster's stream reports: neither following nor set-up keeps it waiting.
  nats_admin_actor status_admin_;
  // How long a publish may take: with JetStream up to nats.publish_timeout_ms.
  std::chrono::milliseconds publish_wait_{5000};
  std::shared_ptr<storage_status> storage_status_ = std::make_shared<storage_status>();
  std::shared_ptr<source_counters> source_counters_ = std::make_shared<source_counters>();
  store_actor store_;
  history_reader_actor reader_;
  registry_actor registry_;
};

}  // namespace happy
