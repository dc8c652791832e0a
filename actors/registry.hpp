#pragma once

// Owns the topic -> hub map and the generators, as the config says.
// Hubs and generators are linked to it: when it stops, they stop, and every
// session watching a hub closes its client.
//
// Messages:
//   (lookup_atom, std::string topic) -> (caf::actor hub_or_null, std::vector<std::string> known)
//   (list_atom) -> std::string   JSON array describing every topic
//   (publish_atom, std::string topic, std::string value_json) -> std::uint64_t seq
//        creates the topic when new; seq 0 means limits.max_topics was reached

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <map>
#include <string>

#include "actors/messages.hpp"
#include "config/config.hpp"

namespace happy {

struct registry_state {
  static inline const char* name = "registry";

  config cfg;
  std::map<std::string, caf::actor> hubs;
  std::map<std::string, caf::actor> generators;

  std::vector<std::string> topic_names() const;
};

caf::behavior registry(caf::stateful_actor<registry_state>* self, config cfg);

}  // namespace happy
