#include "actors/publisher.hpp"

#include <chrono>

namespace happy {

caf::behavior publisher(caf::stateful_actor<publisher_state>* self, caf::actor registry,
                        std::string topic) {
  self->state.registry = std::move(registry);
  self->state.topic = std::move(topic);
  return {
      [self](publish_atom, const std::string& value_json, const publish_callback& callback) {
        // Requests from one actor reach the registry, and through it the hub, in order.
        self->request(self->state.registry, std::chrono::seconds(10), publish_atom::value,
                      self->state.topic, value_json)
            .then(
                [callback](std::uint64_t seq) { callback.done(publish_result_of(seq)); },
                [callback](const caf::error&) {
                  callback.done({publish_result::outcome::unavailable, 0});
                });
      },
  };
}

}  // namespace happy
