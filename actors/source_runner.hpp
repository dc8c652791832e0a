#pragma once

// The blocking half of a command or http source: spawned detached (a thread
// of its own) and linked by its source actor, it runs the program or fetches
// the URL when asked and answers what came of it. Its interface is
// source_runner_actor (actors/actors.hpp).

#include <caf/stateful_actor.hpp>

#include <memory>
#include <string>

#include "actors/actors.hpp"
#include "sources/http_fetcher.hpp"

namespace happy {

struct source_runner_state {
  static inline const char* name = "source-runner";
  std::unique_ptr<http_fetcher> fetcher;  // made on first use: only http sources need it
};

using source_runner_pointer = source_runner_actor::stateful_pointer<source_runner_state>;

// `topic` names the thread's work in CAF's logs.
source_runner_actor::behavior_type source_runner(source_runner_pointer self, std::string topic);

}  // namespace happy
