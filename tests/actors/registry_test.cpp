#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "actor_test_support.hpp"
#include "actors/registry.hpp"
#include "actors/topic_list_json.hpp"

using namespace happy;
using namespace std::chrono_literals;

TEST_CASE("the registry lists every configured topic with seq, subscribers and interval") {
  testing::test_system t;
  config cfg;
  generator_config fast;
  fast.interval_ms = 20;
  cfg.topics["happiness"].generator = fast;
  cfg.topics["bench"] = topic_config{};
  auto reg = t.system.spawn(registry, cfg, testing::no_cluster);
  caf::scoped_actor self{t.system};
  std::string json;
  // Until its generator has ticked a few times.
  REQUIRE(testing::eventually([&] {
    std::vector<topic_stats> stats;
    self->request(reg, 2s, stats_atom::value)
        .receive([&](const std::vector<topic_stats>& s) { stats = s; },
                 [](caf::error&) { FAIL("no stats"); });
    json = topic_list_json(stats);
    return stats.size() == 2 && stats[1].seq >= 3;
  }));
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE(d.IsArray());
  REQUIRE(d.Size() == 2);
  CHECK(std::string(d[0]["name"].GetString()) == "bench");
  CHECK(d[0]["interval_ms"].IsNull());
  CHECK(d[0]["seq"].GetUint64() == 0);
  CHECK(std::string(d[1]["name"].GetString()) == "happiness");
  CHECK(d[1]["interval_ms"].GetInt64() == 20);
  CHECK(d[1]["seq"].GetUint64() >= 3);  // its generator is running
  CHECK(d[1]["subscribers"].GetUint64() == 0);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("lookup answers the hub of a known topic and nothing for an unknown one") {
  testing::test_system t;
  config cfg;
  cfg.topics["bench"] = topic_config{};
  auto reg = t.system.spawn(registry, cfg, testing::no_cluster);
  caf::scoped_actor self{t.system};
  for (auto [topic, expect_found] : {std::pair{"bench", true}, std::pair{"other", false}}) {
    self->request(reg, 2s, lookup_atom::value, std::string(topic))
        .receive(
            [&](const caf::actor& h, const std::vector<std::string>& known) {
              CHECK(static_cast<bool>(h) == expect_found);
              CHECK(known == std::vector<std::string>{"bench"});
            },
            [](caf::error&) { FAIL("lookup failed"); });
  }
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

namespace {

std::vector<topic_stats> stats_of(caf::scoped_actor& self, const caf::actor& reg) {
  std::vector<topic_stats> out;
  self->request(reg, 2s, stats_atom::value)
      .receive([&](const std::vector<topic_stats>& s) { out = s; }, [](caf::error&) {});
  return out;
}

}  // namespace

TEST_CASE("reload adds, removes and retunes topics without touching the others") {
  testing::test_system t;
  config before;
  generator_config slow;
  slow.interval_ms = 1000;
  before.topics["steady"] = topic_config{};
  before.topics["tuned"].generator = slow;
  before.topics["doomed"] = topic_config{};
  auto reg = t.system.spawn(registry, before, testing::no_cluster);
  caf::scoped_actor self{t.system};
  caf::actor steady_hub;
  self->request(reg, 2s, lookup_atom::value, std::string("steady"))
      .receive([&](const caf::actor& h, const std::vector<std::string>&) { steady_hub = h; },
               [](caf::error&) {});
  caf::actor doomed_hub;
  self->request(reg, 2s, lookup_atom::value, std::string("doomed"))
      .receive([&](const caf::actor& h, const std::vector<std::string>&) { doomed_hub = h; },
               [](caf::error&) {});
  self->monitor(doomed_hub);

  config after = before;
  after.topics.erase("doomed");
  after.topics["tuned"].generator->interval_ms = 20;
  after.topics["fresh"] = topic_config{};
  self->send(reg, reload_atom::value, after);

  // The removed topic's hub ends normally (its sessions close with 1000).
  self->receive([&](const caf::down_msg& down) { CHECK_FALSE(down.reason); },
                caf::after(2s) >> [] { FAIL("removed hub still running"); });
  std::vector<topic_stats> stats;
  REQUIRE(testing::eventually([&] {  // until the retuned generator has ticked at 20 ms
    stats = stats_of(self, reg);
    return stats.size() == 3 && stats[2].seq >= 8;
  }));
  CHECK(stats[0].name == "fresh");
  CHECK(stats[1].name == "steady");
  CHECK(stats[2].name == "tuned");
  CHECK(stats[2].generator_interval_ms == 20);
  CHECK(stats[2].seq >= 8);  // 20 ms now, not 1000 ms
  // The untouched topic's hub is the same actor.
  caf::actor steady_after;
  self->request(reg, 2s, lookup_atom::value, std::string("steady"))
      .receive([&](const caf::actor& h, const std::vector<std::string>&) { steady_after = h; },
               [](caf::error&) {});
  CHECK(steady_after == steady_hub);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}
