#include "actors/hub.hpp"

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/envelope.hpp"

namespace happy {

frame hub_state::accept_reading(const std::string& value_json) {
  ++seq;
  frame f{seq, std::make_shared<const std::string>(
                   make_envelope(topic, value_json, seq, unix_millis_now()))};
  history.push(f);
  return f;
}

bool hub_state::add_subscriber(const caf::actor_addr& session, std::shared_ptr<transport> link) {
  auto [it, inserted] = subscriber_index.emplace(session, subscribers.size());
  if (inserted) subscribers.push_back({session, std::move(link)});
  return inserted;
}

void hub_state::remove_subscriber(const caf::actor_addr& session) {
  auto it = subscriber_index.find(session);
  if (it == subscriber_index.end()) return;
  std::size_t slot = it->second;
  subscriber_index.erase(it);
  if (slot + 1 != subscribers.size()) {
    subscribers[slot] = std::move(subscribers.back());
    subscriber_index[subscribers[slot].session] = slot;
  }
  subscribers.pop_back();
}

caf::behavior hub(caf::stateful_actor<hub_state>* self, std::string topic,
                  std::size_t history_capacity, std::int64_t generator_interval_ms) {
  self->state.topic = std::move(topic);
  self->state.history.set_capacity(history_capacity);
  self->state.generator_interval_ms = generator_interval_ms;
  self->set_down_handler([self](caf::down_msg& msg) { self->state.remove_subscriber(msg.source); });
  return {
      [self](publish_atom, const std::string& value_json) {
        auto f = self->state.accept_reading(value_json);
        for (const auto& s : self->state.subscribers) s.link->deliver(f);
        return f.seq;
      },
      [self](subscribe_atom, const replay_request& request, std::shared_ptr<transport> link) {
        auto session = caf::actor_cast<caf::actor>(self->current_sender());
        if (!session || !link) return;
        if (!self->state.add_subscriber(session.address(), link)) return;
        self->monitor(session);
        // Replay and the live frames that follow come from this one actor in
        // order, so a subscriber sees no gap and no duplicate between them.
        link->accept(self->state.history.replay(request, self->state.seq));
      },
      [self](unsubscribe_atom) {
        auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
        self->demonitor(sender);
        self->state.remove_subscriber(sender);
      },
      [self](stats_atom) {
        const auto& s = self->state;
        return topic_stats{s.topic, s.seq, s.subscribers.size(), s.generator_interval_ms,
                           s.history.size()};
      },
      [self](remove_atom) { self->quit(); },
      [self](reconfigure_atom, std::uint64_t history_capacity, std::int64_t interval_ms) {
        self->state.history.set_capacity(history_capacity);
        self->state.generator_interval_ms = interval_ms;
      },
  };
}

}  // namespace happy
