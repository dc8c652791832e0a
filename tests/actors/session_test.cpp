#include "actors/session.hpp"

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <catch2/catch.hpp>

#include "actor_test_support.hpp"
#include "actors/registry.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

config publish_only_topic(const std::string& name) {
  config cfg;
  cfg.topics[name] = topic_config{};
  return cfg;
}

hub_actor hub_of(caf::scoped_actor& self, const registry_actor& reg, const std::string& topic) {
  hub_actor found;
  self->request(reg, 2s, lookup_atom::value, topic)
      .receive([&](const hub_actor& h, const std::vector<std::string>&) { found = h; },
               [](caf::error&) { FAIL("lookup failed"); });
  return found;
}

std::uint64_t subscribers(caf::scoped_actor& self, const hub_actor& h) {
  std::uint64_t count = 0;
  self->request(h, 2s, stats_atom::value)
      .receive([&](const topic_stats& s) { count = s.subscribers; }, [](caf::error&) {});
  return count;
}

frame frame_with_seq(std::uint64_t seq) {
  return {seq, std::make_shared<const std::string>("{\"seq\":" + std::to_string(seq) + "}")};
}

frame_batch batch_of(std::initializer_list<std::uint64_t> seqs) {
  auto out = std::make_shared<frame_list>();
  for (auto seq : seqs) out->push_back(frame_with_seq(seq));
  return out;
}

// A hub stand-in whose follower holds seqs 8..10, then flushes 11..13 and 14.
caf::behavior lagging_hub(caf::event_based_actor* self, bool shared_log) {
  return {[self, shared_log](subscribe_atom, const session_actor& session, const replay_request&) {
    self->send(session, subscribed_atom::value, frame_list{*batch_of({8, 9, 10})},
               std::uint64_t{10}, shared_log);
    self->send(session, frames_atom::value, batch_of({11, 12, 13}));
    self->send(session, frames_atom::value, batch_of({14}));
  }};
}

caf::behavior registry_of(caf::event_based_actor*, hub_actor only_hub) {
  return {[only_hub](lookup_atom, const std::string&) {
    return caf::result<hub_actor, std::vector<std::string>>{only_hub,
                                                            std::vector<std::string>{"t"}};
  }};
}

std::vector<std::uint64_t> seqs_of(testing::recording_transport& link) {
  std::lock_guard<std::mutex> guard(link.mutex);
  std::vector<std::uint64_t> out;
  for (const auto& f : link.frames) out.push_back(f.seq);
  return out;
}

}  // namespace

TEST_CASE("a session on an unknown topic rejects with 404 listing the known topics") {
  testing::test_system t;
  auto reg = t.system.spawn(registry, publish_only_topic("bench"), registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
  auto link = std::make_shared<testing::recording_transport>();
  t.system.spawn(session, reg, "nope", replay_request::live_only(), link);
  REQUIRE(link->wait_until([&] { return link->refusal.has_value(); }));
  CHECK(link->refusal->why == subscribe_refusal::reason::unknown_topic);
  CHECK(link->refusal->topic == "nope");
  CHECK(link->refusal->known_topics == std::vector<std::string>{"bench"});
  CHECK_FALSE(link->accepted);
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
}

TEST_CASE("a session accepts, replays history, then forwards live frames in order") {
  testing::test_system t;
  auto reg = t.system.spawn(registry, publish_only_topic("bench"), registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
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
  auto reg = t.system.spawn(registry, publish_only_topic("bench"), registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
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
  auto reg = t.system.spawn(registry, publish_only_topic("bench"), registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
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

TEST_CASE("a session ahead of a lagging follower goes live and skips what it saw elsewhere") {
  testing::deterministic_system t;
  auto link = std::make_shared<testing::recording_transport>();
  // A session resuming with since 12 on a hub at seq 10, on JetStream or not.
  auto resume_at_12 = [&](bool shared_log) {
    auto fake_hub = t.system.spawn(lagging_hub, shared_log);
    auto reg = t.system.spawn(registry_of, caf::actor_cast<hub_actor>(fake_hub));
    t.stop_at_end = {fake_hub, reg};  // the session closes when its hub ends
    t.system.spawn(session, caf::actor_cast<registry_actor>(reg), "t",
                   replay_request::since(12), link);
    t.run();
    CHECK(link->accepted);
  };
  SECTION("JetStream: since 12 on a node at 10 is a client that saw 11 and 12 on another node") {
    resume_at_12(true);
    CHECK(seqs_of(*link) == std::vector<std::uint64_t>{13, 14});
    REQUIRE(link->batches.size() == 2);
  }
  SECTION("alone: since beyond the hub's seq means the server restarted, so all is replayed") {
    resume_at_12(false);
    CHECK(seqs_of(*link) == std::vector<std::uint64_t>{8, 9, 10, 11, 12, 13, 14});
  }
}

TEST_CASE("a session hands each batch from its hub to its transport in one call, shared") {
  testing::deterministic_system t;
  auto reg = t.system.spawn(registry, publish_only_topic("bench"), registry_storage{}, std::make_shared<source_counters>(), registry_jetstream{});
  std::vector<std::shared_ptr<testing::recording_transport>> links;
  for (int i = 0; i < 2; ++i) {
    links.push_back(std::make_shared<testing::recording_transport>());
    t.system.spawn(session, reg, "bench", replay_request::live_only(), links.back());
  }
  t.run();
  hub_actor h;
  t.system.spawn(
      [&h](caf::event_based_actor* self, const registry_actor& r) {
        self->request(r, caf::infinite, lookup_atom::value, std::string("bench"))
            .then([&h](const hub_actor& found, const std::vector<std::string>&) { h = found; });
      },
      reg);
  t.run();
  REQUIRE(h);
  for (int i = 0; i < 3; ++i) caf::anon_send(h, publish_atom::value, std::to_string(i));
  t.run();
  for (auto& link : links) {
    CHECK(link->accepted);
    REQUIRE(link->batches.size() == 1);
    CHECK(seqs_of(*link) == std::vector<std::uint64_t>{1, 2, 3});
  }
  CHECK(links[0]->batches[0].get() == links[1]->batches[0].get());
  caf::anon_send_exit(reg, caf::exit_reason::user_shutdown);
  t.run();
  for (auto& link : links) CHECK(link->close_code == close_code::going_away);
}
