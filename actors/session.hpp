#pragma once

// One client connection, whatever its transport: looks the topic up and
// subscribes its transport to the hub, which then writes replay and live
// frames to it. It leaves the hub when the transport closes, and closes the
// transport when the hub goes away.
//
// Messages:
//   (transport_closed_atom)                from the transport: client gone

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <memory>
#include <string>

#include "actors/messages.hpp"
#include "actors/transport.hpp"

namespace happy {

struct session_state {
  static inline const char* name = "session";

  std::string topic;
  std::shared_ptr<transport> link;
  caf::actor hub;
};

caf::behavior session(caf::stateful_actor<session_state>* self, caf::actor registry,
                      std::string topic, replay_request replay, std::shared_ptr<transport> link);

}  // namespace happy
