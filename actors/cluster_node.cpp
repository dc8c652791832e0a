#include "actors/cluster_node.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/sec.hpp>

#include <algorithm>
#include <chrono>
#include <set>

#include "actors/cluster_status_json.hpp"
#include "actors/envelope.hpp"
#include "actors/port_probe.hpp"
#include "log/log.hpp"

namespace happy {

namespace {

using cluster_actor = caf::stateful_actor<cluster_node_state>;

// A node that cannot reach all its peers at start still begins owning
// topics after this long, so a lone survivor restarts into a working node.
constexpr auto first_contact_limit = std::chrono::seconds(3);
constexpr std::int64_t min_backoff_ms = 200;
constexpr std::int64_t max_backoff_ms = 2000;
constexpr auto connect_timeout = std::chrono::seconds(10);
constexpr std::chrono::milliseconds probe_timeout{1000};
constexpr auto join_timeout = std::chrono::seconds(10);
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

void publish_view(cluster_actor* self) {
  auto& s = self->state;
  s.view = s.make_view();
  std::uint64_t counts[4] = {0, 0, 0, 0};
  for (const auto& m : s.members) ++counts[static_cast<int>(m.state)];
  s.counters->members_connecting = counts[static_cast<int>(member_state::connecting)];
  s.counters->members_joining = counts[static_cast<int>(member_state::joining)];
  s.counters->members_up = counts[static_cast<int>(member_state::up)];
  s.counters->members_down = counts[static_cast<int>(member_state::down)];
  self->send(s.registry, view_atom::value, s.view);
}

void become_up(cluster_actor* self) {
  auto& s = self->state;
  if (s.up) return;
  s.up = true;
  log_info("cluster: node '" + s.cfg.node + "' is up and may own topics");
  for (const auto& m : s.members)
    if (m.handle) self->send(m.handle, member_up_atom::value, s.cfg.node);
  publish_view(self);
}

// Each configured peer counts once towards "made first contact", whether it
// answered or not; then this node may own topics.
void reroute_forwards_to(cluster_actor* self, const caf::actor_addr& lost);

void first_contact_made(cluster_actor* self, const std::string& address) {
  auto& s = self->state;
  if (auto* m = s.member_at(address)) m->first_contact_done = true;
  bool pending = std::any_of(s.members.begin(), s.members.end(), [](const cluster_member& m) {
    return m.configured && !m.first_contact_done;
  });
  if (!pending) become_up(self);
}

void schedule_reconnect(cluster_actor* self, const std::string& address) {
  auto* m = self->state.member_at(address);
  if (!m || !m->configured) return;
  m->backoff_ms = m->backoff_ms == 0 ? min_backoff_ms : std::min(m->backoff_ms * 2, max_backoff_ms);
  self->delayed_send(self, std::chrono::milliseconds(m->backoff_ms), connect_retry_atom::value,
                     address);
}

// Records a node that introduced itself; false when it cannot be a member.
// `address` is where we reached it, or where it says it listens.
bool admit(cluster_actor* self, const caf::actor& handle, const std::string& name,
           const std::string& address, bool peer_up) {
  auto& s = self->state;
  if (name == s.cfg.node) {
    log_error("cluster: a node at " + address + " also calls itself '" + name +
              "'; ignoring it (node names must be unique)");
    return false;
  }
  auto unnamed = std::find_if(s.members.begin(), s.members.end(), [&](const cluster_member& m) {
    return m.name.empty() && m.address == address;
  });
  auto* m = s.member_named(name);
  if (m && unnamed != s.members.end()) {
    // Known by name, and also listed as a peer not reached yet: one entry.
    m->address = unnamed->address;
    m->configured = m->configured || unnamed->configured;
    m->first_contact_done = m->first_contact_done || unnamed->first_contact_done;
    s.members.erase(unnamed);
    m = s.member_named(name);
  } else if (!m && unnamed != s.members.end()) {
    m = &*unnamed;
    m->name = name;
  } else if (!m) {
    s.members.push_back(cluster_member{});
    m = &s.members.back();
    m->name = name;
    m->address = address;
  }
  if (m->handle && m->handle != handle) {
    // An older incarnation: what waited for it goes to the current owners.
    auto old = m->handle.address();
    self->demonitor(m->handle);
    m->handle = nullptr;
    reroute_forwards_to(self, old);
  }
  auto previous_state = m->state;
  m->handle = handle;
  m->backoff_ms = 0;
  m->state = peer_up ? member_state::up : member_state::joining;
  self->monitor(handle);
  if (m->state != previous_state)
    log_info("cluster: node '" + name + "' (" + m->address + ") is " +
             member_state_name(m->state));
  publish_view(self);
  return true;
}

void join(cluster_actor* self, const caf::actor& handle, const std::string& address) {
  auto& s = self->state;
  self->request(s.registry, join_timeout, snapshot_atom::value)
      .then(
          [self, handle, address](snapshot_list& mine) {
            auto& s = self->state;
            self->request(handle, join_timeout, join_atom::value, s.cfg.node, s.cfg.listen.text(),
                          s.up, std::move(mine))
                .then(
                    [self, handle, address](const std::string& name, const std::string&,
                                            bool peer_up, snapshot_list& theirs) {
                      auto& s = self->state;
                      if (auto* m = s.member_at(address); m && !m->name.empty() && m->name != name) {
                        // The address now answers as another node: the old name keeps no address.
                        m->address.clear();
                        m->configured = false;
                        s.members.push_back(cluster_member{});
                        s.members.back().address = address;
                        s.members.back().configured = true;
                      }
                      if (admit(self, handle, name, address, peer_up)) {
                        ++s.counters->syncs_received;
                        self->send(s.registry, sync_atom::value, std::move(theirs));
                        // It had no handle for us when we became up meanwhile.
                        if (s.up) self->send(handle, member_up_atom::value, s.cfg.node);
                      }
                      first_contact_made(self, address);
                    },
                    [self, address](const caf::error& error) {
                      first_contact_made(self, address);
                      if (error == caf::sec::invalid_argument) {
                        // It refused us for good (same node name): no point retrying.
                        log_error("cluster: " + address + " refused this node: " +
                                  self->system().render(error) + "; not retrying");
                        return;
                      }
                      log_warning("cluster: joining " + address + " failed: " +
                                  self->system().render(error));
                      schedule_reconnect(self, address);
                    });
          },
          [self, address](const caf::error&) {
            first_contact_made(self, address);
            schedule_reconnect(self, address);
          });
}

std::pair<std::string, std::uint16_t> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  return {address.substr(0, colon),
          static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1)))};
}

