#include "actors/registry.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/response_promise.hpp>
#include <caf/typed_response_promise.hpp>

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
  auto hub_actor =
      self->spawn<caf::linked>(hub, name, s.cfg.history_of(name), interval, s.counters);
  if (s.view.clustered) self->send(hub_actor, view_atom::value, s.view.replica_targets());
  // In a cluster only the topic's owner generates its readings.
  if (topic.generator && s.view.owns(name))
    s.generators.emplace(name, start_generator(self, hub_actor, *topic.generator));
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

// Runs the topic's generator exactly when the config has one and this node
// owns the topic.
void reconcile_generator(registry_actor* self, const std::string& name) {
  auto& s = self->state;
  auto topic = s.cfg.topics.find(name);
  auto hub_it = s.hubs.find(name);
  bool wanted = topic != s.cfg.topics.end() && topic->second.generator && hub_it != s.hubs.end() &&
                s.view.owns(name);
  bool running = s.generators.count(name) > 0;
  if (wanted && !running)
    s.generators.emplace(name, start_generator(self, hub_it->second, *topic->second.generator));
  else if (!wanted && running)
    stop_generator(self, name);
}

// The hub of `name`, started on first use (publish or another node's
// reading); null when limits.max_topics is reached.
caf::actor hub_of(registry_actor* self, const std::string& name) {
  auto& s = self->state;
  auto it = s.hubs.find(name);
  if (it != s.hubs.end()) return it->second;
  if (s.hubs.size() >= s.cfg.limits.max_topics) return {};
  auto found = s.cfg.topics.find(name);
  auto started = start_topic(self, name, found == s.cfg.topics.end() ? topic_config{} : found->second);
  s.hubs.emplace(name, started);
  return started;
}

// Answers `promise` with the histories of `hubs` once every hub answered.
void collect_snapshots(registry_actor* self, const std::vector<caf::actor>& hubs,
                       caf::typed_response_promise<snapshot_list> promise) {
  if (hubs.empty()) {
    promise.deliver(snapshot_list{});
    return;
  }
  auto collected = std::make_shared<snapshot_list>();
  auto pending = std::make_shared<std::size_t>(hubs.size());
  auto done_one = [promise, collected, pending]() mutable {
    if (--*pending == 0) promise.deliver(std::move(*collected));
  };
  for (const auto& hub_actor : hubs)
    self->request(hub_actor, std::chrono::seconds(5), snapshot_atom::value)
        .then(
            [collected, done_one](topic_snapshot& snapshot) mutable {
              collected->push_back(std::move(snapshot));
              done_one();
            },
            [done_one](const caf::error&) mutable { done_one(); });
}

// This node just became the owner of `gained`: their hubs hold publishes
// until every other node has sent its history of them (or 1 s passed), so
// the seqs continue from the highest any node holds. A former owner that is
// still alive answers only after it has applied the same view, so nothing it
// accepted is missing from its answer.
void take_over(registry_actor* self, const std::vector<std::string>& gained) {
  auto& s = self->state;
  for (const auto& name : gained) self->send(s.hubs.at(name), handover_atom::value, true);
  auto pending = std::make_shared<std::size_t>(s.view.peers.size());
  auto finish = [self, gained, pending] {
    if (--*pending > 0) return;
    for (const auto& name : gained)
      if (auto it = self->state.hubs.find(name); it != self->state.hubs.end())
        self->send(it->second, handover_atom::value, false);
  };
  for (const auto& entry : s.view.peers)
    self->request(entry.second, std::chrono::seconds(1), snapshot_atom::value, gained)
        .then(
            [self, finish](snapshot_list& snapshots) {
              for (auto& snapshot : snapshots)
                if (auto it = self->state.hubs.find(snapshot.topic); it != self->state.hubs.end())
                  self->send(it->second, sync_atom::value, std::move(snapshot));
              finish();
            },
            [finish](const caf::error&) { finish(); });
}

