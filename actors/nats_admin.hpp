#pragma once

// Makes the JetStream calls that wait for a round trip — setting a topic's
// stream up, reporting on streams, starting and ending followers — on a
// thread of its own (spawn it detached), so no actor worker that fans out
// ever blocks on the network. Its interface is nats_admin_actor (actors/actors.hpp).

#include <memory>

#include "actors/actors.hpp"
#include "storage/nats_connection.hpp"

namespace happy {

struct nats_admin_state {
  static inline const char* name = "nats_admin";
  std::shared_ptr<nats_connection> link;
};

nats_admin_actor::behavior_type nats_admin(nats_admin_actor::stateful_pointer<nats_admin_state> self,
                                           std::shared_ptr<nats_connection> link);

}  // namespace happy
