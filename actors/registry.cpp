#include "actors/registry.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>

#include <algorithm>
#include <chrono>

#include "actors/generator.hpp"
#include "actors/hub.hpp"
#include "actors/topic_list_json.hpp"

namespace happy {

namespace {

caf::actor start_topic(caf::stateful_actor<registry_state>* self, const std::string& name,
                       const topic_config& topic) {
  auto& s = self->state;
  std::int64_t interval = topic.generator ? topic.generator->interval_ms : 0;
  auto hub_actor = self->spawn<caf::linked>(hub, name, s.cfg.history_of(name), interval);
  if (topic.generator)
    s.generators.emplace(name, self->spawn<caf::linked>(generator, hub_actor, *topic.generator));
  return hub_actor;
}

// Collects one topic_stats per hub and answers with the JSON list.
struct list_collector {
  caf::typed_response_promise<std::string> promise;
  std::vector<topic_stats> collected;
  std::size_t pending = 0;

  void done_one() {
    if (--pending > 0) return;
    std::sort(collected.begin(), collected.end(),
              [](const topic_stats& a, const topic_stats& b) { return a.name < b.name; });
    promise.deliver(topic_list_json(collected));
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
      [self](publish_atom, const std::string& topic,
             const std::string& value_json) {
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
      [self](list_atom) -> caf::result<std::string> {
        if (self->state.hubs.empty()) return std::string("[]");
        auto collector = std::make_shared<list_collector>();
        collector->promise = self->make_response_promise<std::string>();
        collector->pending = self->state.hubs.size();
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
  };
}

}  // namespace happy
