#pragma once

#include <chrono>

// One WebSocket publisher connection: its values go to the publish target
// (the registry) one after another from this single
// actor, so they keep the order they arrived in. Its interface is
// publisher_actor (actors/actors.hpp).

#include <caf/stateful_actor.hpp>

#include <string>

#include "actors/actors.hpp"

namespace happy {

// How a publish request's answer reads as a result: a seq, or why not.
publish_result publish_result_of(std::uint64_t seq);
publish_result publish_result_of(const caf::error& error);

struct publisher_state {
  static inline const char* name = "publisher";
  publish_target_actor target;
  std::string topic;
  std::chrono::milliseconds wait{10000};  // how long one publish may take
};

using publisher_pointer = publisher_actor::stateful_pointer<publisher_state>;

publisher_actor::behavior_type publisher(publisher_pointer self, publish_target_actor target,
                                         std::string topic,
                                         std::chrono::milliseconds wait = std::chrono::seconds(10));

}  // namespace happy
