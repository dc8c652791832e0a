#include "actors/registry.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/response_promise.hpp>

#include <algorithm>
#include <chrono>

#include "actors/generator.hpp"
#include "actors/hub.hpp"
#include "log/log.hpp"

namespace happy {

namespace {

using registry_actor = caf::stateful_actor<registry_state>;

caf::actor start_generator(registry_actor* self, const caf::actor& hub_actor,
                           const generator_config& cfg) {
  return self->spawn<caf::linked>(generator, hub_actor, cfg);
}

caf::actor start_topic(registry_actor* self, const std::string& name, const topic_config& topic) {
  auto& s = self->state;
  std::int64_t interval = topic.generator ? topic.generator->interval_ms : 0;
  auto hub_actor = self->spawn<caf::linked>(hub, name, s.cfg.history_of(name), interval);
  if (topic.generator) s.generators.emplace(name, start_generator(self, hub_actor, *topic.generator));
  return hub_actor;
}

// Stopping one child must not take the registry down with it: unlink first.
void stop_child(registry_actor* self, const caf::actor& child) {
  self->unlink_from(child);
  self->send_exit(child, caf::exit_reason::user_shutdown);
}

void stop_generator(registry_actor* self, const std::string& name) {
  auto it = self->state.generators.find(name);
  if (it == self->state.generators.end()) return;
  stop_child(self, it->second);
  self->state.generators.erase(it);
}

// The hub ends normally, so its sessions close with 1000 "topic removed".
void remove_topic(registry_actor* self, const std::string& name) {
  stop_generator(self, name);
  auto it = self->state.hubs.find(name);
  if (it == self->state.hubs.end()) return;
  self->unlink_from(it->second);
  self->send(it->second, remove_atom::value);
  self->state.hubs.erase(it);
}

// Applies a new config's topics without touching unchanged ones or clients.
void apply_topics(registry_actor* self, const config& next) {
  auto& s = self->state;
  for (const auto& [name, topic] : s.cfg.topics)
    if (!next.topics.count(name)) {
      remove_topic(self, name);
      log_info("reload: topic '" + name + "' removed");
    }
  config previous = std::move(s.cfg);
  s.cfg = next;
  for (const auto& [name, topic] : next.topics) {
    auto hub_it = s.hubs.find(name);
    if (hub_it == s.hubs.end()) {
      s.hubs.emplace(name, start_topic(self, name, topic));
      log_info("reload: topic '" + name + "' added");
      continue;
    }
    auto old = previous.topics.find(name);
    const std::optional<generator_config> none;
    const auto& old_generator = old == previous.topics.end() ? none : old->second.generator;
    std::int64_t interval = topic.generator ? topic.generator->interval_ms : 0;
    self->send(hub_it->second, reconfigure_atom::value,
               static_cast<std::uint64_t>(s.cfg.history_of(name)), interval);
    if (topic.generator && old_generator && *topic.generator != *old_generator) {
      self->send(s.generators.at(name), reconfigure_atom::value, *topic.generator);
      log_info("reload: topic '" + name + "' generator now every " +
               std::to_string(topic.generator->interval_ms) + " ms");
    } else if (topic.generator && !old_generator) {
      stop_generator(self, name);  // a publish-only topic that had none
      s.generators.emplace(name, start_generator(self, hub_it->second, *topic.generator));
      log_info("reload: topic '" + name + "' generator started");
    } else if (!topic.generator && old_generator) {
      stop_generator(self, name);
      log_info("reload: topic '" + name + "' generator stopped (now publish-only)");
    }
  }
}

// Collects one topic_stats per hub and answers once all are in.
struct stats_collector {
  caf::response_promise promise;
  std::vector<topic_stats> collected;
  std::size_t pending = 0;

  void done_one() {
    if (--pending > 0) return;
    std::sort(collected.begin(), collected.end(),
              [](const topic_stats& a, const topic_stats& b) { return a.name < b.name; });
    promise.deliver(collected);
  }
};

}  // namespace

std::vector<std::string> registry_state::topic_names() const {
  std::vector<std::string> names;
  for (const auto& entry : hubs) names.push_back(entry.first);
  return names;
}

caf::behavior registry(caf::stateful_actor<registry_state>* self, config cfg) {
  self->state.cfg = std::move(cfg);
  for (const auto& [name, topic] : self->state.cfg.topics)
    self->state.hubs.emplace(name, start_topic(self, name, topic));
  return {
      [self](lookup_atom, const std::string& topic) {
        auto it = self->state.hubs.find(topic);
        caf::actor found = it == self->state.hubs.end() ? caf::actor{} : it->second;
        return caf::make_message(found, self->state.topic_names());
      },
      [self](publish_atom, const std::string& topic, const std::string& value_json) {
        auto& s = self->state;
        auto promise = self->make_response_promise();
        auto it = s.hubs.find(topic);
        if (it == s.hubs.end()) {
          // Publishing creates the topic, within limits.max_topics.
          if (s.hubs.size() >= s.cfg.limits.max_topics) {
            promise.deliver(std::uint64_t{0});
            return promise;
          }
          it = s.hubs.emplace(topic, start_topic(self, topic, topic_config{})).first;
        }
        // The hub answers the publisher directly with the seq.
        promise.delegate(it->second, publish_atom::value, value_json);
        return promise;
      },
      [self](stats_atom) {
        auto collector = std::make_shared<stats_collector>();
        collector->promise = self->make_response_promise();
        collector->pending = self->state.hubs.size();
        if (collector->pending == 0) {
          collector->promise.deliver(std::vector<topic_stats>{});
          return collector->promise;
        }
        for (const auto& entry : self->state.hubs) {
          self->request(entry.second, std::chrono::seconds(5), stats_atom::value)
              .then(
                  [collector](const topic_stats& stats) {
                    collector->collected.push_back(stats);
                    collector->done_one();
                  },
                  [collector](const caf::error&) { collector->done_one(); });
        }
        return collector->promise;
      },
      [self](reload_atom, const config& next) { apply_topics(self, next); },
  };
}

}  // namespace happy
