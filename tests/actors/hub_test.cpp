#include <caf/event_based_actor.hpp>
#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "actor_test_support.hpp"
#include "actors/hub.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

// Subscribes `who` and returns the replay the hub answered with.
frame_list subscribe(caf::scoped_actor& who, const caf::actor& hub_actor, replay_request r) {
  frame_list replay;
  who->send(hub_actor, subscribe_atom::value, r);
  who->receive([&](subscribed_atom, const frame_list& frames) { replay = frames; },
               caf::after(2s) >> [] { FAIL("no subscribed reply"); });
  return replay;
}

std::uint64_t publish(caf::scoped_actor& who, const caf::actor& hub_actor, std::string value) {
  std::uint64_t seq = 0;
  who->request(hub_actor, 2s, publish_atom::value, std::move(value))
      .receive([&](std::uint64_t s) { seq = s; }, [](caf::error&) { FAIL("publish failed"); });
  return seq;
}

frame next_frame(caf::scoped_actor& who) {
  frame out;
  who->receive([&](const frame& f) { out = f; }, caf::after(2s) >> [] { FAIL("no frame"); });
  return out;
}

topic_stats stats(caf::scoped_actor& who, const caf::actor& hub_actor) {
  topic_stats out;
  who->request(hub_actor, 2s, stats_atom::value)
      .receive([&](const topic_stats& s) { out = s; }, [](caf::error&) { FAIL("no stats"); });
  return out;
}

}  // namespace

TEST_CASE("hub fans one shared serialized frame out to every subscriber") {
  testing::test_system t;
  auto h = t.system.spawn(hub, "happiness", 100, 0);
  caf::scoped_actor a{t.system}, b{t.system}, c{t.system}, publisher{t.system};
  for (auto* s : {&a, &b, &c}) CHECK(subscribe(*s, h, replay_request::live_only()).empty());
  REQUIRE(publish(publisher, h, "7.25") == 1);
  auto fa = next_frame(a), fb = next_frame(b), fc = next_frame(c);
  CHECK(fa.seq == 1);
  // Serialized once: every session holds the very same string.
  CHECK(fa.json.get() == fb.json.get());
  CHECK(fb.json.get() == fc.json.get());
  rapidjson::Document d;
  d.Parse(fa.json->c_str());
  REQUIRE(d.IsObject());
  CHECK(d["happiness"].GetDouble() == 7.25);
  CHECK(std::string(d["topic"].GetString()) == "happiness");
  CHECK(d["seq"].GetUint64() == 1);
  CHECK(d["ts"].GetInt64() > 1700000000000);
  CHECK(d.MemberCount() == 4);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("seq starts at 1 and increases by 1 per reading") {
  testing::test_system t;
  auto h = t.system.spawn(hub, "t", 10, 0);
  caf::scoped_actor self{t.system};
  for (std::uint64_t expected = 1; expected <= 5; ++expected)
    CHECK(publish(self, h, "1") == expected);
  CHECK(stats(self, h).seq == 5);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("since and last replay exactly the right envelopes, then live ones follow") {
  testing::test_system t;
  auto h = t.system.spawn(hub, "t", 3, 0);
  caf::scoped_actor publisher{t.system}, since_sub{t.system}, last_sub{t.system};
  for (int i = 0; i < 5; ++i) publish(publisher, h, std::to_string(i));
  auto from_since = subscribe(since_sub, h, replay_request::since(3));
  REQUIRE(from_since.size() == 2);
  CHECK(from_since[0].seq == 4);
  CHECK(from_since[1].seq == 5);
  auto from_last = subscribe(last_sub, h, replay_request::last(10));  // history holds only 3
  REQUIRE(from_last.size() == 3);
  CHECK(from_last.front().seq == 3);
  publish(publisher, h, "9");
  CHECK(next_frame(since_sub).seq == 6);
  CHECK(next_frame(last_sub).seq == 6);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a session that dies is removed from the hub via its down message") {
  testing::test_system t;
  auto h = t.system.spawn(hub, "t", 10, 0);
  // A session stand-in that joins the hub and then ends without unsubscribing.
  auto mortal = t.system.spawn([](caf::event_based_actor* self, const caf::actor& target) -> caf::behavior {
    self->send(target, subscribe_atom::value, replay_request::live_only());
    return {[self](subscribed_atom, const frame_list&) { self->quit(); }};
  }, h);
  caf::scoped_actor observer{t.system};
  CHECK(testing::eventually([&] { return stats(observer, h).subscribers == 0; }));
  // It did subscribe: a living subscriber next to it is counted.
  subscribe(observer, h, replay_request::live_only());
  CHECK(stats(observer, h).subscribers == 1);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("unsubscribe stops delivery to that subscriber only") {
  testing::test_system t;
  auto h = t.system.spawn(hub, "t", 10, 0);
  caf::scoped_actor stays{t.system}, leaves{t.system}, publisher{t.system};
  subscribe(stays, h, replay_request::live_only());
  subscribe(leaves, h, replay_request::live_only());
  CHECK(stats(publisher, h).subscribers == 2);
  leaves->send(h, unsubscribe_atom::value);
  CHECK(testing::eventually([&] { return stats(publisher, h).subscribers == 1; }));
  publish(publisher, h, "1");
  CHECK(next_frame(stays).seq == 1);
  bool leaked = false;
  leaves->receive([&](const frame&) { leaked = true; }, caf::after(100ms) >> [] {});
  CHECK_FALSE(leaked);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}
