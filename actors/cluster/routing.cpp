#include "actors/cluster/routing.hpp"

#include <algorithm>
#include <chrono>

#include "actors/envelope.hpp"
#include "actors/happy_error.hpp"
#include "log/log.hpp"

namespace happy {

namespace {

// A publish waits this long for its owner before being routed again; the
// middleman reports a lost node (closed connection, missed heartbeats) sooner.
constexpr std::int64_t forward_timeout_ms = 2000;
// The owner refuses a forward this long after it was sent, well before the
// sender stops waiting, so an accepted forward is answered in time.
constexpr std::int64_t forward_deadline_ms = 1500;
constexpr auto retry_delay = std::chrono::milliseconds(250);
constexpr auto routing_patience = std::chrono::milliseconds(4500);
// Nodes whose views differ for a moment may pass a publish on once more;
// after that the node holding it accepts it rather than bounce it around.
constexpr std::uint64_t max_hops = 2;

void retry_later(cluster_node_pointer self, pending_publish pending) {
  auto& s = self->state;
  bool expired = pending.deadline_ms != 0 &&
                 unix_millis_now() + retry_delay.count() > pending.deadline_ms;
  if (expired || std::chrono::steady_clock::now() + retry_delay >= pending.give_up) {
    pending.promise.deliver(make_error(happy_errc::routing_timeout));
    return;
  }
  auto id = s.next_id++;
  s.retries.emplace(id, std::move(pending));
  self->delayed_send(self, retry_delay, publish_retry_atom::value, id);
}

void route(cluster_node_pointer self, pending_publish pending) {
  auto& s = self->state;
  if (pending.deadline_ms != 0 && unix_millis_now() > pending.deadline_ms) {
    // Its sender has routed it elsewhere by now.
    pending.promise.deliver(make_error(happy_errc::forward_expired));
    return;
  }
  auto owner = s.view.owner_of(pending.topic);
  if (owner == s.cfg.node) {
    pending.promise.delegate(s.registry, publish_atom::value, std::move(pending.topic),
                             std::move(pending.value_json));
    return;
  }
  auto target = s.view.peer(owner);
  // No node may own topics yet, or views disagree for a moment (a forward
  // came from a node that took us for the owner): ask again shortly.
  if (!target || pending.hops >= max_hops) {
    retry_later(self, std::move(pending));
    return;
  }
  ++s.counters->forwarded;
  // The owner refuses the forward once this node stops waiting for it: a
  // paused owner that wakes up later must not publish what was re-routed.
  std::int64_t deadline = unix_millis_now() + forward_deadline_ms;
  if (pending.deadline_ms != 0) deadline = std::min(deadline, pending.deadline_ms);
  auto id = s.next_id++;
  self->request(target, std::chrono::milliseconds(forward_timeout_ms), forward_atom::value,
                pending.topic, pending.value_json, pending.hops + 1, deadline)
      .then(
          [self, id](std::uint64_t seq) {
            auto it = self->state.forwarding.find(id);
            if (it == self->state.forwarding.end()) return;  // already routed again
            it->second.publish.promise.deliver(seq);
            self->state.forwarding.erase(it);
          },
          [self, id](const caf::error& error) {
            auto it = self->state.forwarding.find(id);
            if (it == self->state.forwarding.end()) return;
            auto again = std::move(it->second.publish);
            self->state.forwarding.erase(it);
            // The owner's topic table is full: an answer, not a failure to route.
            if (error == happy_errc::topic_limit)
              again.promise.deliver(error);
            else
              retry_later(self, std::move(again));
          });
  s.forwarding.emplace(id, cluster_node_state::in_flight{std::move(pending), target.address()});
}

}  // namespace

caf::typed_response_promise<std::uint64_t> route_local_publish(cluster_node_pointer self,
                                                               std::string topic,
                                                               std::string value_json) {
  auto promise = self->make_response_promise<std::uint64_t>();
  route(self, {promise, std::move(topic), std::move(value_json), 0,
               std::chrono::steady_clock::now() + routing_patience, 0});
  return promise;
}

caf::typed_response_promise<std::uint64_t> route_forwarded_publish(
    cluster_node_pointer self, std::string topic, std::string value_json, std::uint64_t hops,
    std::int64_t deadline_ms) {
  auto promise = self->make_response_promise<std::uint64_t>();
  if (auto late_ms = unix_millis_now() - deadline_ms; late_ms > 0) {
    log_warning("cluster: refused a publish to '" + topic + "' forwarded " +
                std::to_string(late_ms) +
                " ms past its deadline (this node was paused, or the nodes' clocks are "
                "more than " + std::to_string(forward_timeout_ms) + " ms apart)");
    promise.deliver(make_error(happy_errc::forward_expired));
    return promise;
  }
  route(self, {promise, std::move(topic), std::move(value_json), hops,
               std::chrono::steady_clock::now() + routing_patience, deadline_ms});
  return promise;
}

void retry_publish(cluster_node_pointer self, std::uint64_t id) {
  auto it = self->state.retries.find(id);
  if (it == self->state.retries.end()) return;
  auto pending = std::move(it->second);
  self->state.retries.erase(it);
  route(self, std::move(pending));
}

void reroute_forwards_to(cluster_node_pointer self, const caf::actor_addr& lost) {
  auto& forwarding = self->state.forwarding;
  std::vector<pending_publish> again;
  for (auto it = forwarding.begin(); it != forwarding.end();) {
    if (it->second.owner == lost) {
      again.push_back(std::move(it->second.publish));
      it = forwarding.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& pending : again) route(self, std::move(pending));
}

}  // namespace happy
