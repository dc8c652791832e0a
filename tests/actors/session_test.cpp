#include <catch2/catch.hpp>

#include "actor_test_support.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

config publish_only_topic(const std::string& name) {
  config cfg;
  cfg.topics[name] = topic_config{};
  return cfg;
}

caf::actor hub_of(caf::scoped_actor& self, const caf::actor& reg, const std::string& topic) {
  caf::actor found;
  self->request(reg, 2s, lookup_atom::value, topic)
      .receive([&](const caf::actor& h, const std::vector<std::string>&) { found = h; },
               [](caf::error&) { FAIL("lookup failed"); });
  return found;
}

std::uint64_t subscribers(caf::scoped_actor& self, const caf::actor& h) {
  std::uint64_t count = 0;
  self->request(h, 2s, stats_atom::value)
      .receive([&](const topic_stats& s) { count = s.subscribers; }, [](caf::error&) {});
  return count;
}

}  // namespace

TEST_CASE("a session on an unknown topic rejects with 404 listing the known topics") {
  testing::test_system t;
  auto reg = t.system.spawn(registry, publish_only_topic("bench"), testing::no_cluster);
  auto link = std::make_shared<testing::recording_transport>();
  t.system.spawn(session, reg, "nope", replay_request::live_only(), link);
  REQUIRE(link->wait_until([&] { return link->rejected_status != 0; }));
  CHECK(link->rejected_status == 404);
  CHECK(link->rejected_body == R"({"error":"unknown topic 'nope'","topics":["bench"]})");
  CHECK_FALSE(link->accepted);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("a session accepts, replays history, then forwards live frames in order") {
  testing::test_system t;
  auto reg = t.system.spawn(registry, publish_only_topic("bench"), testing::no_cluster);
  caf::scoped_actor self{t.system};
  auto h = hub_of(self, reg, "bench");
  for (int i = 0; i < 3; ++i) self->send(h, publish_atom::value, std::to_string(i));
  auto link = std::make_shared<testing::recording_transport>();
  t.system.spawn(session, reg, "bench", replay_request::last(2), link);
  REQUIRE(link->wait_until([&] { return link->frames.size() == 2; }));
  CHECK(link->accepted);
  for (int i = 0; i < 3; ++i) self->send(h, publish_atom::value, std::to_string(i));
  REQUIRE(link->wait_until([&] { return link->frames.size() == 5; }));
  std::lock_guard<std::mutex> guard(link->mutex);
  for (std::size_t i = 0; i < link->frames.size(); ++i) CHECK(link->frames[i].seq == i + 2);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("a closed transport makes the session leave its hub") {
  testing::test_system t;
  auto reg = t.system.spawn(registry, publish_only_topic("bench"), testing::no_cluster);
  caf::scoped_actor self{t.system};
  auto h = hub_of(self, reg, "bench");
  auto link = std::make_shared<testing::recording_transport>();
  auto s = t.system.spawn(session, reg, "bench", replay_request::live_only(), link);
  REQUIRE(link->wait_until([&] { return link->accepted; }));
  CHECK(subscribers(self, h) == 1);
  self->send(s, transport_closed_atom::value);
  CHECK(testing::eventually([&] { return subscribers(self, h) == 0; }));
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("stopping the service closes every session's client with 1001 going away") {
  testing::test_system t;
  auto reg = t.system.spawn(registry, publish_only_topic("bench"), testing::no_cluster);
  std::vector<std::shared_ptr<testing::recording_transport>> links;
  for (int i = 0; i < 3; ++i) {
    links.push_back(std::make_shared<testing::recording_transport>());
    t.system.spawn(session, reg, "bench", replay_request::live_only(), links.back());
  }
  for (auto& link : links) REQUIRE(link->wait_until([&] { return link->accepted; }));
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
  for (auto& link : links) {
    REQUIRE(link->wait_until([&] { return link->close_code != 0; }));
    CHECK(link->close_code == close_code::going_away);
    CHECK(link->close_reason == "going away");
  }
}
