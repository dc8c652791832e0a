#include "actors/service.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <chrono>

#include "actors/history_reader.hpp"
#include "actors/nats_admin.hpp"
#include "actors/store.hpp"
#include "actors/registry.hpp"
#include "actors/session.hpp"

namespace happy {

namespace {

// Threads that set JetStream streams up side by side (each blocks on Raft).
constexpr int stream_setup_threads = 8;

// Sends `request` to `target` from a short-lived actor, so the calling thread
// never blocks; `on_answer` or, after 5 s or an error, `on_failure` runs on an
// actor thread. (Everything goes to spawn as arguments, not into a capture:
// CAF 0.17 dereferences a null tuple for argument-less function actors, which
// UBSan rejects.)
template <class Handle, class OnAnswer, class OnFailure, class... Request>
void ask_within(caf::actor_system& system, std::chrono::milliseconds wait, const Handle& target,
                OnAnswer on_answer, OnFailure on_failure, Request... request) {
  system.spawn(
      [](caf::event_based_actor* self, std::chrono::milliseconds patience, const Handle& whom,
         const OnAnswer& answer, const OnFailure& failure, const Request&... message) {
        self->request(whom, patience, message...).then(answer, failure);
      },
      wait, target, std::move(on_answer), std::move(on_failure), std::move(request)...);
}

template <class Handle, class OnAnswer, class OnFailure, class... Request>
void ask(caf::actor_system& system, const Handle& target, OnAnswer on_answer,
         OnFailure on_failure, Request... request) {
  ask_within(system, std::chrono::seconds(5), target, std::move(on_answer), std::move(on_failure),
             std::move(request)...);
}

}  // namespace

void session_handle::transport_closed() const {
  if (session_) caf::anon_send(session_, transport_closed_atom::value);
}

void publisher_handle::publish(std::string value_json, std::function<void(publish_result)> done,
                               std::string key) const {
  if (!publisher_) return;
  if (key.empty())
    caf::anon_send(publisher_, publish_atom::value, std::move(value_json),
                   publish_callback{std::move(done)});
  else
    caf::anon_send(publisher_, publish_atom::value, std::move(value_json), std::move(key),
                   publish_callback{std::move(done)});
}

void publisher_handle::close() const {
  if (publisher_) caf::anon_send_exit(publisher_, caf::exit_reason::user_shutdown);
}

service::service(caf::actor_system& system, config cfg, service_storage storage,
                 std::shared_ptr<nats_connection> nats)
    : system_(system), nats_(std::move(nats)) {
  registry_jetstream jetstream;
  if (nats_) {
    // Detached: its calls wait for JetStream round trips.
    nats_admin_ = system.spawn<caf::detached>(nats_admin, nats_);
    // Creating a stream is a Raft round trip: one at a time, 1,000 topics
    // took 2.5 minutes to set up (BENCHMARKS.md); several run side by side.
    for (int i = 0; i < stream_setup_threads; ++i)
      setup_admins_.push_back(system.spawn<caf::detached>(nats_admin, nats_));
    jetstream.setup_admins = setup_admins_;
    status_admin_ = system.spawn<caf::detached>(nats_admin, nats_);
    jetstream.link = nats_;
    jetstream.admin = nats_admin_;
    // The hub answers within nats.publish_timeout_ms; the asker waits a little longer.
    publish_wait_ = std::chrono::milliseconds(cfg.nats->publish_timeout_ms + 2000);
  }
  registry_storage link;
  if (storage.writer && storage.reader) {
    // Detached: SQLite blocks its thread on the disk, never a scheduler worker.
    store_ = system.spawn<caf::detached>(store, storage.writer, cfg.storage, storage_status_);
    reader_ = system.spawn<caf::detached>(history_reader, storage.reader);
    link = {store_, storage_status_, std::move(storage.topics)};
  }
  registry_ = system.spawn(registry, std::move(cfg), std::move(link), source_counters_,
                           std::move(jetstream));
}

void service::history(const std::string& topic, std::int64_t from, std::int64_t to,
                      std::uint32_t points,
                      std::function<void(std::optional<history_series>)> done) {
  if (!reader_) return done(std::nullopt);
  ask(
      system_, reader_, [done](history_series& series) { done(std::move(series)); },
      [done](const caf::error&) { done(std::nullopt); }, history_atom::value, topic, from, to,
      points);
}

service::~service() { shutdown(); }

session_handle service::open_session(const std::string& topic, replay_request replay,
                                     std::shared_ptr<transport> client) {
  return session_handle{system_.spawn(session, registry_, topic, replay, std::move(client))};
}

publisher_handle service::open_publisher(const std::string& topic) {
  return publisher_handle{
      system_.spawn(publisher, publish_target_actor{registry_}, topic, publish_wait_)};
}

void service::collect_stats(std::function<void(std::vector<topic_stats>)> done) {
  ask(
      system_, registry_, [done](const std::vector<topic_stats>& stats) { done(stats); },
      [done](const caf::error&) { done({}); }, stats_atom::value);
}

void service::reload(config next) {
  if (registry_) caf::anon_send(registry_, reload_atom::value, std::move(next));
}

void service::publish(const std::string& topic, std::string value_json,
                      std::function<void(publish_result)> done, std::string key) {
  auto accepted = [done](std::uint64_t seq) { done(publish_result_of(seq)); };
  auto refused = [done](const caf::error& error) { done(publish_result_of(error)); };
  if (!key.empty())
    return ask_within(system_, publish_wait_, registry_, accepted, refused, publish_atom::value,
                      topic, std::move(value_json), std::move(key));
  ask_within(system_, publish_wait_, registry_, accepted, refused, publish_atom::value, topic,
             std::move(value_json));
}

void service::describe_jetstream(std::function<void(std::optional<jetstream_status>)> done) {
  if (!nats_) return done(std::nullopt);
  jetstream_status status;
  status.node = nats_->settings().node;
  status.connected = nats_->connected();
  status.url = nats_->connected_url();
  // Topics, then their streams, then their leases: each from the actor that knows.
  system_.spawn(
      [](caf::event_based_actor* self, const registry_actor& registry, const nats_admin_actor& admin,
         const jetstream_status& start, const std::function<void(std::optional<jetstream_status>)>& answer) {
        auto failed = [answer](const caf::error&) { answer(std::nullopt); };
        self->request(registry, std::chrono::seconds(5), topics_atom::value)
            .then(
                [=](std::vector<std::string>& topics) {
                  self->request(admin, std::chrono::seconds(10), streams_atom::value, topics)
                      .then(
                          [=](std::vector<stream_report>& reports) {
                            self->request(registry, std::chrono::seconds(10), holders_atom::value, topics)
                                .then(
                                    [=](std::vector<std::string>& holders) mutable {
                                      jetstream_status out = start;
                                      out.streams = std::move(reports);
                                      out.lease_holders = std::move(holders);
                                      answer(std::move(out));
                                    },
                                    failed);
                          },
                          failed);
                },
                failed);
      },
      registry_, status_admin_, std::move(status), std::move(done));
}

void service::shutdown() {
  // The store ends by itself once the registry and every hub have (their
  // last readings written).
  if (registry_) caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  registry_ = nullptr;
  store_ = nullptr;
  if (reader_) caf::anon_send_exit(reader_, caf::exit_reason::user_shutdown);
  reader_ = nullptr;
  if (nats_admin_) caf::anon_send_exit(nats_admin_, caf::exit_reason::user_shutdown);
  nats_admin_ = nullptr;
  for (auto& admin : setup_admins_) caf::anon_send_exit(admin, caf::exit_reason::user_shutdown);
  setup_admins_.clear();
  if (status_admin_) caf::anon_send_exit(status_admin_, caf::exit_reason::user_shutdown);
  status_admin_ = nullptr;
}

}  // namespace happy
