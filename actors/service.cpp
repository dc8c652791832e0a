#include "actors/service.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <chrono>

#include "actors/registry.hpp"
#include "actors/session.hpp"
#include "actors/topic_list_json.hpp"

namespace happy {

void session_link::transport_closed() const {
  if (session_) caf::anon_send(session_, transport_closed_atom::value);
}

void publisher_link::publish(std::string value_json,
                             std::function<void(publish_result)> done) const {
  if (publisher_)
    caf::anon_send(publisher_, publish_atom::value, std::move(value_json),
                   publish_callback{std::move(done)});
}

void publisher_link::close() const {
  if (publisher_) caf::anon_send_exit(publisher_, caf::exit_reason::user_shutdown);
}

service::service(caf::actor_system& system, config cfg)
    : system_(system), registry_(system.spawn(registry, std::move(cfg))) {}

service::~service() { shutdown(); }

session_link service::open_session(const std::string& topic, replay_request replay,
                                   std::shared_ptr<transport> link) {
  return session_link{system_.spawn(session, registry_, topic, replay, std::move(link))};
}

publisher_link service::open_publisher(const std::string& topic) {
  return publisher_link{system_.spawn(publisher, registry_, topic)};
}

void service::collect_stats(std::function<void(std::vector<topic_stats>)> done) {
  // A short-lived actor makes the request so the caller's thread never blocks.
  // (Arguments are passed to spawn rather than captured: CAF 0.17 dereferences
  // a null tuple for argument-less function actors, which UBSan rejects.)
  system_.spawn(
      [](caf::event_based_actor* self, const caf::actor& registry,
         const std::function<void(std::vector<topic_stats>)>& done) {
        self->request(registry, std::chrono::seconds(5), stats_atom::value)
            .then([done](const std::vector<topic_stats>& stats) { done(stats); },
                  [done](const caf::error&) { done({}); });
      },
      registry_, std::move(done));
}

void service::list_topics(std::function<void(std::string json)> done) {
  collect_stats([done = std::move(done)](std::vector<topic_stats> stats) {
    done(topic_list_json(stats));
  });
}

void service::reload(config next) {
  if (registry_) caf::anon_send(registry_, reload_atom::value, std::move(next));
}

void service::publish(const std::string& topic, std::string value_json,
                      std::function<void(publish_result)> done) {
  system_.spawn(
      [](caf::event_based_actor* self, const caf::actor& registry, const std::string& topic,
         const std::string& value_json, const std::function<void(publish_result)>& done) {
        self->request(registry, std::chrono::seconds(5), publish_atom::value, topic, value_json)
            .then(
                [done](std::uint64_t seq) { done(publish_result_of(seq)); },
                [done](const caf::error&) { done({publish_result::outcome::unavailable, 0}); });
      },
      registry_, topic, std::move(value_json), std::move(done));
}

void service::shutdown() {
  if (registry_) caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
  registry_ = nullptr;
}

}  // namespace happy
