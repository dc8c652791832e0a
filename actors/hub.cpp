#include "actors/hub.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>
#include <caf/message_id.hpp>
#include <caf/system_messages.hpp>

#include "actors/embedded_log.hpp"
#include "actors/happy_error.hpp"
#include "wire/envelope.hpp"
#include "log/log.hpp"

namespace happy {

std::uint64_t hub_state::accept_reading(const std::string& value_json, std::int64_t ts,
                                        std::uint64_t at_seq) {
  seq = at_seq ? at_seq : seq + 1;
  frame f{seq, std::make_shared<const std::string>(make_envelope(topic, value_json, seq, ts))};
  history.push(f);
  queue_live(std::move(f));
  return seq;
}

void hub_state::take(log_entry entry) {
  // Behind anything held: publishes go into the log in arrival order.
  if (held.empty() && log->ready(*this))
    log->append(*this, std::move(entry));
  else
    held.push_back(std::move(entry));
}

void hub_state::release_held() {
  while (!held.empty() && log->ready(*this)) {
    auto next = std::move(held.front());
    held.pop_front();
    log->append(*this, std::move(next));
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

void hub_state::subscribe(const session_actor& session, const replay_request& request) {
  bool known = subscriber_index.count(session.address()) > 0 ||
               std::any_of(waiting.begin(), waiting.end(), [&](const auto& w) { return w.first == session; });
  if (known) return;
  self->monitor(session);
  bool beyond = request.kind == replay_request::mode::since && request.value > seq;
  if (!beyond || log->caught_up(*this)) return admit(session, request);
  if (waiting.empty())
    self->delayed_send(self, subscriber_catch_up_wait, admit_atom::value, admission_round);
  waiting.emplace_back(session, request);
}

void hub_state::admit_overdue(std::uint64_t round) {
  if (round != admission_round || waiting.empty()) return;  // admitted since
  log_warning("topic '" + topic + "': " + std::to_string(waiting.size()) + " session(s) resuming beyond seq " +
              std::to_string(seq) + " waited " + std::to_string(subscriber_catch_up_wait.count()) +
              " s for this node to catch up with the log and are let in");
  admit_waiting();
}

void hub_state::admit(const session_actor& session, const replay_request& request) {
  // Frames accepted before this subscriber joined are in history, so they
  // reach it in the replay, not once more in a live batch.
  flush();
  add_subscriber(session);
  // CAF delivers the messages from one actor to another in the order they
  // were sent: this replay reaches the session before any batch flushed
  // after it, so the client sees no gap and no duplicate.
  self->send(session, subscribed_atom::value, history.replay(request, seq), seq, log->shared());
}

void hub_state::admit_waiting() {
  ++admission_round;
  auto admitted = std::move(waiting);
  waiting.clear();
  for (auto& [session, request] : admitted) admit(session, request);
}

bool hub_state::add_subscriber(const session_actor& session) {
  auto [it, inserted] = subscriber_index.emplace(session.address(), subscribers.size());
  if (inserted) subscribers.push_back(session);
  return inserted;
}

void hub_state::start_over() {
  for (const auto& session : subscribers) {
    self->demonitor(session.address());
    self->send(session, restart_atom::value);
  }
  subscribers.clear();
  subscriber_index.clear();
  history.clear();
  unsent.clear();
  seq = 0;
}

void hub_state::remove_subscriber(const caf::actor_addr& session) {
  waiting.erase(std::remove_if(waiting.begin(), waiting.end(),
                               [&](const auto& w) { return w.first.address() == session; }),
                waiting.end());
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

// A publish, or (not a request: this node's generator or source) a producer's reading.
caf::result<std::uint64_t> publish(hub_actor::stateful_pointer<hub_state> self, std::string& value_json,
                                   std::string key) {
  auto& s = self->state;
  bool producer = !self->current_message_id().is_request();
  auto promise = self->make_response_promise<std::uint64_t>();
  // The reading's ts is when the hub took it, also when it waits for the log.
  s.take({std::move(value_json), promise, std::move(key), producer, unix_millis_now()});
  return promise;
}

}  // namespace

hub_actor::behavior_type hub(hub_actor::stateful_pointer<hub_state> self, std::string topic,
                             std::size_t history_capacity, std::int64_t generator_interval_ms,
                             hub_storage storage, jetstream_link stream_link) {
  auto& s = self->state;
  s.self = self;
  s.store = std::move(storage.store);
  s.storage = std::move(storage.status);
  s.seq = storage.last_seq;
  s.topic = std::move(topic);
  s.history.set_capacity(history_capacity);
  for (auto& f : storage.recent) s.history.push(std::move(f));
  s.generator_interval_ms = generator_interval_ms;
  if (stream_link.link)
    s.log = std::make_unique<jetstream_log>(std::move(stream_link));
  else
    s.log = std::make_unique<embedded_log>(storage.last_seq);
  s.log->start(s);
  self->set_down_handler([self](caf::down_msg& msg) { self->state.remove_subscriber(msg.source); });
  // Ending (the registry stopped, or the topic was removed): what was
  // accepted still reaches the sessions, ahead of their down message.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!msg.reason) return;  // a linked actor ended normally: not our end
    self->state.log->stop(self->state);
    self->state.flush();
    self->quit(msg.reason);
  });
  return {
      [self](publish_atom, std::string& value_json) -> caf::result<std::uint64_t> {
        return publish(self, value_json, {});
      },
      [self](subscribe_atom, const session_actor& session, const replay_request& request) {
        if (session) self->state.subscribe(session, request);
      },
      [self](flush_atom) {
        self->state.flush_scheduled = false;
        self->state.flush();
      },
      [self](admit_atom, std::uint64_t round) { self->state.admit_overdue(round); },
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
        self->state.log->stop(self->state);
        self->state.flush();
        self->quit();
      },
      [self](stored_atom, std::uint64_t up_to, bool committed) {
        self->state.log->on_stored(self->state, up_to, committed);
      },
      [self](publish_atom, std::string& value_json, std::string& key) -> caf::result<std::uint64_t> {
        // The key names one reading for JetStream's deduplication; the
        // embedded log has no such window and takes it as a plain publish.
        return publish(self, value_json, std::move(key));
      },
      [self](appended_atom, std::uint64_t id, publish_outcome& outcome) {
        self->state.log->on_appended(self->state, id, std::move(outcome));
      },
      [self](reading_atom, stream_reading& reading) {
        self->state.log->on_reading(self->state, std::move(reading));
      },
      [self](retry_atom, std::uint64_t id) { self->state.log->on_retry(self->state, id); },
      [self](reconfigure_atom, std::uint64_t history_capacity, std::int64_t interval_ms) {
        self->state.history.set_capacity(history_capacity);
        self->state.log->resize(self->state, history_capacity);
        self->state.generator_interval_ms = interval_ms;
      },
  };
}

}  // namespace happy
