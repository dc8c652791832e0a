#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/event_based_actor.hpp>

#include <map>

#include "../actor_test_support.hpp"
#include "actors/cluster/cluster_messages.hpp"
#include "actors/cluster/cluster_view.hpp"
#include "actors/cluster/port_probe.hpp"
#include "actors/cluster/rendezvous.hpp"
#include "actors/registry.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

cluster_node_actor node_stand_in(caf::scoped_actor& stand_in) {
  return caf::actor_cast<cluster_node_actor>(caf::actor{stand_in});
}

std::vector<std::string> keys(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("topic-" + std::to_string(i));
  return out;
}

std::uint64_t topic_seq(caf::scoped_actor& self, const registry_actor& reg, const std::string& name) {
  std::uint64_t seq = 0;
  self->request(reg, 2s, stats_atom::value)
      .receive(
          [&](const std::vector<topic_stats>& stats) {
            for (const auto& s : stats)
              if (s.name == name) seq = s.seq;
          },
          [](caf::error&) { FAIL("no stats"); });
  return seq;
}

}  // namespace

TEST_CASE("rendezvous ownership is the same whatever order the members are listed in") {
  std::vector<std::string> abc{"a", "b", "c"}, cab{"c", "a", "b"};
  for (const auto& key : keys(200)) CHECK(rendezvous_owner(abc, key) == rendezvous_owner(cab, key));
  CHECK(rendezvous_owner({}, "x").empty());
}

TEST_CASE("rendezvous ownership spreads topics over the nodes") {
  std::map<std::string, int> owned;
  for (const auto& key : keys(3000)) ++owned[rendezvous_owner({"node-1", "node-2", "node-3"}, key)];
  REQUIRE(owned.size() == 3);
  for (const auto& [node, count] : owned) {
    CHECK(count > 800);  // a fair share is 1000
    CHECK(count < 1200);
  }
}

TEST_CASE("losing a node moves only the topics it owned") {
  std::vector<std::string> all{"a", "b", "c"}, without_b{"a", "c"};
  int moved = 0;
  for (const auto& key : keys(1000)) {
    auto before = rendezvous_owner(all, key);
    auto after = rendezvous_owner(without_b, key);
    if (before != "b") CHECK(before == after);
    if (before != after) ++moved;
  }
  CHECK(moved > 250);
  CHECK(moved < 420);
}

TEST_CASE("a single node owns everything, a cluster node owns nothing until a node is up") {
  cluster_view single;
  single.self = "a";
  CHECK(single.owns("anything"));
  cluster_view joining{"a", {}, {}, true};
  CHECK_FALSE(joining.owns("anything"));
  CHECK(joining.owner_of("anything").empty());
  cluster_view others_up{"a", {"b"}, {}, true};
  CHECK_FALSE(others_up.owns("anything"));
  CHECK(others_up.owner_of("anything") == "b");
}

TEST_CASE("the registry runs a topic's generator only while this node owns the topic") {
  testing::test_system t;
  config cfg;
  generator_config fast;
  fast.interval_ms = 10;
  cfg.topics["gen"].generator = fast;
  caf::scoped_actor self{t.system};
  auto reg = t.system.spawn(registry, cfg, testing::no_cluster, registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
  REQUIRE(testing::eventually([&] { return topic_seq(self, reg, "gen") > 3; }));
  // Another node owns every topic: this node's generator stops. A reading it
  // sent just before may still land; after that, twenty intervals pass
  // without one (a window to watch, not a wait for something to happen).
  caf::scoped_actor other_node{t.system};
  self->send(reg, view_atom::value, cluster_view{"a", {"b"}, {{"b", node_stand_in(other_node)}}, true});
  std::this_thread::sleep_for(50ms);
  auto stopped_at = topic_seq(self, reg, "gen");
  std::this_thread::sleep_for(200ms);
  CHECK(topic_seq(self, reg, "gen") == stopped_at);
  // b is gone: this node owns the topic again and continues the seq.
  self->send(reg, view_atom::value, cluster_view{"a", {"a"}, {}, true});
  CHECK(testing::eventually([&] { return topic_seq(self, reg, "gen") > stopped_at + 3; }));
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("a new owner holds publishes until the other nodes' histories are in, then continues") {
  testing::test_system t;
  config cfg;
  cfg.topics["orders"] = topic_config{};
  caf::scoped_actor self{t.system};
  auto reg = t.system.spawn(registry, cfg, testing::no_cluster, registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
  caf::scoped_actor peer{t.system};
  // b owned the topic and took it to seq 50; now this node, a, owns it.
  self->send(reg, view_atom::value, cluster_view{"a", {"b"}, {{"b", node_stand_in(peer)}}, true});
  self->send(reg, view_atom::value,
             cluster_view{"a", {"a"}, {{"b", node_stand_in(peer)}}, true});
  std::uint64_t seq = 0;
  auto waiting = t.system.spawn(
      [&seq](caf::event_based_actor* me, registry_actor target) {
        me->request(target, 5s, publish_atom::value, std::string("orders"), std::string("1"))
            .then([&seq](std::uint64_t s) { seq = s; });
      },
      reg);
  // The peer is asked for its history of the topics this node gained.
  bool asked = false;
  peer->receive(
      [&](snapshot_atom, const std::vector<std::string>& topics) {
        asked = true;
        CHECK(topics == std::vector<std::string>{"orders"});
        CHECK(seq == 0);  // held meanwhile
        return snapshot_list{topic_snapshot{"orders", 50, {49, 50}, {"x", "y"}}};
      },
      caf::after(2s) >> [] {});
  REQUIRE(asked);
  CHECK(testing::eventually([&] { return seq != 0; }));
  CHECK(seq == 51);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("readings replicated from an owner create the topic on a member") {
  testing::test_system t;
  caf::scoped_actor self{t.system};
  config cfg;
  auto reg = t.system.spawn(registry, cfg, testing::no_cluster, registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
  self->send(reg, replica_atom::value, std::string("orders"), std::uint64_t{41},
             std::string(R"({"orders":1,"topic":"orders","seq":41,"ts":1})"));
  // The stats request queues behind the replica in the registry's mailbox.
  CHECK(topic_seq(self, reg, "orders") == 41);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("the port probe tells a listening port from a closed one") {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  auto port = ntohs(address.sin_port);
  CHECK(tcp_port_open("127.0.0.1", port, 500ms));
  ::close(listener);
  CHECK_FALSE(tcp_port_open("127.0.0.1", port, 500ms));
  CHECK_FALSE(tcp_port_open("no-such-host.invalid", 4710, 500ms));
}
