#pragma once

// Produces a topic's readings on a schedule and publishes them to its hub.
//
// Messages:
//   (tick_atom, std::uint64_t schedule)   to itself via delayed_send
//   (reconfigure_atom, generator_config)  new interval/distribution, live

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <optional>

#include "actors/distribution.hpp"
#include "actors/messages.hpp"

namespace happy {

struct generator_state {
  static inline const char* name = "generator";

  caf::actor hub;
  generator_config cfg;
  std::optional<distribution> source;
  // Ticks carry the schedule they belong to, so a reconfigure can drop the
  // tick already in flight for the old interval.
  std::uint64_t schedule = 0;
  std::chrono::steady_clock::time_point next_due;
};

caf::behavior generator(caf::stateful_actor<generator_state>* self, caf::actor hub,
                        generator_config cfg);

}  // namespace happy
