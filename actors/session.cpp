#include "actors/session.hpp"

#include <caf/exit_reason.hpp>
#include <chrono>

namespace happy {

namespace {

void close_for_hub_exit(session_pointer self, const caf::error& reason) {
  auto& client = *self->state.client;
  if (reason == caf::exit_reason::user_shutdown)
    client.close(close_code::going_away, "going away");
  else if (!reason)
    client.close(close_code::normal, "topic removed");
  else
    client.close(close_code::internal_error, "topic failed");
  self->quit();
}

}  // namespace

void session_state::start(frame_list history_replay, std::uint64_t hub_seq, bool shared_log) {
  // On a log other nodes follow too, a client may have seen a little further
  // on another node than this node's follower has got: it goes live and
  // skips what it saw.
  bool ahead_of_follower = shared_log && replay.kind == replay_request::mode::since &&
                           replay.value > hub_seq && replay.value <= hub_seq + follower_lag_tolerance;
  if (ahead_of_follower) {
    skip_through = replay.value;
    history_replay.clear();
  }
  client->accept(std::move(history_replay));
}

void session_state::deliver(const frame_batch& batch) {
  if (skip_through == 0) return client->deliver(batch);  // every batch but a resume's first
  // Seqs in batches only grow: once past skip_through, nothing is skipped again.
  if (batch->back().seq <= skip_through) return;
  if (batch->front().seq <= skip_through) {
    auto newer = std::make_shared<frame_list>();
    for (const auto& f : *batch)
      if (f.seq > skip_through) newer->push_back(f);
    skip_through = 0;
    return client->deliver(std::move(newer));
  }
  skip_through = 0;
  client->deliver(batch);
}

session_actor::behavior_type session(session_pointer self, registry_actor registry,
                                     std::string topic, replay_request replay,
                                     std::shared_ptr<transport> client) {
  self->state.topic = std::move(topic);
  self->state.replay = replay;
  self->state.client = std::move(client);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.hub.address()) close_for_hub_exit(self, msg.reason);
  });
  self->request(registry, std::chrono::seconds(10), lookup_atom::value, self->state.topic)
      .then(
          [self](const hub_actor& found, std::vector<std::string>& known) {
            auto& s = self->state;
            if (!found) {
              s.client->refuse({subscribe_refusal::reason::unknown_topic, s.topic, std::move(known)});
              self->quit();
              return;
            }
            s.hub = found;
            self->monitor(found);
            self->send(found, subscribe_atom::value, session_actor{self}, s.replay);
          },
          [self](const caf::error&) {
            self->state.client->refuse(
                {subscribe_refusal::reason::shutting_down, self->state.topic, {}});
            self->quit();
          });
  return {
      // First: CAF tries the handlers in order, and this one runs per reading.
      // Const: the batch message is shared by every session of the topic.
      [self](frames_atom, const frame_batch& batch) { self->state.deliver(batch); },
      [self](subscribed_atom, frame_list& replay, std::uint64_t hub_seq, bool shared_log) {
        self->state.start(std::move(replay), hub_seq, shared_log);
      },
      [self](restart_atom) {
        // The hub has already dropped this session.
        self->state.client->close(close_code::service_restart, "the topic's history was replaced; reconnect");
        self->quit();
      },
      [self](transport_closed_atom) {
        if (self->state.hub) self->send(self->state.hub, unsubscribe_atom::value, session_actor{self});
        self->quit();
      },
  };
}

}  // namespace happy
