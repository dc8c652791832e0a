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

void session_state::start(frame_list history_replay, std::uint64_t hub_seq, bool clustered) {
  // In a cluster a client may have seen a little further on another node
  // than this replica has got: it goes live and skips what it saw.
  bool ahead_of_replica = clustered && replay.kind == replay_request::mode::since &&
                          replay.value > hub_seq && replay.value <= hub_seq + replica_lag_tolerance;
  if (ahead_of_replica) {
    skip_through = replay.value;
    history_replay.clear();
  }
  link->accept(std::move(history_replay));
}

void session_state::deliver(const frame_batch& batch) {
  if (skip_through == 0) return link->deliver(batch);
  // Seqs in batches only grow: once past skip_through, nothing is skipped again.
  if (batch->back().seq <= skip_through) return;
  if (batch->front().seq <= skip_through) {
    auto newer = std::make_shared<frame_list>();
    for (const auto& f : *batch)
      if (f.seq > skip_through) newer->push_back(f);
    skip_through = 0;
    return link->deliver(std::move(newer));
  }
  skip_through = 0;
  link->deliver(batch);
}

caf::behavior session(caf::stateful_actor<session_state>* self, caf::actor registry,
                      std::string topic, replay_request replay, std::shared_ptr<transport> link) {
  self->state.topic = std::move(topic);
  self->state.replay = replay;
  self->state.link = std::move(link);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source == self->state.hub.address()) close_for_hub_exit(self, msg.reason);
  });
  self->request(registry, std::chrono::seconds(10), lookup_atom::value, self->state.topic)
      .then(
          [self](const caf::actor& found, const std::vector<std::string>& known) {
            if (!found) {
              self->state.link->reject(404, unknown_topic_body(self->state.topic, known));
              self->quit();
              return;
            }
            self->state.hub = found;
            self->monitor(found);
            self->send(found, subscribe_atom::value, self->state.replay);
          },
          [self](const caf::error&) {
            self->state.link->reject(503, R"({"error":"service is shutting down"})");
            self->quit();
          });
  return {
      // First: CAF tries the handlers in order, and this one runs per reading.
      // Const: the batch message is shared by every session of the topic.
      [self](frames_atom, const frame_batch& batch) { self->state.deliver(batch); },
      [self](subscribed_atom, frame_list& replay, std::uint64_t hub_seq, bool clustered) {
        self->state.start(std::move(replay), hub_seq, clustered);
      },
      [self](transport_closed_atom) {
        if (self->state.hub) self->send(self->state.hub, unsubscribe_atom::value);
        self->quit();
      },
  };
}

}  // namespace happy