// First a quick probe on a thread of its own (see port_probe.hpp); the
// middleman connects only to peers that answer.
void try_connect(cluster_actor* self, const std::string& address) {
  auto* m = self->state.member_at(address);
  if (!m || m->handle) return;
  self->spawn<caf::detached>(
      [](caf::event_based_actor* probe, const std::string& address, const caf::actor& cluster) {
        auto [host, port] = split_address(address);
        probe->send(cluster, probed_atom::value, address,
                    tcp_port_open(host, port, probe_timeout));
      },
      address, caf::actor{self});
}

void connect_probed(cluster_actor* self, const std::string& address) {
  auto* m = self->state.member_at(address);
  if (!m || m->handle) return;
  auto [host, port] = split_address(address);
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, connect_timeout, caf::connect_atom::value, host, port)
      .then(
          [self, address](const caf::node_id& node, caf::strong_actor_ptr& ptr,
                          const std::set<std::string>&) {
            auto& s = self->state;
            if (node == self->node()) {
              // Our own listen address in a shared peer list.
              s.members.erase(std::remove_if(s.members.begin(), s.members.end(),
                                             [&](const cluster_member& x) {
                                               return x.address == address;
                                             }),
                              s.members.end());
              first_contact_made(self, address);
              publish_view(self);
              return;
            }
            auto handle = caf::actor_cast<caf::actor>(ptr);
            if (!handle) {
              first_contact_made(self, address);
              schedule_reconnect(self, address);
              return;
            }
            auto* configured = s.member_at(address);
            auto* known = s.member_with(handle.address());
            if (known && configured && known != configured && configured->name.empty()) {
              // It joined us first under the address it announced: keep one entry.
              known->address = address;
              known->configured = true;
              known->first_contact_done = true;
              s.members.erase(s.members.begin() + (configured - s.members.data()));
              first_contact_made(self, address);
              publish_view(self);
              return;
            }
            if (known) {
              first_contact_made(self, address);
              return;
            }
            join(self, handle, address);
          },
          [self, address](const caf::error&) {
            first_contact_made(self, address);
            schedule_reconnect(self, address);
          });
}

void retry_later(cluster_actor* self, cluster_node_state::pending_publish pending);

void route(cluster_actor* self, cluster_node_state::pending_publish pending) {
  auto& s = self->state;
  if (pending.deadline_ms != 0 && unix_millis_now() > pending.deadline_ms) {
    // Its sender has routed it elsewhere by now.
    pending.promise.deliver(caf::make_error(caf::sec::request_timeout, "forward expired"));
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
          [self, id](const caf::error&) {
            auto it = self->state.forwarding.find(id);
            if (it == self->state.forwarding.end()) return;
            auto again = std::move(it->second.publish);
            self->state.forwarding.erase(it);
            retry_later(self, std::move(again));
          });
  s.forwarding.emplace(id, cluster_node_state::in_flight{std::move(pending), target.address()});
}

void retry_later(cluster_actor* self, cluster_node_state::pending_publish pending) {
  auto& s = self->state;
  bool expired = pending.deadline_ms != 0 &&
                 unix_millis_now() + retry_delay.count() > pending.deadline_ms;
  if (expired || std::chrono::steady_clock::now() + retry_delay >= pending.give_up) {
    pending.promise.deliver(caf::make_error(caf::sec::request_timeout));
    return;
  }
  auto id = s.next_id++;
  s.retries.emplace(id, std::move(pending));
  self->delayed_send(self, retry_delay, publish_retry_atom::value, id);
}

