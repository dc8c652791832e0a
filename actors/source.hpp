#pragma once

// A topic's real source (README "Sources"): on every tick it takes a reading
// and publishes it to its hub, like a generator. `system` sources read /proc
// right here (no waiting involved); command and http sources hand the run to
// their source_runner, a detached actor, and never start a second run while
// one is in flight (that tick is counted as skipped). When the source ends
// (reload, removal, shutdown) its run in flight is stopped with it. A failed run gives no
// reading, a counter in /metrics and a log line: one per kind of problem, then
// at most one a minute while it repeats, and one when it works again.
// Its interface is source_actor (actors/actors.hpp).

#include <caf/stateful_actor.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "actors/actors.hpp"
#include "sources/source_counters.hpp"
#include "sources/stop_signal.hpp"
#include "sources/system_sampler.hpp"

namespace happy {

// What the source last said in the log, so a repeating failure is not a flood.
struct source_failure_log {
  source_failure last_failure = source_failure::none;
  std::chrono::steady_clock::time_point last_logged;
  std::uint64_t unlogged = 0;  // failures since the last line
  std::uint64_t in_a_row = 0;  // failures since the last reading
};

struct source_state {
  static inline const char* name = "source";

  std::string topic;
  hub_actor hub;
  source_config cfg;
  std::shared_ptr<source_counters> counters;
  std::optional<system_sampler> sampler;  // system sources
  source_runner_actor runner;             // command and http sources, made on demand
  std::shared_ptr<stop_signal> stop;      // raised when this source ends; the runner watches it
  bool running = false;                   // a run is in flight
  std::chrono::steady_clock::time_point next_due;
  source_failure_log log;
};

using source_pointer = source_actor::stateful_pointer<source_state>;

source_actor::behavior_type source(source_pointer self, std::string topic, hub_actor hub,
                                   source_config cfg, std::shared_ptr<source_counters> counters);

}  // namespace happy
