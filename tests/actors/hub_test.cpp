#include <caf/event_based_actor.hpp>
#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <algorithm>

#include "actor_test_support.hpp"
#include "actors/hub.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

using testing::recording_transport;

// A session stand-in: subscribes `link` to the hub in its own name and stays
// until told to leave or to end.
caf::actor subscriber(testing::test_system& t, const caf::actor& hub_actor, replay_request r,
                      std::shared_ptr<recording_transport> link) {
  return t.system.spawn(
      [](caf::event_based_actor* self, caf::actor target, replay_request request,
         std::shared_ptr<transport> to) -> caf::behavior {
        self->send(target, subscribe_atom::value, request, to);
        return {
            [self, target](unsubscribe_atom) { self->send(target, unsubscribe_atom::value); },
            [self](remove_atom) { self->quit(); },
        };
      },
      hub_actor, r, std::shared_ptr<transport>(link));
}

// Keeps the stand-ins alive: CAF ends an actor nobody holds a handle to.
struct stand_ins {
  std::vector<caf::actor> actors;
};

// Subscribes a new stand-in and returns its transport once the hub accepted it.
std::shared_ptr<recording_transport> subscribe(testing::test_system& t, const caf::actor& hub_actor,
                                               replay_request r, stand_ins& keep,
                                               caf::actor* session = nullptr) {
  auto link = std::make_shared<recording_transport>();
  auto s = subscriber(t, hub_actor, r, link);
  keep.actors.push_back(s);
  if (session) *session = s;
  REQUIRE(link->wait_until([&] { return link->accepted; }));
  return link;
}

std::vector<frame> frames_of(recording_transport& link) {
  std::lock_guard<std::mutex> guard(link.mutex);
  return link.frames;
}

