// The hub with stand-in session actors: what reaches a session is only what
// the hub sends it as messages; no transport exists in these tests.

#include "actors/hub.hpp"

#include <rapidjson/document.h>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actor_test_support.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

// Everything one stand-in session actor received, in arrival order.
struct session_inbox {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> kinds;  // "replay", "live" or "down", one per message
  std::vector<frame> frames;       // replayed, then live
  std::vector<frame_batch> batches;
  std::uint64_t hub_seq = 0;  // as the hub said when it accepted the subscription
  caf::error down_reason;

  template <class F>
  void record(F f) {
    {
      std::lock_guard<std::mutex> guard(mutex);
      f();
    }
    changed.notify_all();
  }
  std::vector<std::uint64_t> seqs() {
    std::lock_guard<std::mutex> guard(mutex);
    std::vector<std::uint64_t> out;
    for (const auto& f : frames) out.push_back(f.seq);
    return out;
  }
  std::vector<std::string> kinds_so_far() {
    std::lock_guard<std::mutex> guard(mutex);
    return kinds;
  }
  bool wait_for_frames(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return frames.size() >= n; });
  }
};

// A session stand-in: subscribes to the hub and records what the hub sends.
caf::behavior recording_session(caf::event_based_actor* self, caf::actor hub_actor,
                                replay_request request, std::shared_ptr<session_inbox> inbox) {
  self->monitor(hub_actor);
  self->set_down_handler([self, inbox](caf::down_msg& msg) {
    inbox->record([&] {
      inbox->kinds.push_back("down");
      inbox->down_reason = msg.reason;
    });
    self->quit();
  });
  self->send(hub_actor, subscribe_atom::value, caf::actor_cast<session_actor>(self), request);
  return {
      [inbox](subscribed_atom, frame_list& replay, std::uint64_t hub_seq, bool) {
        inbox->record([&] {
          inbox->kinds.push_back("replay");
          inbox->hub_seq = hub_seq;
          inbox->frames.insert(inbox->frames.end(), replay.begin(), replay.end());
        });
      },
      [inbox](frames_atom, const frame_batch& batch) {
        inbox->record([&] {
          inbox->kinds.push_back("live");
          inbox->frames.insert(inbox->frames.end(), batch->begin(), batch->end());
          inbox->batches.push_back(batch);
        });
      },
      [self, hub_actor](unsubscribe_atom) {
        self->send(hub_actor, unsubscribe_atom::value, caf::actor_cast<session_actor>(self));
      },
      [self](remove_atom) { self->quit(); },  // ends without unsubscribing
  };
}

template <class System>
std::pair<caf::actor, std::shared_ptr<session_inbox>> spawn_session(System& t, const caf::actor& h,
                                                                    replay_request request) {
  auto inbox = std::make_shared<session_inbox>();
  return {t.system.spawn(recording_session, h, request, inbox), inbox};
}

void publish(const caf::actor& h, std::string value) {
  caf::anon_send(h, publish_atom::value, std::move(value));
}

// Asks `whom` and returns its answer, in a deterministic system.
template <class Result, class... Ts>
Result ask(testing::deterministic_system& t, const caf::actor& whom, Ts... xs) {
  auto answer = std::make_shared<std::optional<Result>>();
  t.system.spawn(
      [answer](caf::event_based_actor* self, const caf::actor& target, const Ts&... args) {
        self->request(target, caf::infinite, args...).then([answer](Result& r) {
          *answer = std::move(r);
        });
      },
      whom, xs...);
  t.run();
  REQUIRE(answer->has_value());
  return std::move(**answer);
}

caf::actor spawn_hub(testing::deterministic_system& t, std::size_t history = 100,
                     const char* topic = "t") {
  // Untyped, so tests can also send it what only the session or the
  // registry would send.
  auto h = caf::actor_cast<caf::actor>(t.system.spawn(hub, topic, history, 0, testing::no_cluster, hub_storage{}));
  t.stop_at_end.push_back(h);  // its sessions end with it
  return h;
}

}  // namespace

TEST_CASE("the hub forwards each reading to every session actor as one shared message") {
  testing::deterministic_system t;
  auto h = spawn_hub(t, 100, "happiness");
  std::vector<std::shared_ptr<session_inbox>> inboxes;
  for (int i = 0; i < 3; ++i)
    inboxes.push_back(spawn_session(t, h, replay_request::live_only()).second);
  t.run();
  for (auto& inbox : inboxes) CHECK(inbox->kinds == std::vector<std::string>{"replay"});
  publish(h, "7.25");
  t.run();
  for (auto& inbox : inboxes) {
    CHECK(inbox->kinds == std::vector<std::string>{"replay", "live"});
    CHECK(inbox->seqs() == std::vector<std::uint64_t>{1});
  }
  // Serialized once, batched once: every session holds the very same objects.
  CHECK(inboxes[0]->batches[0].get() == inboxes[1]->batches[0].get());
  CHECK(inboxes[1]->batches[0].get() == inboxes[2]->batches[0].get());
  const frame& f = inboxes[0]->frames[0];
  CHECK(f.json.get() == inboxes[2]->frames[0].json.get());
  rapidjson::Document d;
  d.Parse(f.json->c_str());
  REQUIRE(d.IsObject());
  CHECK(d["happiness"].GetDouble() == 7.25);
  CHECK(std::string(d["topic"].GetString()) == "happiness");
  CHECK(d["seq"].GetUint64() == 1);
  CHECK(d["ts"].GetInt64() > 1700000000000);
  CHECK(d.MemberCount() == 4);
}

