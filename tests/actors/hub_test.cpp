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
#include "wire/envelope.hpp"

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
  auto h = caf::actor_cast<caf::actor>(t.system.spawn(hub, topic, history, 0, hub_storage{}, jetstream_link{}));
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
  auto h = caf::actor_cast<caf::actor>(t.system.spawn(hub, "t", readings, 0, hub_storage{}, jetstream_link{}));
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

// -- the JetStream side (actors/jetstream_log.hpp), with a test log instead of NATS --

namespace {

// What the hub handed the log, with the callback that answers it.
struct sent_publish {
  std::string data;
  std::string message_id;
  std::uint64_t expect_last_seq = 0;
  stream_writer::publish_done done;
};

// The test log: records each publish; the test answers it as JetStream would.
class test_log : public stream_writer {
 public:
  explicit test_log(std::int64_t publish_timeout_ms = 60000) {
    settings_.node = "node-a";
    settings_.publish_timeout_ms = publish_timeout_ms;
  }
  void publish(const std::string&, std::string_view data, const std::string& message_id,
               std::int64_t, std::uint64_t expect_last_seq, std::int64_t, publish_done done) override {
    sent.push_back({std::string(data), message_id, expect_last_seq, std::move(done)});
  }
  const nats_config& settings() const override { return settings_; }
  std::vector<sent_publish> sent;

 private:
  nats_config settings_;
};

// The stand-in admin: the stream exists up to `last_seq`; following records
// where it starts and hands back no follower (the test sends the readings).
nats_admin_actor::behavior_type test_admin(std::uint64_t last_seq,
                                           std::shared_ptr<std::vector<std::uint64_t>> follow_from) {
  return {
      [last_seq](ensure_atom, const std::string& topic, const stream_limits&) {
        return stream_report{topic, 1, last_seq, "n1", {}};
      },
      [follow_from](follow_atom, const std::string&, std::uint64_t from, const hub_actor&) {
        follow_from->push_back(from);
        return std::shared_ptr<stream_follower>();
      },
      [](streams_atom) { return std::vector<std::string>{}; },
      [](streams_atom, const std::vector<std::string>&) { return std::vector<stream_report>{}; },
      [](dispose_atom, std::shared_ptr<stream_follower>&) {},
  };
}

struct stream_hub {
  std::shared_ptr<test_log> log;
  std::shared_ptr<std::vector<std::uint64_t>> follow_from = std::make_shared<std::vector<std::uint64_t>>();
  caf::actor hub;
};

stream_hub spawn_stream_hub(testing::deterministic_system& t, std::size_t history,
                            std::uint64_t stream_last_seq, std::int64_t publish_timeout_ms = 60000,
                            std::shared_ptr<const lease_validity> leases = nullptr,
                            hub_storage storage = {}) {
  stream_hub out;
  out.log = std::make_shared<test_log>(publish_timeout_ms);
  auto admin = t.system.spawn(test_admin, stream_last_seq, out.follow_from);
  t.stop_at_end.push_back(caf::actor_cast<caf::actor>(admin));
  out.hub = caf::actor_cast<caf::actor>(t.system.spawn(
      hub, "orders", history, 0, std::move(storage),
      jetstream_link{out.log, admin, stream_limits{3, history, 0}, 0, std::move(leases)}));
  t.stop_at_end.push_back(out.hub);
  t.run();
  return out;
}

// A publish whose answer arrives later: the result lands in `answer`.
template <class... Ts>
std::shared_ptr<std::optional<caf::expected<std::uint64_t>>> request_publish(testing::deterministic_system& t,
                                                                          const caf::actor& h, Ts... xs) {
  auto answer = std::make_shared<std::optional<caf::expected<std::uint64_t>>>();
  t.system.spawn(
      [answer](caf::event_based_actor* self, const caf::actor& target, const Ts&... args) {
        self->request(target, caf::infinite, publish_atom::value, args...)
            .then([answer](std::uint64_t seq) { *answer = seq; },
                  [answer](caf::error& e) { *answer = std::move(e); });
      },
      h, xs...);
  t.run();
  return answer;
}

stream_reading reading_of(std::uint64_t seq, std::string value, std::int64_t accepted_ms = 1000) {
  return {seq, accepted_ms, std::move(value)};
}

// A history file stand-in: the seqs it was sent, and the topics it was told to forget.
struct file_record {
  std::vector<std::uint64_t> seqs;
  std::vector<std::string> forgotten;
};

store_actor::behavior_type recording_store(std::shared_ptr<file_record> file) {
  return {
      [file](append_atom, const hub_actor&, const std::string&, const frame_batch& batch) {
        for (const auto& f : *batch) file->seqs.push_back(f.seq);
      },
      [](watch_atom, const hub_actor&) {},
      [file](forget_atom, const std::string& topic) {
        file->forgotten.push_back(topic);
        file->seqs.clear();
      },
      [](stop_atom) {}, [](commit_atom) {}, [](trim_atom) {}, [](retry_atom) {},
  };
}

// A hub whose history file holds seqs up to `file_last_seq` (the last two in its ring).
std::pair<stream_hub, std::shared_ptr<file_record>> spawn_cached_stream_hub(
    testing::deterministic_system& t, std::uint64_t file_last_seq, std::uint64_t stream_last_seq) {
  auto file = std::make_shared<file_record>();
  auto store = t.system.spawn(recording_store, file);
  t.stop_at_end.push_back(caf::actor_cast<caf::actor>(store));
  frame_list recent;
  for (auto seq = file_last_seq > 1 ? file_last_seq - 1 : 1; seq <= file_last_seq; ++seq)
    recent.push_back({seq, std::make_shared<const std::string>(
                               make_envelope("orders", std::to_string(seq), seq, 1000))});
  hub_storage storage{store, std::make_shared<storage_status>(), file_last_seq, std::move(recent)};
  return {spawn_stream_hub(t, 10, stream_last_seq, 60000, nullptr, std::move(storage)), file};
}

}  // namespace