// The owner is gone: what waited for it goes to the new owner now rather
// than when its forward times out.
void reroute_forwards_to(cluster_actor* self, const caf::actor_addr& lost) {
  auto& forwarding = self->state.forwarding;
  std::vector<cluster_node_state::pending_publish> again;
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

}  // namespace

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

caf::behavior cluster_node(caf::stateful_actor<cluster_node_state>* self, cluster_config cfg,
                           caf::actor registry, std::shared_ptr<cluster_counters> counters) {
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
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    auto* m = s.member_with(msg.source);
    if (!m) return;
    log_warning("cluster: lost node '" + m->name + "' (" + m->address + ")");
    m->handle = nullptr;
    m->state = member_state::down;
    auto address = m->address;
    publish_view(self);
    reroute_forwards_to(self, msg.source);
    schedule_reconnect(self, address);
  });
  return {
      [self](start_atom) {
        auto& s = self->state;
        publish_view(self);
        if (s.members.empty()) {
          become_up(self);
          return;
        }
        self->delayed_send(self, first_contact_limit, ready_atom::value);
        std::vector<std::string> addresses;
        for (const auto& m : s.members) addresses.push_back(m.address);
        for (const auto& address : addresses) try_connect(self, address);
      },
      [self](ready_atom) { become_up(self); },
      [self](connect_retry_atom, const std::string& address) { try_connect(self, address); },
      [self](probed_atom, const std::string& address, bool open) {
        if (open) {
          connect_probed(self, address);
          return;
        }
        first_contact_made(self, address);
        schedule_reconnect(self, address);
      },
      [self](join_atom, const std::string& name, const std::string& address, bool peer_up,
             snapshot_list& theirs) {
        auto& s = self->state;
        // Before make_response_promise: CAF 0.17 moves the sender into the promise.
        auto handle = caf::actor_cast<caf::actor>(self->current_sender());
        auto promise = self->make_response_promise();
        if (!handle) {
          promise.deliver(caf::make_error(caf::sec::invalid_argument, "join without a sender"));
          return promise;
        }
        if (!admit(self, handle, name, address, peer_up)) {
          promise.deliver(caf::make_error(caf::sec::invalid_argument, "node name in use"));
          return promise;
        }
        ++s.counters->syncs_received;
        self->send(s.registry, sync_atom::value, std::move(theirs));
        self->request(s.registry, join_timeout, snapshot_atom::value)
            .then(
                [self, promise](snapshot_list& mine) mutable {
                  auto& s = self->state;
                  promise.deliver(s.cfg.node, s.cfg.listen.text(), s.up, std::move(mine));
                },
                [promise](caf::error& error) mutable { promise.deliver(std::move(error)); });
        return promise;
      },
      [self](member_up_atom, const std::string& name) {
        auto* m = self->state.member_named(name);
        if (!m || !m->handle || m->handle.address() != self->current_sender()) return;
        if (m->state == member_state::up) return;
        m->state = member_state::up;
        log_info("cluster: node '" + name + "' is up");
        publish_view(self);
      },
      [self](publish_atom, std::string& topic, std::string& value_json) {
        auto promise = self->make_response_promise();
        route(self, {promise, std::move(topic), std::move(value_json), 0,
                     std::chrono::steady_clock::now() + routing_patience, 0});
        return promise;
      },
      [self](forward_atom, std::string& topic, std::string& value_json, std::uint64_t hops,
             std::int64_t deadline_ms) {
        auto promise = self->make_response_promise();
        if (auto late_ms = unix_millis_now() - deadline_ms; late_ms > 0) {
          log_warning("cluster: refused a publish to '" + topic + "' forwarded " +
                      std::to_string(late_ms) +
                      " ms past its deadline (this node was paused, or the nodes' clocks are "
                      "more than " + std::to_string(forward_timeout_ms) + " ms apart)");
          promise.deliver(caf::make_error(caf::sec::request_timeout, "forward expired"));
          return promise;
        }
        cluster_node_state::pending_publish pending{
            promise, std::move(topic), std::move(value_json), hops,
            std::chrono::steady_clock::now() + routing_patience, deadline_ms};
        route(self, std::move(pending));
        return promise;
      },
      [self](publish_retry_atom, std::uint64_t id) {
        auto it = self->state.retries.find(id);
        if (it == self->state.retries.end()) return;
        auto pending = std::move(it->second);
        self->state.retries.erase(it);
        route(self, std::move(pending));
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
        self->request(self->state.registry, std::chrono::seconds(1), snapshot_atom::value, topics)
            .then([promise](snapshot_list& snapshots) mutable { promise.deliver(std::move(snapshots)); },
                  [promise](caf::error& error) mutable { promise.deliver(std::move(error)); });
        return promise;
      },
      [self](cluster_atom) {
        auto promise = self->make_response_promise<std::string>();
        self->request(self->state.registry, std::chrono::seconds(5), topics_atom::value)
            .then(
                [self, promise](const std::vector<std::string>& topics) mutable {
                  promise.deliver(cluster_status_json(self->state, topics));
                },
                [self, promise](const caf::error&) mutable {
                  promise.deliver(cluster_status_json(self->state, {}));
                });
        return promise;
      },
  };
}

}  // namespace happy