TEST_CASE("readings the hub accepts in one go reach each session as one batch message") {
  testing::deterministic_system t;
  auto h = spawn_hub(t);
  auto [session, inbox] = spawn_session(t, h, replay_request::live_only());
  t.run();
  for (int i = 0; i < 5; ++i) publish(h, std::to_string(i));
  t.run();  // the hub takes all five before its flush message comes up
  CHECK(inbox->kinds == std::vector<std::string>{"replay", "live"});
  CHECK(inbox->seqs() == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  publish(h, "6");
  t.run();
  CHECK(inbox->kinds == std::vector<std::string>{"replay", "live", "live"});
  CHECK(inbox->batches.back()->size() == 1);
  CHECK(inbox->seqs().back() == 6);
}

TEST_CASE("seq starts at 1 and increases by 1 per reading") {
  testing::deterministic_system t;
  auto h = spawn_hub(t, 10);
  for (std::uint64_t expected = 1; expected <= 5; ++expected)
    CHECK(ask<std::uint64_t>(t, h, publish_atom::value, std::string("1")) == expected);
  CHECK(ask<topic_stats>(t, h, stats_atom::value).seq == 5);
}

TEST_CASE("since and last replay exactly the right envelopes, then live ones follow") {
  testing::deterministic_system t;
  auto h = spawn_hub(t, 3);
  for (int i = 0; i < 5; ++i) publish(h, std::to_string(i));
  t.run();
  auto since = spawn_session(t, h, replay_request::since(3)).second;
  auto last = spawn_session(t, h, replay_request::last(10)).second;  // history holds only 3
  t.run();
  CHECK(since->kinds == std::vector<std::string>{"replay"});
  CHECK(since->seqs() == std::vector<std::uint64_t>{4, 5});
  CHECK(since->hub_seq == 5);
  CHECK(last->seqs() == std::vector<std::uint64_t>{3, 4, 5});
  publish(h, "9");
  t.run();
  CHECK(since->kinds == std::vector<std::string>{"replay", "live"});
  CHECK(since->seqs() == std::vector<std::uint64_t>{4, 5, 6});
  CHECK(last->seqs() == std::vector<std::uint64_t>{3, 4, 5, 6});
}

TEST_CASE("readings accepted but not yet sent when a session joins reach it once, in its replay") {
  testing::deterministic_system t;
  auto h = spawn_hub(t);
  auto [early, early_inbox] = spawn_session(t, h, replay_request::live_only());
  t.run();
  // The hub's mailbox: two publishes, then the new session's subscribe; the
  // flush the first publish asks for lands behind the subscribe.
  publish(h, "1");
  publish(h, "2");
  auto [late, late_inbox] = spawn_session(t, h, replay_request::since(0));
  t.scheduler.prioritize(late);
  t.scheduler.run_once();  // only the new session runs: it sends its subscribe
  t.run();
  publish(h, "3");
  t.run();
  CHECK(late_inbox->kinds == std::vector<std::string>{"replay", "live"});
  CHECK(late_inbox->seqs() == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(early_inbox->kinds == std::vector<std::string>{"replay", "live", "live"});
  CHECK(early_inbox->seqs() == std::vector<std::uint64_t>{1, 2, 3});
}

TEST_CASE("sessions joining during a flood see every seq exactly once, replay then live") {
  // Real threads: the publisher, the hub and the sessions race.
  testing::test_system t;
  constexpr std::uint64_t readings = 3000;
  auto h = caf::actor_cast<caf::actor>(t.system.spawn(hub, "t", readings, 0, testing::no_cluster, hub_storage{}));
  std::vector<caf::actor> sessions;
  std::vector<std::shared_ptr<session_inbox>> inboxes;
  for (std::uint64_t i = 0; i < readings; ++i) {
    if (i % 500 == 0) {
      auto [session, inbox] = spawn_session(t, h, replay_request::since(0));
      sessions.push_back(session);
      inboxes.push_back(inbox);
    }
    publish(h, std::to_string(i));
  }
  std::vector<std::uint64_t> every(readings);
  for (std::uint64_t i = 0; i < readings; ++i) every[i] = i + 1;
  for (auto& inbox : inboxes) {
    REQUIRE(inbox->wait_for_frames(readings));
    CHECK(inbox->seqs() == every);
    CHECK(inbox->kinds_so_far().front() == "replay");
  }
  caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
}

TEST_CASE("a session that dies is removed from the hub via its down message") {
  testing::deterministic_system t;
  auto h = spawn_hub(t, 10);
  auto [mortal, mortal_inbox] = spawn_session(t, h, replay_request::live_only());
  auto [living, living_inbox] = spawn_session(t, h, replay_request::live_only());
  t.run();
  CHECK(ask<topic_stats>(t, h, stats_atom::value).subscribers == 2);
  caf::anon_send(mortal, remove_atom::value);  // it ends without unsubscribing
  t.run();
  CHECK(ask<topic_stats>(t, h, stats_atom::value).subscribers == 1);
  publish(h, "1");
  t.run();
  CHECK(living_inbox->seqs() == std::vector<std::uint64_t>{1});
  CHECK(mortal_inbox->seqs().empty());
}

TEST_CASE("unsubscribe stops delivery to that subscriber only") {
  testing::deterministic_system t;
  auto h = spawn_hub(t, 10);
  auto [stays, stays_inbox] = spawn_session(t, h, replay_request::live_only());
  auto [leaver, leaver_inbox] = spawn_session(t, h, replay_request::live_only());
  t.run();
  caf::anon_send(leaver, unsubscribe_atom::value);
  t.run();
  CHECK(ask<topic_stats>(t, h, stats_atom::value).subscribers == 1);
  publish(h, "1");
  t.run();
  CHECK(stays_inbox->seqs() == std::vector<std::uint64_t>{1});
  CHECK(leaver_inbox->kinds == std::vector<std::string>{"replay"});
}

TEST_CASE("readings a hub accepted reach its sessions before it ends") {
  testing::deterministic_system t;
  auto h = spawn_hub(t);
  auto [session, inbox] = spawn_session(t, h, replay_request::live_only());
  t.run();
  SECTION("the service stops") {
    publish(h, "1");
    publish(h, "2");
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    t.run();
    CHECK(inbox->kinds == std::vector<std::string>{"replay", "live", "down"});
    CHECK(inbox->down_reason == caf::exit_reason::user_shutdown);
  }
  SECTION("the topic is removed") {
    publish(h, "1");
    publish(h, "2");
    caf::anon_send(h, remove_atom::value);
    t.run();
    CHECK(inbox->kinds == std::vector<std::string>{"replay", "live", "down"});
    CHECK_FALSE(inbox->down_reason);
  }
  CHECK(inbox->seqs() == std::vector<std::uint64_t>{1, 2});
}

TEST_CASE("in a cluster the owner's hub sends each accepted envelope to every member") {
  testing::test_system t;
  auto h = t.system.spawn(hub, "orders", 100, 0, testing::no_cluster, hub_storage{});
  caf::scoped_actor member{t.system};
  caf::scoped_actor self{t.system};
  self->send(h, view_atom::value,
             std::vector<cluster_node_actor>{caf::actor_cast<cluster_node_actor>(caf::actor{member})});
  std::uint64_t seq = 0;
  self->request(h, 2s, publish_atom::value, std::string("7"))
      .receive([&](std::uint64_t s) { seq = s; }, [](caf::error&) { FAIL("publish failed"); });
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
  testing::deterministic_system t;
  auto h = spawn_hub(t, 100, "orders");
  auto inbox = spawn_session(t, h, replay_request::live_only()).second;
  t.run();
  caf::anon_send(h, replica_atom::value, std::uint64_t{5}, std::string(R"({"seq":5})"));
  caf::anon_send(h, replica_atom::value, std::uint64_t{3},
                 std::string(R"({"seq":3})"));  // late copy
  caf::anon_send(h, replica_atom::value, std::uint64_t{5}, std::string(R"({"seq":5})"));  // repeat
  caf::anon_send(h, replica_atom::value, std::uint64_t{6}, std::string(R"({"seq":6})"));
  t.run();
  CHECK(inbox->seqs() == std::vector<std::uint64_t>{5, 6});
  auto snap = ask<topic_snapshot>(t, h, snapshot_atom::value);
  CHECK(snap.seq == 6);
  CHECK(snap.seqs == std::vector<std::uint64_t>{3, 5, 6});
}

TEST_CASE("merging another node's history goes live in order and a new owner continues after it") {
  testing::deterministic_system t;
  auto h = spawn_hub(t, 100, "orders");
  auto inbox = spawn_session(t, h, replay_request::live_only()).second;
  t.run();
  caf::anon_send(h, sync_atom::value, topic_snapshot{"orders", 12, {10, 11, 12}, {"a", "b", "c"}});
  // seq never goes backwards after a failover
  CHECK(ask<std::uint64_t>(t, h, publish_atom::value, std::string("1")) == 13);
  CHECK(inbox->seqs() == std::vector<std::uint64_t>{10, 11, 12, 13});
}
