#include "actors/happy_error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace happy {

std::string to_string(happy_errc code) {
  switch (code) {
    case happy_errc::topic_limit:
      return "topic_limit";
    case happy_errc::storage_unavailable:
      return "storage_unavailable";
    case happy_errc::log_unavailable:
      return "log_unavailable";
    case happy_errc::fenced:
      return "fenced";
  }
  return "unknown";
}

void add_happy_error_category(caf::actor_system_config& cfg) {
  // (CAF 0.17's add_error_category<T> does not compile: its renderer lambda
  // lacks the atom argument, so the renderer is given in full here.)
  cfg.add_error_category(caf::atom("happy"),
                         [](std::uint8_t code, caf::atom_value, const caf::message&) {
                           return "happy: " + to_string(static_cast<happy_errc>(code));
                         });
}

}  // namespace happy
