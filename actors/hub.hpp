#pragma once

// One topic's fan-out point: assigns seq and ts, serializes each reading once,
// keeps the history ring and sends every frame to every subscribed session.
//
// Messages:
//   (publish_atom, std::string value_json) -> std::uint64_t seq
//   (subscribe_atom, replay_request)        sender becomes a subscriber; it
//        receives (subscribed_atom, frame_list replay) and then live frames
//   (unsubscribe_atom)                      sender leaves
//   (stats_atom) -> topic_stats
//   (reconfigure_atom, std::uint64_t history, std::int64_t generator_interval_ms)
//   (remove_atom)   the topic was removed: end normally

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <string>
#include <unordered_map>
#include <vector>

#include "actors/messages.hpp"
#include "actors/topic_history.hpp"

namespace happy {

struct hub_state {
  static inline const char* name = "hub";

  std::string topic;
  std::uint64_t seq = 0;
  std::int64_t generator_interval_ms = 0;
  topic_history history{0};
  // Dense vector for the fan-out loop; the index map makes removal O(1).
  std::vector<caf::actor> subscribers;
  std::unordered_map<caf::actor_addr, std::size_t> subscriber_index;

  frame accept_reading(const std::string& value_json);
  bool add_subscriber(const caf::actor& session);
  void remove_subscriber(const caf::actor_addr& session);
};

caf::behavior hub(caf::stateful_actor<hub_state>* self, std::string topic,
                  std::size_t history_capacity, std::int64_t generator_interval_ms);

}  // namespace happy