// A new picture of the cluster: replicate to its peers, move generators, and
// take over the topics this node now owns.
void apply_view(registry_actor* self, cluster_view next) {
  auto& s = self->state;
  cluster_view previous = std::move(s.view);
  s.view = std::move(next);
  auto targets = s.view.replica_targets();
  std::vector<std::string> gained;
  for (const auto& [name, hub_actor] : s.hubs) {
    self->send(hub_actor, view_atom::value, targets);
    if (s.view.owns(name) && !previous.owns(name)) gained.push_back(name);
  }
  if (!gained.empty() && !s.view.peers.empty()) take_over(self, gained);
  // After the hold: a generator's first reading waits for the histories too.
  for (const auto& entry : s.hubs) reconcile_generator(self, entry.first);
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
    auto running = s.generators.find(name);
    if (topic.generator && old_generator && running != s.generators.end() &&
        *topic.generator != *old_generator) {
      self->send(running->second, reconfigure_atom::value, *topic.generator);
      log_info("reload: topic '" + name + "' generator now every " +
               std::to_string(topic.generator->interval_ms) + " ms");
    } else if (topic.generator && !old_generator) {
      log_info("reload: topic '" + name + "' generator added");
    } else if (!topic.generator && old_generator) {
      log_info("reload: topic '" + name + "' generator removed (now publish-only)");
    }
    reconcile_generator(self, name);
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

caf::behavior registry(caf::stateful_actor<registry_state>* self, config cfg,
                       std::shared_ptr<cluster_counters> counters) {
  self->state.cfg = std::move(cfg);
  if (self->state.cfg.cluster) {
    // Until the cluster actor's first view, a cluster node owns nothing.
    self->state.view.clustered = true;
    self->state.view.self = self->state.cfg.cluster->node;
  }
  self->state.counters = std::move(counters);
  for (const auto& [name, topic] : self->state.cfg.topics)
    self->state.hubs.emplace(name, start_topic(self, name, topic));
  return {
      [self](lookup_atom, const std::string& topic) {
        auto it = self->state.hubs.find(topic);
        caf::actor found = it == self->state.hubs.end() ? caf::actor{} : it->second;
        return caf::make_message(found, self->state.topic_names());
      },
      [self](publish_atom, const std::string& topic, const std::string& value_json) {
        auto promise = self->make_response_promise();
        // Publishing creates the topic, within limits.max_topics.
        auto hub_actor = hub_of(self, topic);
        if (!hub_actor) {
          promise.deliver(std::uint64_t{0});
          return promise;
        }
        // The hub answers the publisher directly with the seq.
        promise.delegate(hub_actor, publish_atom::value, value_json);
        return promise;
      },
      [self](topics_atom) { return self->state.topic_names(); },
      [self](view_atom, cluster_view& next) { apply_view(self, std::move(next)); },
      [self](replica_atom, const std::string& topic, std::uint64_t seq, std::string& envelope) {
        if (auto hub_actor = hub_of(self, topic))
          self->send(hub_actor, replica_atom::value, seq, std::move(envelope));
      },
      [self](sync_atom, snapshot_list& snapshots) {
        for (auto& snapshot : snapshots)
          if (auto hub_actor = hub_of(self, snapshot.topic))
            self->send(hub_actor, sync_atom::value, std::move(snapshot));
      },
      [self](snapshot_atom) {
        auto promise = self->make_response_promise<snapshot_list>();
        std::vector<caf::actor> hubs;
        for (const auto& entry : self->state.hubs) hubs.push_back(entry.second);
        collect_snapshots(self, hubs, promise);
        return promise;
      },
      [self](snapshot_atom, const std::vector<std::string>& topics) {
        auto promise = self->make_response_promise<snapshot_list>();
        std::vector<caf::actor> hubs;
        for (const auto& name : topics)
          if (auto it = self->state.hubs.find(name); it != self->state.hubs.end())
            hubs.push_back(it->second);
        collect_snapshots(self, hubs, promise);
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
