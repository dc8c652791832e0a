#pragma once

// The service's own error codes, in CAF's way: an enum with make_error, so
// an actor answers a request with `happy_errc::topic_limit` and the asker
// compares the caf::error it gets with the enum.

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <cstdint>
#include <string>

namespace caf {
class actor_system_config;
}

namespace happy {

enum class happy_errc : std::uint8_t {
  // A publish would create a topic beyond limits.max_topics.
  topic_limit = 1,
  // The history file cannot be written (disk full, I/O error): not accepted.
  storage_unavailable,
  // JetStream: no quorum stored the reading within nats.publish_timeout_ms.
  log_unavailable,
  // JetStream: a generator's reading fenced off because another node published since.
  fenced,
};

std::string to_string(happy_errc code);

inline caf::error make_error(happy_errc code) {
  return {static_cast<std::uint8_t>(code), caf::atom("happy")};
}

// Lets the actor system render happy errors ("happy: topic_limit").
void add_happy_error_category(caf::actor_system_config& cfg);

}  // namespace happy
