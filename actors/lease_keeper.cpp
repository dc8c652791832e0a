#include "actors/lease_keeper.hpp"

#include <caf/send.hpp>

#include <algorithm>

#include "wire/envelope.hpp"
#include "log/log.hpp"

namespace happy {

namespace {

// A lease not renewed for this long may be expiring in the bucket: stop
// producing before another node can take it over.
constexpr std::int64_t sure_for_ms = (lease_ttl - std::chrono::milliseconds(3000)).count();

}  // namespace

void lease_keeper_state::renew_all() {
  std::string problem;
  if (!bucket) {
    bucket = lease_bucket::open(*link, link->settings().replicas, lease_ttl.count(), problem);
    if (!bucket) {
      log_debug("jetstream: leases not available yet: " + problem);
      return;
    }
  }
  auto now = unix_millis_now();
  holders.clear();
  for (const auto& topic : wanted) {
    auto it = held.find(topic);
    std::uint64_t revision = it == held.end() ? 0 : it->second.revision;
    problem.clear();
    std::uint64_t next = bucket->hold(topic, link->settings().node, revision, problem);
    if (next != 0) {
      if (revision == 0) log_info("jetstream: this node now runs topic '" + topic + "' (lease taken)");
      held[topic] = {next, now};
      validity->hold_until(topic, now + sure_for_ms);
      holders[topic] = link->settings().node;
      continue;
    }
    if (problem.empty()) holders[topic] = bucket->holder_of(topic);
    if (it == held.end()) continue;
    // No answer (an election): the lease stands while it surely has not expired.
    if (!problem.empty() && now - it->second.renewed_ms < sure_for_ms) continue;
    log_info("jetstream: topic '" + topic + "' no longer runs here (lease " +
             (problem.empty() ? "taken by another node" : "not renewed: " + problem) + ")");
    validity->lose(topic);
    held.erase(it);
  }
  for (const auto& entry : held) holders[entry.first] = link->settings().node;
  if (auto took = unix_millis_now() - now; took > 1000)
    log_warning("jetstream: renewing leases took " + std::to_string(took) + " ms");
  // Topics no longer wanted (removed, or without a producer now).
  for (auto it = held.begin(); it != held.end();) {
    if (std::find(wanted.begin(), wanted.end(), it->first) != wanted.end()) {
      ++it;
      continue;
    }
    validity->lose(it->first);
    if (!bucket->release(it->first, link->settings().node))
      log_debug("jetstream: lease of '" + it->first + "' not released; it expires by itself");
    it = held.erase(it);
  }
}

void lease_keeper_state::report() {
  std::vector<std::string> now_held;
  for (const auto& entry : held) now_held.push_back(entry.first);
  if (now_held == reported) return;
  reported = now_held;
  caf::anon_send(registry, leases_atom::value, std::move(now_held));
}

void lease_keeper_state::release_all() {
  if (!bucket) return;
  for (const auto& entry : held) {
    validity->lose(entry.first);
    if (!bucket->release(entry.first, link->settings().node))
      log_debug("jetstream: lease of '" + entry.first + "' not released; it expires by itself");
  }
  held.clear();
}

lease_keeper_actor::behavior_type lease_keeper(
    lease_keeper_actor::stateful_pointer<lease_keeper_state> self, std::shared_ptr<nats_connection> link,
    registry_actor registry, std::shared_ptr<lease_validity> validity) {
  self->state.link = std::move(link);
  self->state.registry = std::move(registry);
  self->state.validity = std::move(validity);
  // A clean stop (the registry ends, linked) hands the leases on at once
  // instead of after their TTL.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    self->state.release_all();
    self->quit(msg.reason);
  });
  self->send(self, tick_atom::value);
  return {
      [self](leases_atom, std::vector<std::string>& wanted) {
        self->state.wanted = std::move(wanted);
        self->state.renew_all();
        self->state.report();
      },
      [self](holders_atom, const std::vector<std::string>& topics) {
        std::vector<std::string> holders;
        for (const auto& topic : topics) {
          auto it = self->state.holders.find(topic);
          holders.push_back(it == self->state.holders.end() ? std::string{} : it->second);
        }
        return holders;
      },
      [self](tick_atom) {
        self->state.renew_all();
        self->state.report();
        self->delayed_send(self, lease_renew_interval, tick_atom::value);
      },
  };
}

}  // namespace happy