TEST_CASE("with a stream log, a publish is answered with the ack's seq, and only the stream's readings go out") {
  testing::deterministic_system t;
  auto s = spawn_stream_hub(t, 100, 0);
  auto inbox = spawn_session(t, s.hub, replay_request::live_only()).second;
  t.run();
  CHECK(*s.follow_from == std::vector<std::uint64_t>{1});
  auto answer = request_publish(t, s.hub, std::string("7"));
  REQUIRE(s.log->sent.size() == 1);
  CHECK(s.log->sent[0].data == "7");
  CHECK_THAT(s.log->sent[0].message_id, Catch::StartsWith("node-a-"));
  CHECK(s.log->sent[0].expect_last_seq == 0);  // a client's publish is not fenced
  CHECK_FALSE(answer->has_value());            // nothing is acknowledged before the quorum
  s.log->sent[0].done({true, 41, false, false, false, {}});
  t.run();
  REQUIRE(answer->has_value());
  CHECK(**answer == 41);
  CHECK(inbox->seqs().empty());  // not fanned out before the stream hands it back
  caf::anon_send(s.hub, reading_atom::value, reading_of(41, "7", 1234));
  t.run();
  CHECK(inbox->seqs() == std::vector<std::uint64_t>{41});
  CHECK(*inbox->frames[0].json == R"({"orders":7,"topic":"orders","seq":41,"ts":1234})");
}

TEST_CASE("with a stream log, readings are fanned out once, in order, and history starts where it can hold") {
  testing::deterministic_system t;
  auto s = spawn_stream_hub(t, 10, 50);
  CHECK(*s.follow_from == std::vector<std::uint64_t>{41});  // the last 10 of 50
  for (std::uint64_t seq : {41, 42, 42, 40, 43})  // a repeat and an old one are dropped
    caf::anon_send(s.hub, reading_atom::value, reading_of(seq, std::to_string(seq)));
  t.run();
  auto inbox = spawn_session(t, s.hub, replay_request::since(41)).second;
  t.run();
  CHECK(inbox->seqs() == std::vector<std::uint64_t>{42, 43});
  CHECK(inbox->hub_seq == 43);
}

