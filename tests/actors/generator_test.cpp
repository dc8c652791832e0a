#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "actor_test_support.hpp"
#include "actors/generator.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

// Counts the publish messages a generator sends to `hub_stand_in` during `window`.
std::vector<double> collect(caf::scoped_actor& hub_stand_in, std::chrono::milliseconds window) {
  std::vector<double> values;
  auto deadline = std::chrono::steady_clock::now() + window;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    hub_stand_in->receive(
        [&](publish_atom, const std::string& json) {
          rapidjson::Document d;
          d.Parse(json.c_str());
          REQUIRE(d.IsNumber());
          values.push_back(d.GetDouble());
        },
        caf::after(left) >> [] {});
  }
  return values;
}

}  // namespace

TEST_CASE("a 50 ms generator publishes about 20 readings per second") {
  testing::test_system t;
  caf::scoped_actor hub_stand_in{t.system};
  generator_config cfg;
  cfg.interval_ms = 50;
  auto g = t.system.spawn(generator, caf::actor_cast<hub_actor>(caf::actor{hub_stand_in}), cfg);
  auto values = collect(hub_stand_in, 1000ms);
  CHECK(values.size() >= 17);
  CHECK(values.size() <= 22);
  for (double v : values) {
    CHECK(v >= 0);
    CHECK(v < 10);
  }
  caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
}

TEST_CASE("reconfigure changes the cadence and distribution live") {
  testing::test_system t;
  caf::scoped_actor hub_stand_in{t.system};
  generator_config cfg;
  cfg.interval_ms = 200;
  auto g = t.system.spawn(generator, caf::actor_cast<hub_actor>(caf::actor{hub_stand_in}), cfg);
  CHECK(collect(hub_stand_in, 500ms).size() <= 3);
  cfg.interval_ms = 20;
  cfg.min = 100;
  cfg.max = 101;
  hub_stand_in->send(g, reconfigure_atom::value, cfg);
  collect(hub_stand_in, 50ms);  // drop what was already in flight
  auto fast = collect(hub_stand_in, 500ms);
  CHECK(fast.size() >= 18);
  for (double v : fast) CHECK(v >= 100);
  caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
}
