#pragma once

// One subscriber connection, whatever its transport: looks the topic up,
// subscribes to its hub, and is the only actor that touches its transport.
// Replay and live frames arrive from the hub as messages, in order; the
// session hands each batch to the transport in one call. It leaves the hub
// when the transport closes, and closes the transport when the hub goes away.
// Its interface is session_actor (actors/actors.hpp).

#include <caf/stateful_actor.hpp>

#include <memory>
#include <string>

#include "actors/actors.hpp"
#include "actors/transport.hpp"

namespace happy {

// With JetStream, a subscriber resuming with a `since` at most this far
// ahead of the hub's seq is taken to be ahead of this node's follower (it saw
// newer readings on another node), not to come from before a restart.
inline constexpr std::uint64_t follower_lag_tolerance = 64;

struct session_state {
  static inline const char* name = "session";

  std::string topic;
  replay_request replay;
  // The client connection this session feeds.
  std::shared_ptr<transport> client;
  hub_actor hub;
  // The client has seen every seq up to this one on another node: skip them.
  std::uint64_t skip_through = 0;

  // Decides what the client sees before live frames, and accepts it.
  void start(frame_list history_replay, std::uint64_t hub_seq, bool shared_log);
  void deliver(const frame_batch& batch);
};

using session_pointer = session_actor::stateful_pointer<session_state>;

session_actor::behavior_type session(session_pointer self, registry_actor registry,
                                     std::string topic, replay_request replay,
                                     std::shared_ptr<transport> client);

}  // namespace happy
