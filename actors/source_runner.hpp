#pragma once

// The blocking half of a command or http source: spawned detached (a thread
// of its own) and linked by its source actor, it runs the program or fetches
// the URL when asked and answers what came of it. `stop` is raised when the
// source ends: a run in flight is then cut short (the program killed), so a
// reload or shutdown never waits for it. Its interface is source_runner_actor
// (actors/actors.hpp).

#include <caf/stateful_actor.hpp>

#include <memory>
#include <string>

#include "actors/actors.hpp"
#include "sources/http_fetcher.hpp"
#include "sources/stop_signal.hpp"

namespace happy {

struct source_runner_state {
  static inline const char* name = "source-runner";
  std::unique_ptr<http_fetcher> fetcher;  // made on first use: only http sources need it
  std::shared_ptr<const stop_signal> stop;
};

using source_runner_pointer = source_runner_actor::stateful_pointer<source_runner_state>;

source_runner_actor::behavior_type source_runner(source_runner_pointer self,
                                                 std::shared_ptr<const stop_signal> stop);

}  // namespace happy
