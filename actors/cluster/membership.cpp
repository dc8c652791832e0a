#include "actors/cluster/membership.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>

#include <algorithm>
#include <chrono>
#include <set>

#include "actors/cluster/port_probe.hpp"
#include "actors/cluster/routing.hpp"
#include "actors/happy_error.hpp"
#include "log/log.hpp"

namespace happy {

namespace {

// A node that cannot reach all its peers at start still begins owning
// topics after this long, so a lone survivor restarts into a working node.
constexpr auto first_contact_limit = std::chrono::seconds(3);
constexpr std::int64_t min_backoff_ms = 200;
constexpr std::int64_t max_backoff_ms = 2000;
constexpr auto connect_timeout = std::chrono::seconds(10);
constexpr std::chrono::milliseconds probe_timeout{1000};
constexpr auto join_timeout = std::chrono::seconds(10);

void publish_view(cluster_node_pointer self) {
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

// Each configured peer counts once towards "made first contact", whether it
// answered or not; then this node may own topics.
void first_contact_made(cluster_node_pointer self, const std::string& address) {
  auto& s = self->state;
  if (auto* m = s.member_at(address)) m->first_contact_done = true;
  bool pending = std::any_of(s.members.begin(), s.members.end(), [](const cluster_member& m) {
    return m.configured && !m.first_contact_done;
  });
  if (!pending) become_up(self);
}

void schedule_reconnect(cluster_node_pointer self, const std::string& address) {
  auto* m = self->state.member_at(address);
  if (!m || !m->configured) return;
  m->backoff_ms = m->backoff_ms == 0 ? min_backoff_ms : std::min(m->backoff_ms * 2, max_backoff_ms);
  self->delayed_send(self, std::chrono::milliseconds(m->backoff_ms), connect_retry_atom::value,
                     address);
}

// Records a node that introduced itself; false when it cannot be a member.
// `address` is where we reached it, or where it says it listens.
bool admit(cluster_node_pointer self, const cluster_node_actor& handle, const std::string& name,
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
    self->demonitor(m->handle.address());
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

void join(cluster_node_pointer self, const cluster_node_actor& handle, const std::string& address) {
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
                      if (error == happy_errc::node_name_in_use ||
                          error == happy_errc::join_without_sender) {
                        // It refused us for good: no point retrying.
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

void connect_probed(cluster_node_pointer self, const std::string& address) {
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
            auto handle = caf::actor_cast<cluster_node_actor>(ptr);
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

}  // namespace

void start_membership(cluster_node_pointer self) {
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
}

void become_up(cluster_node_pointer self) {
  auto& s = self->state;
  if (s.up) return;
  s.up = true;
  log_info("cluster: node '" + s.cfg.node + "' is up and may own topics");
  for (const auto& m : s.members)
    if (m.handle) self->send(m.handle, member_up_atom::value, s.cfg.node);
  publish_view(self);
}

// First a quick probe on a thread of its own (see port_probe.hpp); the
// middleman connects only to peers that answer.
void try_connect(cluster_node_pointer self, const std::string& address) {
  auto* m = self->state.member_at(address);
  if (!m || m->handle) return;
  self->spawn<caf::detached>(
      [](caf::event_based_actor* probe, const std::string& address,
         const cluster_node_actor& cluster) {
        auto [host, port] = split_address(address);
        probe->send(cluster, probed_atom::value, address,
                    tcp_port_open(host, port, probe_timeout));
      },
      address, cluster_node_actor{self});
}

void probed(cluster_node_pointer self, const std::string& address, bool open) {
  if (open) {
    connect_probed(self, address);
    return;
  }
  first_contact_made(self, address);
  schedule_reconnect(self, address);
}

caf::typed_response_promise<std::string, std::string, bool, snapshot_list> answer_join(
    cluster_node_pointer self, const std::string& name, const std::string& address, bool peer_up,
    snapshot_list theirs) {
  auto& s = self->state;
  // Before make_response_promise: CAF 0.17 moves the sender into the promise.
  auto handle = caf::actor_cast<cluster_node_actor>(self->current_sender());
  auto promise = self->make_response_promise<std::string, std::string, bool, snapshot_list>();
  if (!handle) {
    promise.deliver(make_error(happy_errc::join_without_sender));
    return promise;
  }
  if (!admit(self, handle, name, address, peer_up)) {
    promise.deliver(make_error(happy_errc::node_name_in_use));
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
}

void member_up(cluster_node_pointer self, const std::string& name) {
  auto* m = self->state.member_named(name);
  if (!m || !m->handle || m->handle.address() != self->current_sender()) return;
  if (m->state == member_state::up) return;
  m->state = member_state::up;
  log_info("cluster: node '" + name + "' is up");
  publish_view(self);
}

void member_lost(cluster_node_pointer self, const caf::actor_addr& source) {
  auto& s = self->state;
  auto* m = s.member_with(source);
  if (!m) return;
  log_warning("cluster: lost node '" + m->name + "' (" + m->address + ")");
  m->handle = nullptr;
  m->state = member_state::down;
  auto address = m->address;
  publish_view(self);
  reroute_forwards_to(self, source);
  schedule_reconnect(self, address);
}

}  // namespace happy
