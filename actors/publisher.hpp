#pragma once

// One WebSocket publisher connection: its values go to the registry one after
// another from this single actor, so they keep the order they arrived in.
//
// Messages:
//   (publish_atom, std::string value_json, publish_callback done)

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <functional>
#include <string>

#include "actors/messages.hpp"

namespace happy {

struct publish_result {
  enum class outcome { accepted, topic_limit, unavailable };
  outcome status = outcome::unavailable;
  std::uint64_t seq = 0;
};

// The registry answers a publish with the seq, 0 meaning limits.max_topics was reached.
inline publish_result publish_result_of(std::uint64_t seq) {
  return seq == 0 ? publish_result{publish_result::outcome::topic_limit, 0}
                  : publish_result{publish_result::outcome::accepted, seq};
}

// Called from an actor thread once the hub has assigned a seq (or failed).
struct publish_callback {
  std::function<void(publish_result)> done;
};

struct publisher_state {
  static inline const char* name = "publisher";
  caf::actor registry;
  std::string topic;
};

caf::behavior publisher(caf::stateful_actor<publisher_state>* self, caf::actor registry,
                        std::string topic);

}  // namespace happy

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::publish_callback)
