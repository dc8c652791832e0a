#include <catch2/catch.hpp>

#include "actor_test_support.hpp"
#include "actors/happy_error.hpp"
#include "actors/registry.hpp"

using namespace happy;
using namespace std::chrono_literals;

TEST_CASE("the registry lists every configured topic with seq, subscribers and interval") {
  testing::test_system t;
  config cfg;
  generator_config fast;
  fast.interval_ms = 20;
  cfg.topics["happiness"].generator = fast;
  cfg.topics["bench"] = topic_config{};
  auto reg = t.system.spawn(registry, cfg, registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
  caf::scoped_actor self{t.system};
  std::vector<topic_stats> stats;
  // Until its generator has ticked a few times.
  REQUIRE(testing::eventually([&] {
    self->request(reg, 2s, stats_atom::value)
        .receive([&](const std::vector<topic_stats>& s) { stats = s; },
                 [](caf::error&) { FAIL("no stats"); });
    return stats.size() == 2 && stats[1].seq >= 3;
  }));
  CHECK(stats[0].name == "bench");
  CHECK(stats[0].generator_interval_ms == 0);
  CHECK(stats[0].seq == 0);
  CHECK(stats[1].name == "happiness");
  CHECK(stats[1].generator_interval_ms == 20);
  CHECK(stats[1].seq >= 3);  // its generator is running
  CHECK(stats[1].subscribers == 0);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("lookup answers the hub of a known topic and nothing for an unknown one") {
  testing::test_system t;
  config cfg;
  cfg.topics["bench"] = topic_config{};
  auto reg = t.system.spawn(registry, cfg, registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
  caf::scoped_actor self{t.system};
  for (auto [topic, expect_found] : {std::pair{"bench", true}, std::pair{"other", false}}) {
    self->request(reg, 2s, lookup_atom::value, std::string(topic))
        .receive(
            [&](const hub_actor& h, const std::vector<std::string>& known) {
              CHECK(static_cast<bool>(h) == expect_found);
              CHECK(known == std::vector<std::string>{"bench"});
            },
            [](caf::error&) { FAIL("lookup failed"); });
  }
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

namespace {

std::vector<topic_stats> stats_of(caf::scoped_actor& self, const registry_actor& reg) {
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
  auto reg = t.system.spawn(registry, before, registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
  caf::scoped_actor self{t.system};
  hub_actor steady_hub;
  self->request(reg, 2s, lookup_atom::value, std::string("steady"))
      .receive([&](const hub_actor& h, const std::vector<std::string>&) { steady_hub = h; },
               [](caf::error&) {});
  hub_actor doomed_hub;
  self->request(reg, 2s, lookup_atom::value, std::string("doomed"))
      .receive([&](const hub_actor& h, const std::vector<std::string>&) { doomed_hub = h; },
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
  hub_actor steady_after;
  self->request(reg, 2s, lookup_atom::value, std::string("steady"))
      .receive([&](const hub_actor& h, const std::vector<std::string>&) { steady_after = h; },
               [](caf::error&) {});
  CHECK(steady_after == steady_hub);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("a publish that would exceed limits.max_topics is refused with topic_limit") {
  testing::test_system t;
  config cfg;
  cfg.limits.max_topics = 1;
  cfg.topics["bench"] = topic_config{};
  auto reg = t.system.spawn(registry, cfg, registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
  caf::scoped_actor self{t.system};
  self->request(reg, 2s, publish_atom::value, std::string("bench"), std::string("1"))
      .receive([](std::uint64_t seq) { CHECK(seq == 1); },
               [](caf::error& e) { FAIL("publish to a known topic failed: " << to_string(e)); });
  caf::error refusal;
  self->request(reg, 2s, publish_atom::value, std::string("new"), std::string("1"))
      .receive([](std::uint64_t) { FAIL("a second topic was created"); },
               [&](caf::error& e) { refusal = e; });
  CHECK(refusal == make_error(happy_errc::topic_limit));
  CHECK(stats_of(self, reg).size() == 1);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}
