#include "actors/publisher.hpp"

#include <chrono>

#include "actors/happy_error.hpp"

namespace happy {

publish_result publish_result_of(std::uint64_t seq) {
  return {publish_result::outcome::accepted, seq};
}

publish_result publish_result_of(const caf::error& error) {
  if (error == happy_errc::topic_limit) return {publish_result::outcome::topic_limit, 0};
  if (error == happy_errc::storage_unavailable)
    return {publish_result::outcome::storage_unavailable, 0};
  if (error == happy_errc::log_unavailable) return {publish_result::outcome::quorum_unavailable, 0};
  return {publish_result::outcome::unavailable, 0};
}

publisher_actor::behavior_type publisher(publisher_pointer self, publish_target_actor target,
                                         std::string topic, std::chrono::milliseconds wait) {
  self->state.target = std::move(target);
  self->state.topic = std::move(topic);
  self->state.wait = wait;
  return {
      [self](publish_atom, const std::string& value_json, const publish_callback& callback) {
        // Requests from one actor reach the registry, and through it the hub, in order.
        self->request(self->state.target, self->state.wait, publish_atom::value,
                      self->state.topic, value_json)
            .then([callback](std::uint64_t seq) { callback.done(publish_result_of(seq)); },
                  [callback](const caf::error& error) { callback.done(publish_result_of(error)); });
      },
      [self](publish_atom, const std::string& value_json, const std::string& key,
             const publish_callback& callback) {
        self->request(self->state.target, self->state.wait, publish_atom::value,
                      self->state.topic, value_json, key)
            .then([callback](std::uint64_t seq) { callback.done(publish_result_of(seq)); },
                  [callback](const caf::error& error) { callback.done(publish_result_of(error)); });
      },
  };
}

}  // namespace happy
