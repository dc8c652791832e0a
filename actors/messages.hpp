#pragma once

// The message vocabulary spoken between the service's actors. Every piece of
// shared state lives in an actor; everything below travels in messages.

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace happy {

// generator
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using reconfigure_atom = caf::atom_constant<caf::atom("reconfig")>;
// hub
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsubscr")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;  // to itself: fan out what is unsent
// registry
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;
// hub: the topic is gone (config reload), end normally
using remove_atom = caf::atom_constant<caf::atom("remove")>;
// session
using subscribed_atom = caf::atom_constant<caf::atom("subscribed")>;  // from the hub: the replay
using frames_atom = caf::atom_constant<caf::atom("frames")>;          // from the hub: live frames
using transport_closed_atom = caf::atom_constant<caf::atom("tclosed")>;

// One reading as it goes on the wire: serialized once by the hub, shared by
// pointer with every session of the topic.
struct frame {
  std::uint64_t seq = 0;
  std::shared_ptr<const std::string> json;
};

using frame_list = std::vector<frame>;

// Live frames a hub fanned out together (oldest first): one immutable object
// shared by every session of the topic, so a session costs one reference.
using frame_batch = std::shared_ptr<const frame_list>;

// What a new subscriber wants to see before live readings.
struct replay_request {
  enum class mode : std::uint8_t { none, since, last };
  mode kind = mode::none;
  std::uint64_t value = 0;  // the seq for `since`, the count for `last`

  static replay_request live_only() { return {}; }
  static replay_request since(std::uint64_t seq) { return {mode::since, seq}; }
  static replay_request last(std::uint64_t count) { return {mode::last, count}; }
};

// A hub's answer to stats_atom.
struct topic_stats {
  std::string name;
  std::uint64_t seq = 0;
  std::uint64_t subscribers = 0;
  std::int64_t generator_interval_ms = 0;  // 0: no generator
  std::uint64_t history_size = 0;
};

}  // namespace happy

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::frame_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::frame_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::replay_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::topic_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<happy::topic_stats>)

#include "config/config.hpp"
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::generator_config)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::config)
