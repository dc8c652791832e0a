#pragma once

// Runs a command source's program once (README "Sources"): argv with no
// shell, the configured environment and directory, stdin from /dev/null, no
// descriptor of the service inherited. Its stdout is the reading. Blocks the
// calling thread up to `timeout`, or until `stop` is raised; then the
// program's whole process group is killed.

#include <chrono>

#include "config/config.hpp"
#include "sources/source_outcome.hpp"
#include "sources/stop_signal.hpp"

namespace happy {

source_outcome run_command(const command_source& command, std::chrono::milliseconds timeout,
                           std::size_t max_output_bytes, const stop_signal& stop);

}  // namespace happy
