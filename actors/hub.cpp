#include "actors/hub.hpp"

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/envelope.hpp"

namespace happy {

namespace {

using hub_actor = caf::stateful_actor<hub_state>;

std::uint64_t publish_now(hub_actor* self, const std::string& value_json) {
  auto& s = self->state;
  auto f = s.accept_reading(value_json);
  s.deliver(f);
  for (const auto& node : s.replicas) self->send(node, replica_atom::value, s.topic, f.seq, *f.json);
  if (s.counters) s.counters->replicas_sent += s.replicas.size();
  return f.seq;
}

}  // namespace

frame hub_state::accept_reading(const std::string& value_json) {
  ++seq;
  frame f{seq, std::make_shared<const std::string>(
                   make_envelope(topic, value_json, seq, unix_millis_now()))};
  history.push(f);
  return f;
}

void hub_state::deliver(const frame& f) {
  for (const auto& s : subscribers)
    if (f.seq > s.skip_through) s.link->deliver(f);
}

void hub_state::apply_replica(std::uint64_t replica_seq, std::string envelope) {
  frame f{replica_seq, std::make_shared<const std::string>(std::move(envelope))};
  if (replica_seq <= seq) {
    history.insert(std::move(f));
    return;
  }
  seq = replica_seq;
  history.push(f);
  deliver(f);
}

topic_snapshot hub_state::snapshot() const {
  topic_snapshot out{topic, seq, {}, {}};
  for (const auto& f : history.frames()) {
    out.seqs.push_back(f.seq);
    out.envelopes.push_back(*f.json);
  }
  return out;
}

bool hub_state::add_subscriber(const caf::actor_addr& session, std::shared_ptr<transport> link,
                               std::uint64_t skip_through) {
  auto [it, inserted] = subscriber_index.emplace(session, subscribers.size());
  if (inserted) subscribers.push_back({session, std::move(link), skip_through});
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
                  std::size_t history_capacity, std::int64_t generator_interval_ms,
                  std::shared_ptr<cluster_counters> counters) {
  self->state.topic = std::move(topic);
  self->state.counters = std::move(counters);
  self->state.history.set_capacity(history_capacity);
  self->state.generator_interval_ms = generator_interval_ms;
  self->set_down_handler([self](caf::down_msg& msg) { self->state.remove_subscriber(msg.source); });
  return {
      [self](publish_atom, std::string& value_json) -> caf::result<std::uint64_t> {
        auto& s = self->state;
        if (s.handovers == 0) return publish_now(self, value_json);
        auto promise = self->make_response_promise<std::uint64_t>();
        s.held.push_back({std::move(value_json), promise});
        return promise;
      },
      [self](subscribe_atom, const replay_request& request, std::shared_ptr<transport> link) {
        auto& s = self->state;
        auto session = caf::actor_cast<caf::actor>(self->current_sender());
        if (!session || !link) return;
        // In a cluster a client may have seen a little further on another
        // node than this replica has got: it goes live and skips what it saw.
        bool ahead_of_replica = s.clustered && request.kind == replay_request::mode::since &&
                                request.value > s.seq &&
                                request.value <= s.seq + replica_lag_tolerance;
        if (!s.add_subscriber(session.address(), link, ahead_of_replica ? request.value : 0))
          return;
        self->monitor(session);
        // Replay and the live frames that follow come from this one actor in
        // order, so a subscriber sees no gap and no duplicate between them.
        link->accept(ahead_of_replica ? frame_list{} : s.history.replay(request, s.seq));
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
      [self](view_atom, std::vector<caf::actor>& replicas) {
        self->state.clustered = true;
        self->state.replicas = std::move(replicas);
      },
      [self](replica_atom, std::uint64_t replica_seq, std::string& envelope) {
        self->state.apply_replica(replica_seq, std::move(envelope));
      },
      [self](snapshot_atom) { return self->state.snapshot(); },
      [self](sync_atom, topic_snapshot& other) {
        // Oldest first: whatever is newer than this node's seq goes out live, in order.
        for (std::size_t i = 0; i < other.seqs.size() && i < other.envelopes.size(); ++i)
          self->state.apply_replica(other.seqs[i], std::move(other.envelopes[i]));
        // A newer seq whose envelope aged out of the other history still counts:
        // seq must never go backwards when this node becomes the owner.
        if (other.seq > self->state.seq) self->state.seq = other.seq;
      },
      [self](handover_atom, bool holding) {
        auto& s = self->state;
        if (holding) {
          ++s.handovers;
          return;
        }
        if (s.handovers > 0 && --s.handovers > 0) return;
        // The other nodes' histories are in: publish what waited, in arrival order.
        auto waiting = std::move(s.held);
        s.held.clear();
        for (auto& p : waiting) p.promise.deliver(publish_now(self, p.value_json));
      },
      [self](reconfigure_atom, std::uint64_t history_capacity, std::int64_t interval_ms) {
        self->state.history.set_capacity(history_capacity);
        self->state.generator_interval_ms = interval_ms;
      },
  };
}

}  // namespace happy
