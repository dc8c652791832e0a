#include <catch2/catch.hpp>

#include <map>

#include "actor_test_support.hpp"
#include "actors/cluster_messages.hpp"
#include "actors/registry.hpp"
#include "actors/rendezvous.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> keys(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("topic-" + std::to_string(i));
  return out;
}

std::uint64_t topic_seq(caf::scoped_actor& self, const caf::actor& reg, const std::string& name) {
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

TEST_CASE("a view with no eligible node leaves every topic to this node") {
  cluster_view view;
  view.self = "a";
  CHECK(view.owns("anything"));
  view.owners = {"b"};
  CHECK_FALSE(view.owns("anything"));
  CHECK(view.owner_of("anything") == "b");
}

TEST_CASE("the registry runs a topic's generator only while this node owns the topic") {
  testing::test_system t;
  config cfg;
  generator_config fast;
  fast.interval_ms = 10;
  cfg.topics["gen"].generator = fast;
  caf::scoped_actor self{t.system};
  auto reg = t.system.spawn(registry, cfg, testing::no_cluster);
  // Another node owns every topic: this node's generator stops.
  caf::scoped_actor other_node{t.system};
  cluster_view elsewhere{"a", {"b"}, {{"b", caf::actor{other_node}}}};
  self->send(reg, view_atom::value, elsewhere);
  std::this_thread::sleep_for(100ms);
  auto stopped_at = topic_seq(self, reg, "gen");
  std::this_thread::sleep_for(200ms);
  CHECK(topic_seq(self, reg, "gen") == stopped_at);
  // The topic's owner moved to b, so b gets this node's history of it.
  bool synced = false;
  other_node->receive(
      [&](sync_atom, const snapshot_list& snapshots) {
        REQUIRE(snapshots.size() == 1);
        CHECK(snapshots[0].topic == "gen");
        CHECK(snapshots[0].seq == stopped_at);
        synced = true;
      },
      caf::after(2s) >> [] {});
  CHECK(synced);
  // b is gone: this node owns the topic again and continues the seq.
  self->send(reg, view_atom::value, cluster_view{"a", {"a"}, {}});
  std::this_thread::sleep_for(200ms);
  CHECK(topic_seq(self, reg, "gen") > stopped_at + 3);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("readings replicated from an owner create the topic on a member") {
  testing::test_system t;
  caf::scoped_actor self{t.system};
  config cfg;
  auto reg = t.system.spawn(registry, cfg, testing::no_cluster);
  self->send(reg, replica_atom::value, std::string("orders"), std::uint64_t{41},
             std::string(R"({"orders":1,"topic":"orders","seq":41,"ts":1})"));
  std::this_thread::sleep_for(100ms);
  CHECK(topic_seq(self, reg, "orders") == 41);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}