TEST_CASE("with a stream log, a session resuming beyond the hub's seq waits until the follower has reached the stream's last seq") {
  // A dashboard that saw seq 48 on another node and resumes on this one,
  // just started: replayed from 48 on once the follower gets there, never
  // taken for a client from before a restart (which would replay from 1).
  testing::deterministic_system t;
  auto s = spawn_stream_hub(t, 100, 50);
  CHECK(*s.follow_from == std::vector<std::uint64_t>{1});
  auto inbox = spawn_session(t, s.hub, replay_request::since(48)).second;
  t.run();
  for (std::uint64_t seq = 1; seq <= 49; ++seq)
    caf::anon_send(s.hub, reading_atom::value, reading_of(seq, std::to_string(seq)));
  t.run();
  CHECK(inbox->kinds_so_far().empty());  // at 49 of 50: still waiting
  // Sessions that do not resume beyond seq 49 are not held up.
  auto latest = spawn_session(t, s.hub, replay_request::last(2)).second;
  auto behind = spawn_session(t, s.hub, replay_request::since(47)).second;
  t.run();
  CHECK(latest->seqs() == std::vector<std::uint64_t>{48, 49});
  CHECK(behind->seqs() == std::vector<std::uint64_t>{48, 49});
  SECTION("let in with the replay once the last seq is there, then live") {
    caf::anon_send(s.hub, reading_atom::value, reading_of(50, "50"));
    caf::anon_send(s.hub, reading_atom::value, reading_of(51, "51"));
    t.run();
    CHECK(inbox->kinds_so_far() == std::vector<std::string>{"replay", "live"});
    CHECK(inbox->seqs() == std::vector<std::uint64_t>{49, 50, 51});
    auto later = spawn_session(t, s.hub, replay_request::since(50)).second;  // no longer waits
    t.run();
    CHECK(later->seqs() == std::vector<std::uint64_t>{51});
  }
  SECTION("let in after a while when the last seqs never come (they expired first)") {
    t.scheduler.trigger_timeouts();
    t.run();
    CHECK(inbox->kinds_so_far() == std::vector<std::string>{"replay"});
    CHECK(inbox->seqs() == std::vector<std::uint64_t>{49});
    CHECK(inbox->hub_seq == 49);
  }
  SECTION("a session that ends while it waits is never sent anything") {
    auto [gone, gone_inbox] = spawn_session(t, s.hub, replay_request::since(50));
    t.run();
    caf::anon_send_exit(gone, caf::exit_reason::user_shutdown);
    t.run();
    caf::anon_send(s.hub, reading_atom::value, reading_of(50, "50"));
    t.run();
    CHECK(gone_inbox->kinds_so_far().empty());
    CHECK(ask<topic_stats>(t, s.hub, stats_atom::value).subscribers == 3);  // inbox, latest, behind
  }
}

TEST_CASE("with a stream log, the history file is a cache fed from the stream") {
  testing::deterministic_system t;
  SECTION("a file behind the stream gets every reading after its last seq, once") {
    auto [s, file] = spawn_cached_stream_hub(t, 45, 50);
    CHECK(*s.follow_from == std::vector<std::uint64_t>{46});  // not 41: the file needs 46..50
    for (std::uint64_t seq = 44; seq <= 50; ++seq)  // 44 and 45 are held already
      caf::anon_send(s.hub, reading_atom::value, reading_of(seq, std::to_string(seq)));
    t.run();
    CHECK(file->seqs == std::vector<std::uint64_t>{46, 47, 48, 49, 50});
    auto inbox = spawn_session(t, s.hub, replay_request::since(43)).second;
    t.run();
    CHECK(inbox->seqs() == std::vector<std::uint64_t>{44, 45, 46, 47, 48, 49, 50});
  }
  SECTION("a new or deleted file is filled from the stream's start") {
    auto [s, file] = spawn_cached_stream_hub(t, 0, 50);
    CHECK(*s.follow_from == std::vector<std::uint64_t>{1});
    CHECK(file->forgotten.empty());
  }
  SECTION("a file beyond the stream's end belongs to another stream: forgotten, then refilled") {
    auto [s, file] = spawn_cached_stream_hub(t, 60, 50);
    CHECK(file->forgotten == std::vector<std::string>{"orders"});
    CHECK(*s.follow_from == std::vector<std::uint64_t>{1});
    caf::anon_send(s.hub, reading_atom::value, reading_of(1, "1"));
    t.run();
    CHECK(file->seqs == std::vector<std::uint64_t>{1});
    auto inbox = spawn_session(t, s.hub, replay_request::last(10)).second;
    t.run();
    CHECK(inbox->seqs() == std::vector<std::uint64_t>{1});  // 59 and 60 are gone from the ring
    CHECK(inbox->hub_seq == 1);
  }
}

