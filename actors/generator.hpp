#pragma once

// Produces a topic's readings on a schedule and publishes them to its hub.
// Its interface is generator_actor (actors/actors.hpp).

#include <caf/stateful_actor.hpp>

#include <chrono>
#include <optional>

#include "actors/distribution.hpp"
#include "actors/actors.hpp"

namespace happy {

struct generator_state {
  static inline const char* name = "generator";

  hub_actor hub;
  generator_config cfg;
  std::optional<distribution> source;
  // Ticks carry the schedule they belong to, so a reconfigure can drop the
  // tick already in flight for the old interval.
  std::uint64_t schedule = 0;
  std::chrono::steady_clock::time_point next_due;
};

using generator_pointer = generator_actor::stateful_pointer<generator_state>;

generator_actor::behavior_type generator(generator_pointer self, hub_actor hub,
                                         generator_config cfg);

}  // namespace happy
