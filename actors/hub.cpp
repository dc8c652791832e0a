#include "actors/hub.hpp"

#include <caf/actor_cast.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <caf/message_id.hpp>
#include <caf/system_messages.hpp>

#include "actors/envelope.hpp"
#include "actors/happy_error.hpp"

namespace happy {

std::uint64_t hub_state::accept_reading(const std::string& value_json) {
  ++seq;
  frame f{seq, std::make_shared<const std::string>(
                   make_envelope(topic, value_json, seq, unix_millis_now()))};
  history.push(f);
  queue_live(std::move(f));
  return seq;
}

bool hub_state::must_hold() const {
  return store && seq >= committed_seq + max_uncommitted_seqs;
}

void hub_state::accept_publish(const std::string& value_json,
                               caf::typed_response_promise<std::uint64_t> promise) {
  if (!store)
    promise.deliver(accept_reading(value_json));
  else if (!storage->writable)
    promise.deliver(make_error(happy_errc::storage_unavailable));
  else
    unacknowledged_publishes.push_back({accept_reading(value_json), std::move(promise)});
}

void hub_state::release_held() {
  if (stream) {
    while (!held.empty() && stream->ready()) {
      auto next = std::move(held.front());
      held.pop_front();
      stream->append(*this, std::move(next.value_json), next.key, std::move(next.promise),
                     next.producer, next.accepted_ms);
    }
    return;
  }
  while (!held.empty() && !must_hold()) {
    auto next = std::move(held.front());
    held.pop_front();
    accept_publish(next.value_json, std::move(next.promise));
  }
}

void hub_state::acknowledge(std::uint64_t up_to, bool committed) {
  committed_seq = std::max(committed_seq, up_to);
  while (!unacknowledged_publishes.empty() && unacknowledged_publishes.front().seq <= up_to) {
    auto& p = unacknowledged_publishes.front();
    if (committed)
      p.promise.deliver(p.seq);
    else
      p.promise.deliver(make_error(happy_errc::storage_unavailable));
    unacknowledged_publishes.pop_front();
  }
}

void hub_state::queue_live(frame f) {
  unsent.push_back(std::move(f));
  schedule_flush();
}

void hub_state::schedule_flush() {
  if (flush_scheduled) return;
  // Lands behind every message queued now: readings among them join this batch.
  flush_scheduled = true;
  self->send(self, flush_atom::value);
}

void hub_state::flush() {
  if (unsent.empty()) return;
  frame_batch frames{std::make_shared<const frame_list>(std::move(unsent))};
  unsent = frame_list{};
  // The store gets the very batch the sessions get: written once, copied never.
  if (store) self->send(store, append_atom::value, caf::actor_cast<hub_actor>(self), topic, frames);
  if (subscribers.empty()) return;
  // One message object for all: each session's mailbox element holds a
  // reference to it, and sessions read it as const, so nothing is copied.
  auto batch = caf::make_message(frames_atom::value, std::move(frames));
  for (const auto& session : subscribers)
    session->enqueue(caf::make_mailbox_element(self->ctrl(), caf::make_message_id(), {}, batch),
                     self->context());
}

bool hub_state::add_subscriber(const session_actor& session) {
  auto [it, inserted] = subscriber_index.emplace(session.address(), subscribers.size());
  if (inserted) subscribers.push_back(session);
  return inserted;
}

void hub_state::remove_subscriber(const caf::actor_addr& session) {
  auto it = subscriber_index.find(session);
  if (it == subscriber_index.end()) return;
  std::size_t slot = it->second;
  subscriber_index.erase(it);
  if (slot + 1 != subscribers.size()) {
    subscribers[slot] = std::move(subscribers.back());
    subscriber_index[subscribers[slot].address()] = slot;
  }
  subscribers.pop_back();
}

namespace {

// With JetStream every publish goes to the stream. An anonymous one (no
// request: this node's generator or source) is a producer's, and fenced.
caf::result<std::uint64_t> publish_to_stream(hub_actor::stateful_pointer<hub_state> self,
                                             std::string& value_json, std::string key) {
  auto& s = self->state;
  bool producer = !self->current_message_id().is_request();
  auto promise = self->make_response_promise<std::uint64_t>();
  // The reading's ts is when the hub took it, also when it waits for the stream.
  auto now = unix_millis_now();
  if (!s.stream->ready())
    s.held.push_back({std::move(value_json), promise, std::move(key), producer, now});
  else
    s.stream->append(s, std::move(value_json), key, promise, producer, now);
  return promise;
}

}  // namespace

hub_actor::behavior_type hub(hub_actor::stateful_pointer<hub_state> self, std::string topic,
                             std::size_t history_capacity, std::int64_t generator_interval_ms,
                             hub_storage storage,
                             hub_stream_link stream_link) {
  self->state.self = self;
  self->state.store = std::move(storage.store);
  self->state.storage = std::move(storage.status);
  self->state.seq = storage.last_seq;
  self->state.committed_seq = storage.last_seq;
  self->state.topic = std::move(topic);
  self->state.history.set_capacity(history_capacity);
  for (auto& f : storage.recent) self->state.history.push(std::move(f));
  self->state.generator_interval_ms = generator_interval_ms;
  if (stream_link.link) {
    self->state.stream = std::make_unique<hub_stream>(std::move(stream_link));
    self->state.stream->start(self->state);
  }
  self->set_down_handler([self](caf::down_msg& msg) { self->state.remove_subscriber(msg.source); });
  // Ending (the registry stopped, or the topic was removed): what was
  // accepted still reaches the sessions, ahead of their down message.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!msg.reason) return;  // a linked actor ended normally: not our end
    if (self->state.stream) self->state.stream->stop();
    self->state.flush();
    self->quit(msg.reason);
  });
  return {
      [self](publish_atom, std::string& value_json) -> caf::result<std::uint64_t> {
        auto& s = self->state;
        if (s.stream) return publish_to_stream(self, value_json, {});
        // Without storage and not held, the seq is the answer: no promise needed.
        if (!s.store && !s.must_hold()) return s.accept_reading(value_json);
        if (s.store && !s.storage->writable) return make_error(happy_errc::storage_unavailable);
        auto promise = self->make_response_promise<std::uint64_t>();
        if (s.must_hold())
          s.held.push_back({std::move(value_json), promise});
        else
          s.accept_publish(value_json, promise);
        return promise;
      },
      [self](subscribe_atom, const session_actor& session, const replay_request& request) {
        auto& s = self->state;
        if (!session) return;
        // Frames accepted before this subscriber joined are in history, so
        // they reach it in the replay, not once more in a live batch.
        s.flush();
        if (!s.add_subscriber(session)) return;
        self->monitor(session);
        // CAF delivers the messages from one actor to another in the order
        // they were sent: this replay reaches the session before any batch
        // flushed after it, so the client sees no gap and no duplicate.
        self->send(session, subscribed_atom::value, s.history.replay(request, s.seq), s.seq,
                   s.stream != nullptr);
      },
      [self](flush_atom) {
        self->state.flush_scheduled = false;
        self->state.flush();
      },
      [self](unsubscribe_atom, const session_actor& session) {
        self->demonitor(session.address());
        self->state.remove_subscriber(session.address());
      },
      [self](stats_atom) -> topic_stats {
        const auto& s = self->state;
        return topic_stats{s.topic, s.seq, s.subscribers.size(), s.generator_interval_ms,
                           s.history.size()};
      },
      [self](remove_atom) {
        if (self->state.stream) self->state.stream->stop();
        self->state.flush();
        self->quit();
      },
      [self](stored_atom, std::uint64_t up_to, bool committed) {
        self->state.acknowledge(up_to, committed);
        self->state.release_held();
      },
      [self](publish_atom, std::string& value_json, std::string& key) -> caf::result<std::uint64_t> {
        // The key names one reading for JetStream's deduplication; the
        // embedded log has no such window and takes it as a plain publish.
        if (self->state.stream) return publish_to_stream(self, value_json, std::move(key));
        return self->delegate(caf::actor_cast<hub_actor>(self), publish_atom::value, std::move(value_json));
      },
      [self](appended_atom, std::uint64_t id, publish_outcome& outcome) {
        if (self->state.stream) self->state.stream->on_appended(self->state, id, std::move(outcome));
      },
      [self](reading_atom, stream_reading& reading) {
        if (self->state.stream) self->state.stream->on_reading(self->state, std::move(reading));
      },
      [self](retry_atom, std::uint64_t id) {
        if (self->state.stream) self->state.stream->on_retry(self->state, id);
      },
      [self](reconfigure_atom, std::uint64_t history_capacity, std::int64_t interval_ms) {
        self->state.history.set_capacity(history_capacity);
        if (self->state.stream) self->state.stream->resize(self->state, history_capacity);
        self->state.generator_interval_ms = interval_ms;
      },
  };
}

}  // namespace happy