std::uint64_t publish(caf::scoped_actor& who, const caf::actor& hub_actor, std::string value) {
  std::uint64_t seq = 0;
  who->request(hub_actor, 2s, publish_atom::value, std::move(value))
      .receive([&](std::uint64_t s) { seq = s; }, [](caf::error&) { FAIL("publish failed"); });
  return seq;
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
  stand_ins keep;
  auto h = t.system.spawn(hub, "happiness", 100, 0, testing::no_cluster);
  caf::scoped_actor publisher{t.system};
  std::vector<std::shared_ptr<recording_transport>> links;
  for (int i = 0; i < 3; ++i) links.push_back(subscribe(t, h, replay_request::live_only(), keep));
  for (auto& link : links) CHECK(frames_of(*link).empty());
  REQUIRE(publish(publisher, h, "7.25") == 1);
  for (auto& link : links) REQUIRE(link->wait_until([&] { return link->frames.size() == 1; }));
  auto fa = frames_of(*links[0])[0], fb = frames_of(*links[1])[0], fc = frames_of(*links[2])[0];
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
  stand_ins keep;
  auto h = t.system.spawn(hub, "t", 10, 0, testing::no_cluster);
  caf::scoped_actor self{t.system};
  for (std::uint64_t expected = 1; expected <= 5; ++expected)
    CHECK(publish(self, h, "1") == expected);
  CHECK(stats(self, h).seq == 5);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("since and last replay exactly the right envelopes, then live ones follow") {
  testing::test_system t;
  stand_ins keep;
  auto h = t.system.spawn(hub, "t", 3, 0, testing::no_cluster);
  caf::scoped_actor publisher{t.system};
  for (int i = 0; i < 5; ++i) publish(publisher, h, std::to_string(i));
  auto since_link = subscribe(t, h, replay_request::since(3), keep);
  auto from_since = frames_of(*since_link);
  REQUIRE(from_since.size() == 2);
  CHECK(from_since[0].seq == 4);
  CHECK(from_since[1].seq == 5);
  auto last_link = subscribe(t, h, replay_request::last(10), keep);  // history holds only 3
  auto from_last = frames_of(*last_link);
  REQUIRE(from_last.size() == 3);
  CHECK(from_last.front().seq == 3);
  publish(publisher, h, "9");
  REQUIRE(since_link->wait_until([&] { return since_link->frames.size() == 3; }));
  REQUIRE(last_link->wait_until([&] { return last_link->frames.size() == 4; }));
  CHECK(frames_of(*since_link).back().seq == 6);
  CHECK(frames_of(*last_link).back().seq == 6);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a session that dies is removed from the hub via its down message") {
  testing::test_system t;
  stand_ins keep;
  auto h = t.system.spawn(hub, "t", 10, 0, testing::no_cluster);
  caf::scoped_actor observer{t.system};
  caf::actor mortal;
  auto mortal_link = subscribe(t, h, replay_request::live_only(), keep, &mortal);
  auto living_link = subscribe(t, h, replay_request::live_only(), keep);
  CHECK(stats(observer, h).subscribers == 2);
  // It ends without unsubscribing.
  keep.actors.erase(std::find(keep.actors.begin(), keep.actors.end(), mortal));
  caf::anon_send(mortal, remove_atom::value);
  mortal = nullptr;
  CHECK(testing::eventually([&] { return stats(observer, h).subscribers == 1; }));
  publish(observer, h, "1");
  REQUIRE(living_link->wait_until([&] { return living_link->frames.size() == 1; }));
  CHECK(frames_of(*mortal_link).empty());
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("unsubscribe stops delivery to that subscriber only") {
  testing::test_system t;
  stand_ins keep;
  auto h = t.system.spawn(hub, "t", 10, 0, testing::no_cluster);
  caf::scoped_actor publisher{t.system};
  caf::actor leaver;
  auto stays = subscribe(t, h, replay_request::live_only(), keep);
  auto leaves = subscribe(t, h, replay_request::live_only(), keep, &leaver);
  CHECK(stats(publisher, h).subscribers == 2);
  caf::anon_send(leaver, unsubscribe_atom::value);
  CHECK(testing::eventually([&] { return stats(publisher, h).subscribers == 1; }));
  publish(publisher, h, "1");
  REQUIRE(stays->wait_until([&] { return stays->frames.size() == 1; }));
  CHECK(frames_of(*stays)[0].seq == 1);
  CHECK_FALSE(leaves->wait_until([&] { return !leaves->frames.empty(); }, 100ms));
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("in a cluster the owner's hub sends each accepted envelope to every member") {
  testing::test_system t;
  auto h = t.system.spawn(hub, "orders", 100, 0, testing::no_cluster);
  caf::scoped_actor member{t.system};
  caf::scoped_actor self{t.system};
  self->send(h, view_atom::value, std::vector<caf::actor>{caf::actor{member}});
  auto seq = publish(self, h, "7");
  CHECK(seq == 1);
  bool got = false;
  member->receive(
      [&](replica_atom, const std::string& topic, std::uint64_t replica_seq,
          const std::string& envelope) {
        got = true;
        CHECK(topic == "orders");
        CHECK(replica_seq == 1);
        CHECK_THAT(envelope, Catch::StartsWith(R"({"orders":7,"topic":"orders","seq":1,"ts":)"));
      },
      caf::after(2s) >> [] {});
  CHECK(got);
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a member's hub shows the owner's envelopes live, fills gaps quietly, drops repeats") {
  testing::test_system t;
  stand_ins keep;
  auto h = t.system.spawn(hub, "orders", 100, 0, testing::no_cluster);
  auto link = subscribe(t, h, replay_request::live_only(), keep);
  caf::scoped_actor self{t.system};
  self->send(h, replica_atom::value, std::uint64_t{5}, std::string(R"({"seq":5})"));
  self->send(h, replica_atom::value, std::uint64_t{3}, std::string(R"({"seq":3})"));  // late copy
  self->send(h, replica_atom::value, std::uint64_t{5}, std::string(R"({"seq":5})"));  // repeat
  self->send(h, replica_atom::value, std::uint64_t{6}, std::string(R"({"seq":6})"));
  REQUIRE(link->wait_until([&] { return link->frames.size() >= 2; }));
  std::this_thread::sleep_for(50ms);
  auto live = frames_of(*link);
  REQUIRE(live.size() == 2);
  CHECK(live[0].seq == 5);
  CHECK(live[1].seq == 6);
  topic_snapshot snap;
  self->request(h, 2s, snapshot_atom::value)
      .receive([&](const topic_snapshot& s) { snap = s; }, [](caf::error&) { FAIL("no snapshot"); });
  CHECK(snap.seq == 6);
  CHECK(snap.seqs == std::vector<std::uint64_t>{3, 5, 6});
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("merging another node's history goes live in order and a new owner continues after it") {
  testing::test_system t;
  stand_ins keep;
  auto h = t.system.spawn(hub, "orders", 100, 0, testing::no_cluster);
  auto link = subscribe(t, h, replay_request::live_only(), keep);
  caf::scoped_actor self{t.system};
  topic_snapshot theirs{"orders", 12, {10, 11, 12}, {"a", "b", "c"}};
  self->send(h, sync_atom::value, theirs);
  CHECK(publish(self, h, "1") == 13);  // seq never goes backwards after a failover
  REQUIRE(link->wait_until([&] { return link->frames.size() >= 4; }));
  std::vector<std::uint64_t> seen;
  for (const auto& f : frames_of(*link)) seen.push_back(f.seq);
  CHECK(seen == std::vector<std::uint64_t>{10, 11, 12, 13});
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}