TEST_CASE("with a stream log, an unanswered publish is sent again with the same id, then refused") {
  testing::deterministic_system t;
  SECTION("retried while the deadline allows, stored once") {
    auto s = spawn_stream_hub(t, 100, 0);
    auto answer = request_publish(t, s.hub, std::string("1"), std::string("order-42"));
    REQUIRE(s.log->sent.size() == 1);
    CHECK(s.log->sent[0].message_id == "key:order-42");
    s.log->sent[0].done({false, 0, false, true, false, "timeout"});
    t.run();
    t.scheduler.trigger_timeouts();  // the retry pause
    t.run();
    REQUIRE(s.log->sent.size() == 2);
    CHECK(s.log->sent[1].message_id == "key:order-42");
    s.log->sent[1].done({true, 5, true, false, false, {}});
    t.run();
    REQUIRE(answer->has_value());
    CHECK(**answer == 5);
    CHECK(s.log->publishes_acked == 1);
    CHECK(s.log->publish_retries == 1);
  }
  SECTION("refused once nats.publish_timeout_ms leaves no room for another try") {
    auto s = spawn_stream_hub(t, 100, 0, 100);
    auto answer = request_publish(t, s.hub, std::string("1"));
    REQUIRE(s.log->sent.size() == 1);
    s.log->sent[0].done({false, 0, false, true, false, "no responders"});
    t.run();
    REQUIRE(answer->has_value());
    CHECK_FALSE(answer->value());
    CHECK(answer->value().error() == happy_errc::log_unavailable);
    CHECK(s.log->publishes_failed == 1);
  }
}

TEST_CASE("with a stream log, a producer's reading is fenced at the seq this node has seen") {
  testing::deterministic_system t;
  auto s = spawn_stream_hub(t, 100, 0);
  for (std::uint64_t seq : {1, 2, 3})
    caf::anon_send(s.hub, reading_atom::value, reading_of(seq, "0"));
  t.run();
  publish(s.hub, "9");  // anonymous, as a generator or source sends it
  t.run();
  REQUIRE(s.log->sent.size() == 1);
  CHECK(s.log->sent[0].expect_last_seq == 3);
  // Another node published meanwhile: this node lost its lease; the reading is dropped.
  s.log->sent[0].done({false, 0, false, false, true, "wrong last sequence: 4"});
  t.run();
  CHECK(s.log->publishes_fenced == 1);
  CHECK(s.log->publishes_failed == 0);
}

TEST_CASE("with a stream log, a producer's reading is dropped once this node cannot be sure of its lease") {
  testing::deterministic_system t;
  auto leases = std::make_shared<lease_validity>();
  auto s = spawn_stream_hub(t, 100, 0, 60000, leases);
  leases->hold_until("orders", unix_millis_now() + 60000);
  publish(s.hub, "1");
  t.run();
  CHECK(s.log->sent.size() == 1);
  // Paused past the moment it could be sure: dropped before it reaches the stream.
  leases->hold_until("orders", unix_millis_now() - 1);
  publish(s.hub, "2");
  t.run();
  CHECK(s.log->sent.size() == 1);
  CHECK(s.log->publishes_fenced == 1);
  // A client's publish does not depend on the lease.
  auto answer = request_publish(t, s.hub, std::string("3"));
  CHECK(s.log->sent.size() == 2);
}
