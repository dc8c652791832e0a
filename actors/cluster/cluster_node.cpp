#include "actors/cluster/cluster_node.hpp"

#include <algorithm>
#include <chrono>

#include "actors/cluster/membership.hpp"
#include "actors/cluster/routing.hpp"

namespace happy {

const char* member_state_name(member_state state) {
  switch (state) {
    case member_state::connecting:
      return "connecting";
    case member_state::joining:
      return "joining";
    case member_state::up:
      return "up";
    case member_state::down:
      return "down";
  }
  return "unknown";
}

cluster_member* cluster_node_state::member_named(const std::string& wanted) {
  for (auto& m : members)
    if (!wanted.empty() && m.name == wanted) return &m;
  return nullptr;
}

cluster_member* cluster_node_state::member_at(const std::string& address) {
  for (auto& m : members)
    if (!address.empty() && m.address == address) return &m;
  return nullptr;
}

cluster_member* cluster_node_state::member_with(const caf::actor_addr& handle) {
  for (auto& m : members)
    if (m.handle && m.handle.address() == handle) return &m;
  return nullptr;
}

cluster_view cluster_node_state::make_view() const {
  cluster_view out;
  out.clustered = true;
  out.self = cfg.node;
  if (up) out.owners.push_back(cfg.node);
  for (const auto& m : members) {
    if (!m.handle) continue;
    if (m.state == member_state::up) out.owners.push_back(m.name);
    if (m.state == member_state::up || m.state == member_state::joining)
      out.peers.emplace_back(m.name, m.handle);
  }
  std::sort(out.owners.begin(), out.owners.end());
  return out;
}

cluster_node_actor::behavior_type cluster_node(cluster_node_pointer self, cluster_config cfg,
                                               registry_actor registry,
                                               std::shared_ptr<cluster_counters> counters) {
  auto& s = self->state;
  s.cfg = std::move(cfg);
  s.registry = std::move(registry);
  s.counters = counters ? std::move(counters) : std::make_shared<cluster_counters>();
  for (const auto& peer : s.cfg.peers) {
    if (peer == s.cfg.listen) continue;
    cluster_member m;
    m.address = peer.text();
    m.configured = true;
    s.members.push_back(std::move(m));
  }
  self->set_down_handler([self](caf::down_msg& msg) { member_lost(self, msg.source); });
  return {
      // Local.
      [self](publish_atom, std::string& topic, std::string& value_json) {
        return route_local_publish(self, std::move(topic), std::move(value_json));
      },
      [self](cluster_atom) {
        auto promise = self->make_response_promise<cluster_status>();
        self->request(self->state.registry, std::chrono::seconds(5), topics_atom::value)
            .then(
                [self, promise](const std::vector<std::string>& topics) mutable {
                  promise.deliver(make_cluster_status(self->state, topics));
                },
                [self, promise](const caf::error&) mutable {
                  promise.deliver(make_cluster_status(self->state, {}));
                });
        return promise;
      },
      // From other nodes.
      [self](join_atom, const std::string& name, const std::string& address, bool peer_up,
             snapshot_list& theirs) {
        return answer_join(self, name, address, peer_up, std::move(theirs));
      },
      [self](member_up_atom, const std::string& name) { member_up(self, name); },
      [self](forward_atom, std::string& topic, std::string& value_json, std::uint64_t hops,
             std::int64_t deadline_ms) {
        return route_forwarded_publish(self, std::move(topic), std::move(value_json), hops,
                                       deadline_ms);
      },
      [self](replica_atom, std::string& topic, std::uint64_t seq, std::string& envelope) {
        ++self->state.counters->replicas_received;
        self->send(self->state.registry, replica_atom::value, std::move(topic), seq,
                   std::move(envelope));
      },
      [self](sync_atom, snapshot_list& snapshots) {
        ++self->state.counters->syncs_received;
        self->send(self->state.registry, sync_atom::value, std::move(snapshots));
      },
      [self](snapshot_atom, const std::vector<std::string>& topics) {
        auto promise = self->make_response_promise<snapshot_list>();
        return promise.delegate(self->state.registry, snapshot_atom::value, topics);
      },
      // To itself.
      [self](start_atom) { start_membership(self); },
      [self](ready_atom) { become_up(self); },
      [self](connect_retry_atom, const std::string& address) { try_connect(self, address); },
      [self](probed_atom, const std::string& address, bool open) { probed(self, address, open); },
      [self](publish_retry_atom, std::uint64_t id) { retry_publish(self, id); },
  };
}

}  // namespace happy
