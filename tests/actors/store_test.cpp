// The store actor with a real history file, driven by a real registry and
// hub: publishes are answered once their readings are committed, a restarted
// registry continues from the file, and an unwritable store refuses publishes.

#include "actors/store.hpp"

#include <catch2/catch.hpp>

#include "temp_dir.hpp"
#include "actor_test_support.hpp"
#include "wire/envelope.hpp"
#include "actors/happy_error.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<history_db> open_db(const std::string& path, history_db::mode how) {
  auto opened = history_db::open(path, how);
  if (auto* problem = std::get_if<std::string>(&opened)) FAIL(*problem);
  return std::move(std::get<0>(opened));
}

struct stored_service {
  testing::test_system t;
  testing::temp_dir dir;
  std::string path = dir.file("history.db");
  std::shared_ptr<storage_status> status = std::make_shared<storage_status>();
  store_actor store;
  registry_actor registry;

  // Starts a store and a registry on the file, as main does.
  void start(const config& cfg) {
    auto writer = open_db(path, history_db::mode::write);
    auto loaded = writer->load([&](const std::string& name) { return cfg.history_of(name); },
                               max_uncommitted_seqs);
    REQUIRE(std::holds_alternative<std::vector<stored_topic>>(loaded));
    auto topics = std::get<0>(std::move(loaded));
    store = t.system.spawn<caf::detached>(happy::store, writer, storage_config{path}, status);
    registry = t.system.spawn(happy::registry, cfg,
                              registry_storage{store, status, std::move(topics)},
                              std::make_shared<source_counters>(), registry_jetstream{});
  }
  // Stops both and waits until the store has ended (its last commit made).
  void stop() {
    caf::scoped_actor self{t.system};
    self->monitor(store);
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    bool ended = false;
    self->receive([&](caf::down_msg&) { ended = true; }, caf::after(5s) >> [] {});
    CHECK(ended);
  }
  std::variant<std::uint64_t, caf::error> publish(const std::string& topic, const std::string& value) {
    caf::scoped_actor self{t.system};
    std::variant<std::uint64_t, caf::error> out = caf::error{};
    self->request(registry, 5s, publish_atom::value, topic, value)
        .receive([&](std::uint64_t seq) { out = seq; }, [&](caf::error& e) { out = e; });
    return out;
  }
  std::uint64_t stored_readings() { return open_db(path, history_db::mode::read)->reading_count().value(); }
};

config publish_only(const std::string& topic) {
  config cfg;
  cfg.topics[topic] = topic_config{};
  return cfg;
}

}  // namespace

TEST_CASE("a publish is answered only once its reading is committed to the file") {
  stored_service s;
  s.start(publish_only("orders"));
  for (std::uint64_t n = 1; n <= 20; ++n) {
    auto answer = s.publish("orders", std::to_string(n));
    REQUIRE(std::holds_alternative<std::uint64_t>(answer));
    CHECK(std::get<std::uint64_t>(answer) == n);
    // Read through another connection: the reading is on disk already.
    CHECK(s.stored_readings() == n);
  }
  CHECK(s.status->readings_written == 20);
  s.stop();
}

TEST_CASE("a restarted registry continues every topic's seq and history from the file") {
  stored_service s;
  s.start(publish_only("orders"));
  for (int n = 1; n <= 5; ++n) s.publish("orders", std::to_string(n));
  s.publish("created-by-publish", "7");
  s.stop();

  s.start(publish_only("orders"));
  auto answer = s.publish("orders", "6");
  REQUIRE(std::holds_alternative<std::uint64_t>(answer));
  CHECK(std::get<std::uint64_t>(answer) == 6);
  caf::scoped_actor self{s.t.system};
  std::vector<std::string> names;
  self->request(s.registry, 2s, topics_atom::value)
      .receive([&](std::vector<std::string>& n) { names = n; }, [](caf::error&) {});
  CHECK(names == std::vector<std::string>{"created-by-publish", "orders"});
  // The history ring holds the stored readings again, byte for byte.
  hub_actor orders;
  self->request(s.registry, 2s, lookup_atom::value, std::string("orders"))
      .receive([&](hub_actor& h, std::vector<std::string>&) { orders = h; }, [](caf::error&) {});
  REQUIRE(orders);
  frame_list replay;
  self->send(orders, subscribe_atom::value, caf::actor_cast<session_actor>(self),
             replay_request::last(100));
  self->receive([&](subscribed_atom, frame_list& frames, std::uint64_t, bool) { replay = frames; },
                caf::after(2s) >> [] { FAIL("no replay"); });
  std::vector<std::uint64_t> seqs;
  for (const auto& f : replay) seqs.push_back(f.seq);
  CHECK(seqs == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6});
  REQUIRE(!replay.empty());
  auto parts = split_envelope("orders", *replay.front().json);
  REQUIRE(parts);
  CHECK(parts->value_json == "1");
  s.stop();
}

TEST_CASE("while the file cannot be written, publishes are refused and nothing is lost later") {
  stored_service s;
  s.start(publish_only("orders"));
  CHECK(std::holds_alternative<std::uint64_t>(s.publish("orders", "1")));
  s.status->writable = false;  // as the store sets it after a failed write
  auto refused = s.publish("orders", "2");
  REQUIRE(std::holds_alternative<caf::error>(refused));
  CHECK(std::get<caf::error>(refused) == happy_errc::storage_unavailable);
  s.status->writable = true;
  auto answer = s.publish("orders", "3");
  REQUIRE(std::holds_alternative<std::uint64_t>(answer));
  CHECK(std::get<std::uint64_t>(answer) == 2);  // the refused one took no seq
  s.stop();
  CHECK(s.stored_readings() == 2);
}

TEST_CASE("a stored topic beyond limits.max_topics still continues its seq when it starts later") {
  stored_service s;
  config roomy;
  roomy.limits.max_topics = 2;
  s.start(roomy);
  for (int n = 0; n < 3; ++n) s.publish("a", "1");
  for (int n = 0; n < 2; ++n) s.publish("b", "1");
  s.stop();

  config tight;
  tight.limits.max_topics = 1;
  s.start(tight);  // "a" starts, "b" does not fit
  auto refused = s.publish("b", "1");
  REQUIRE(std::holds_alternative<caf::error>(refused));
  CHECK(std::get<caf::error>(refused) == happy_errc::topic_limit);
  caf::anon_send(s.registry, reload_atom::value, roomy);
  auto answer = s.publish("b", "1");
  REQUIRE(std::holds_alternative<std::uint64_t>(answer));
  CHECK(std::get<std::uint64_t>(answer) == 3);
  s.stop();
}
