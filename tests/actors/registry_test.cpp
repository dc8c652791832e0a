#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "actor_test_support.hpp"
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
  auto reg = t.system.spawn(registry, cfg);
  caf::scoped_actor self{t.system};
  std::this_thread::sleep_for(200ms);
  std::string json;
  self->request(reg, 2s, list_atom::value)
      .receive([&](const std::string& text) { json = text; }, [](caf::error&) { FAIL("no list"); });
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
  auto reg = t.system.spawn(registry, cfg);
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
