#pragma once

// The actor side of the service as the network layer sees it: open a session
// for a connection, ask for the topic list, shut down. Everything it does is
// a message to an actor; no call blocks.

#include <caf/actor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/cluster_counters.hpp"
#include "actors/messages.hpp"
#include "actors/publisher.hpp"
#include "actors/transport.hpp"
#include "config/config.hpp"

namespace caf {
class actor_system;
class actor_system_config;
}

namespace happy {

// A connection's handle on its session actor.
class session_link {
 public:
  session_link() = default;
  explicit session_link(caf::actor session) : session_(std::move(session)) {}
  // The client went away: the session leaves its hub and ends.
  void transport_closed() const;

 private:
  caf::actor session_;
};

// A publisher connection's handle on its publisher actor.
class publisher_link {
 public:
  publisher_link() = default;
  explicit publisher_link(caf::actor publisher) : publisher_(std::move(publisher)) {}
  // Publishes in call order; `done` runs on an actor thread.
  void publish(std::string value_json, std::function<void(publish_result)> done) const;
  // The connection is gone: the publisher actor ends.
  void close() const;

 private:
  caf::actor publisher_;
};

class service {
 public:
  service(caf::actor_system& system, config cfg);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  // Spawns the connection's session actor. It calls link->accept(replay) or
  // link->reject() once it knows whether `topic` exists.
  session_link open_session(const std::string& topic, replay_request replay,
                            std::shared_ptr<transport> link);

  // Spawns the publisher actor of one WebSocket publisher connection.
  publisher_link open_publisher(const std::string& topic);

  // Calls `done` (from an actor thread) with every topic's numbers, by name.
  void collect_stats(std::function<void(std::vector<topic_stats>)> done);

  // Applies a new config's topics live (see registry.hpp).
  void reload(config next);

  // Calls `done` (from an actor thread) with the JSON for GET /topics.
  void list_topics(std::function<void(std::string json)> done);

  // Publishes `value_json` (valid, compact JSON) to `topic`, creating the
  // topic if needed; calls `done` from an actor thread.
  void publish(const std::string& topic, std::string value_json,
               std::function<void(publish_result)> done);

  // With cluster settings: publishes this node's cluster actor on
  // cluster.listen and starts meeting the peers. Returns an error message,
  // or an empty string. (The actor system must have loaded the middleman:
  // see prepare_cluster_transport.)
  std::string start_cluster();

  // Calls `done` (from an actor thread) with the JSON for GET /cluster.
  void cluster_status(std::function<void(std::string json)> done);

  // The cluster's counters for GET /metrics; null without a cluster.
  const cluster_counters* cluster_numbers() const { return cluster_ ? counters_.get() : nullptr; }

  // Stops generators and hubs; every session closes its client with 1001.
  void shutdown();

 private:
  // Where publishes go: the cluster actor routes them to the topic's owner;
  // without a cluster, the registry.
  const caf::actor& publish_target() const { return cluster_ ? cluster_ : registry_; }

  caf::actor_system& system_;
  std::optional<cluster_config> cluster_settings_;
  std::shared_ptr<cluster_counters> counters_ = std::make_shared<cluster_counters>();
  caf::actor registry_;
  caf::actor cluster_;
};

// Loads CAF's middleman and the cluster's message types into `cfg`; call it
// before the actor system is made when the config has cluster settings.
void prepare_cluster_transport(caf::actor_system_config& cfg);

}  // namespace happy
