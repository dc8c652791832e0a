#include "actors/session.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>

#include <chrono>

#include "actors/not_found_body.hpp"

namespace happy {

namespace {

void close_for_hub_exit(caf::stateful_actor<session_state>* self, const caf::error& reason) {
  auto& link = *self->state.link;
  if (reason == caf::exit_reason::user_shutdown)
    link.close(close_code::going_away, "going away");
  else if (!reason)
    link.close(close_code::normal, "topic removed");
  else
    link.close(close_code::internal_error, "topic failed");
  self->quit();
}

}  // namespace

caf::behavior session(caf::stateful_actor<session_state>* self, caf::actor registry,
                      std::string topic, replay_request replay, std::shared_ptr<transport> link) {
  self->state.topic = std::move(topic);
  self->state.link = std::move(link);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.hub.address()) close_for_hub_exit(self, msg.reason);
  });
  self->request(registry, std::chrono::seconds(10), lookup_atom::value, self->state.topic)
      .then(
          [self, replay](const caf::actor& found, const std::vector<std::string>& known) {
            if (!found) {
              self->state.link->reject(404, unknown_topic_body(self->state.topic, known));
              self->quit();
              return;
            }
            self->state.hub = found;
            self->monitor(found);
            self->send(found, subscribe_atom::value, replay, self->state.link);
          },
          [self](const caf::error&) {
            self->state.link->reject(503, R"({"error":"service is shutting down"})");
            self->quit();
          });
  return {
      [self](transport_closed_atom) {
        if (self->state.hub) self->send(self->state.hub, unsubscribe_atom::value);
        self->quit();
      },
  };
}

}  // namespace happy
