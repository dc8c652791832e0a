#include "actors/registry.hpp"

#include <algorithm>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_response_promise.hpp>
#include <chrono>
#include <functional>

#include "actors/gather.hpp"
#include "actors/generator.hpp"
#include "actors/happy_error.hpp"
#include "actors/hub.hpp"
#include "actors/lease_keeper.hpp"
#include "actors/source.hpp"
#include "config/source_reader.hpp"
#include "config/topic_name.hpp"
#include "log/log.hpp"

namespace happy {

namespace {

constexpr std::chrono::milliseconds hub_answer_timeout{5000};
// JetStream: how soon a topic another node created is served here too.
constexpr std::chrono::milliseconds stream_discovery_interval{2000};

generator_actor start_generator(registry_pointer self, const hub_actor& topic_hub,
                                const generator_config& cfg) {
  return self->spawn<caf::linked>(generator, topic_hub, cfg);
}

source_actor start_source(registry_pointer self, const std::string& name,
                          const hub_actor& topic_hub, const source_config& cfg) {
  return self->spawn<caf::linked>(source, name, topic_hub, cfg, self->state.source_numbers);
}

// Starts what produces the topic's readings: its generator or its source.
void start_producer(registry_pointer self, const std::string& name, const hub_actor& topic_hub,
                    const topic_config& topic) {
  auto& s = self->state;
  if (topic.generator) s.generators.emplace(name, start_generator(self, topic_hub, *topic.generator));
  if (topic.source) s.sources.emplace(name, start_source(self, name, topic_hub, *topic.source));
}


// Whether the topic's generator or source runs on this node: with JetStream
// where its lease is held; else always.
bool produces_here(const registry_state& s, const std::string& name) {
  return s.jetstream.link ? s.leased.count(name) > 0 : true;
}

// The stream's limits follow the topic's history and, with a history file
// (a cache of the stream), the file's retention: the stream keeps what the
// file keeps, so a new node's file is filled whole.
jetstream_link stream_link_of(const registry_state& s, const std::string& name) {
  if (!s.jetstream.link) return {};
  stream_limits limits;
  limits.replicas = s.cfg.nats->replicas;
  std::uint64_t stored = s.cfg.storage.enabled() ? s.cfg.storage.max_readings_per_topic : 0;
  limits.max_readings = std::max<std::uint64_t>(s.cfg.history_of(name), stored);
  if (s.cfg.storage.enabled()) limits.max_age_ms = s.cfg.storage.max_age_ms;
  const auto& pool = s.jetstream.setup_admins;
  auto setup = pool.empty() ? s.jetstream.admin : pool[std::hash<std::string>{}(name) % pool.size()];
  return {s.jetstream.link, setup, limits, stored, s.jetstream.leases, s.jetstream.admin};
}

// The lease keeper tries for the topics that have a generator or source.
void want_leases(registry_pointer self) {
  auto& s = self->state;
  if (!s.leases) return;
  std::vector<std::string> wanted;
  for (const auto& [name, topic] : s.cfg.topics)
    if (topic.generator || topic.source) wanted.push_back(name);
  self->send(s.leases, leases_atom::value, std::move(wanted));
}

hub_actor start_topic(registry_pointer self, const std::string& name, const topic_config& topic) {
  auto& s = self->state;
  std::int64_t interval = s.cfg.interval_of(name);
  hub_storage storage{s.store, s.storage, 0, {}};
  if (auto stored = s.restored.find(name); stored != s.restored.end()) {
    storage.last_seq = stored->second.last_seq;
    storage.recent = std::move(stored->second.recent);
    s.restored.erase(stored);
  }
  auto topic_hub = self->spawn<caf::linked>(hub, name, s.cfg.history_of(name), interval,
                                            std::move(storage), stream_link_of(s, name));
  // The store ends after every hub: their last readings reach the file.
  if (s.store) self->send(s.store, watch_atom::value, topic_hub);
  // With JetStream only the lease holder generates the topic's readings.
  if (produces_here(s, name)) start_producer(self, name, topic_hub, topic);
  return topic_hub;
}

// Stopping one child must not take the registry down with it: unlink first.
template <class Handle>
void stop_child(registry_pointer self, const Handle& child) {
  self->unlink_from(child);
  self->send_exit(child, caf::exit_reason::user_shutdown);
}

template <class Handle>
void stop_in(registry_pointer self, std::map<std::string, Handle>& running, const std::string& name) {
  if (auto it = running.find(name); it != running.end()) {
    stop_child(self, it->second);
    running.erase(it);
  }
}

void stop_producer(registry_pointer self, const std::string& name) {
  stop_in(self, self->state.generators, name);
  stop_in(self, self->state.sources, name);
}

// Runs the topic's generator or source exactly when the config has one and
// it runs here (produces_here).
void reconcile_producer(registry_pointer self, const std::string& name) {
  auto& s = self->state;
  auto topic = s.cfg.topics.find(name);
  auto hub_it = s.hubs.find(name);
  bool here = topic != s.cfg.topics.end() && hub_it != s.hubs.end() && produces_here(s, name);
  bool want_generator = here && topic->second.generator;
  bool want_source = here && topic->second.source;
  if (!want_generator) stop_in(self, s.generators, name);
  if (!want_source) stop_in(self, s.sources, name);
  if (want_generator && !s.generators.count(name))
    s.generators.emplace(name, start_generator(self, hub_it->second, *topic->second.generator));
  if (want_source && !s.sources.count(name))
    s.sources.emplace(name, start_source(self, name, hub_it->second, *topic->second.source));
}

// The hub of `name`, started on first use (publish, or a stream another
// node created); null when limits.max_topics is reached.
hub_actor find_or_create_hub(registry_pointer self, const std::string& name) {
  auto& s = self->state;
  auto it = s.hubs.find(name);
  if (it != s.hubs.end()) return it->second;
  if (s.hubs.size() >= s.cfg.limits.max_topics) return {};
  auto found = s.cfg.topics.find(name);
  auto started =
      start_topic(self, name, found == s.cfg.topics.end() ? topic_config{} : found->second);
  s.hubs.emplace(name, started);
  return started;
}

// The hub ends normally, so its sessions close with 1000 "topic removed".
void remove_topic(registry_pointer self, const std::string& name) {
  stop_producer(self, name);
  auto it = self->state.hubs.find(name);
  if (it == self->state.hubs.end()) return;
  self->unlink_from(it->second);
  self->send(it->second, remove_atom::value);
  // The store forgets the topic once its hub has ended: the hub's last
  // readings reach the store before that, so none of them comes back.
  if (self->state.store) {
    self->monitor(it->second);
    self->state.removed_hubs.emplace(it->second.address(), name);
  }
  self->state.hubs.erase(it);
}

// Applies a new config's topics without touching unchanged ones or clients.
void apply_topics(registry_pointer self, const config& next) {
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
    self->send(hub_it->second, reconfigure_atom::value,
               static_cast<std::uint64_t>(s.cfg.history_of(name)), s.cfg.interval_of(name));
    const std::optional<source_config> no_source;
    const auto& old_source = old == previous.topics.end() ? no_source : old->second.source;
    if (old_source != topic.source) {
      // A source is replaced, not retuned: a new one starts from a clean
      // baseline (rates) and never overlaps a run of the old configuration.
      stop_in(self, s.sources, name);
      log_info("reload: topic '" + name + "' source " +
               (!topic.source ? "removed"
                              : (old_source ? "now " : "added: ") + describe_source(*topic.source) +
                                    " every " + std::to_string(topic.source->interval_ms) + " ms"));
    }
    auto running = s.generators.find(name);
    if (topic.generator && old_generator && running != s.generators.end() &&
        *topic.generator != *old_generator) {
      self->send(running->second, reconfigure_atom::value, *topic.generator);
      log_info("reload: topic '" + name + "' generator now every " +
               std::to_string(topic.generator->interval_ms) + " ms");
    } else if (topic.generator && !old_generator) {
      log_info("reload: topic '" + name + "' generator added");
    } else if (!topic.generator && old_generator) {
      log_info("reload: topic '" + name + "' generator removed" +
               (topic.source ? "" : " (now publish-only)"));
    }
    reconcile_producer(self, name);
  }
  want_leases(self);
}

// JetStream: hubs for the streams other nodes created (by publishing), so
// every node serves every topic; then again after a pause.
void discover_streams(registry_pointer self) {
  auto& s = self->state;
  self->request(s.jetstream.admin, caf::infinite, streams_atom::value)
      .then(
          [self](const std::vector<std::string>& topics) {
            self->state.jetstream.link->set_jetstream_answers(true);
            for (const auto& name : topics)
              if (is_valid_topic_name(name) && !find_or_create_hub(self, name))
                log_warning("jetstream: topic '" + name + "' is not served here: limits.max_topics reached");
            self->delayed_send(self, stream_discovery_interval, discover_atom::value);
          },
          [self](const caf::error&) {
            // Listing streams needs JetStream's meta leader: without an
            // answer this node cannot reach a quorum (/readyz says so).
            self->state.jetstream.link->set_jetstream_answers(false);
            self->delayed_send(self, stream_discovery_interval, discover_atom::value);
          });
}

std::vector<hub_actor> all_hubs(const registry_state& s) {
  std::vector<hub_actor> hubs;
  for (const auto& entry : s.hubs) hubs.push_back(entry.second);
  return hubs;
}

// The configured topics, the ones only the history file knows, and with
// JetStream the lease keeper and the search for streams other nodes made.
void start_everything(registry_pointer self) {
  for (const auto& [name, topic] : self->state.cfg.topics)
    self->state.hubs.emplace(name, start_topic(self, name, topic));
  // Topics only the file knows (created by publishing) come back too. One
  // beyond limits.max_topics stays in `restored`: should it start later, it
  // still continues from its stored seq.
  std::vector<std::string> stored_only;
  for (const auto& entry : self->state.restored) stored_only.push_back(entry.first);
  for (const auto& name : stored_only)
    if (!find_or_create_hub(self, name))
      log_warning("storage: topic '" + name + "' is not started: limits.max_topics reached");
  if (self->state.jetstream.link) {
    // Detached: the bucket's calls wait for JetStream. Linked: it ends with the registry.
    self->state.leases = self->spawn<caf::detached + caf::linked>(
        lease_keeper, self->state.jetstream.link, caf::actor_cast<registry_actor>(self),
        self->state.jetstream.leases);
    want_leases(self);
    self->send(self, discover_atom::value);
  }
}

}  // namespace

std::vector<std::string> registry_state::topic_names() const {
  std::vector<std::string> names;
  for (const auto& entry : hubs) names.push_back(entry.first);
  return names;
}

registry_actor::behavior_type registry(registry_pointer self, config cfg,
                                       registry_storage storage,
                                       std::shared_ptr<source_counters> source_numbers,
                                       registry_jetstream jetstream) {
  self->state.cfg = std::move(cfg);
  self->state.source_numbers = std::move(source_numbers);
  self->state.jetstream = std::move(jetstream);
  self->state.store = storage.store;
  self->state.storage = std::move(storage.status);
  for (auto& topic : storage.topics) self->state.restored.emplace(topic.name, std::move(topic));
  if (auto store = storage.store) {
    self->attach_functor([store](const caf::error&) { caf::anon_send(store, stop_atom::value); });
    self->set_down_handler([self](caf::down_msg& msg) {
      auto& s = self->state;
      auto it = s.removed_hubs.find(msg.source);
      if (it == s.removed_hubs.end()) return;
      self->send(s.store, forget_atom::value, it->second);
      s.removed_hubs.erase(it);
    });
  }
  start_everything(self);
  return {
      [self](publish_atom, const std::string& topic,
             const std::string& value_json) -> caf::result<std::uint64_t> {
        // Publishing creates the topic, within limits.max_topics.
        auto topic_hub = find_or_create_hub(self, topic);
        if (!topic_hub) return make_error(happy_errc::topic_limit);
        // The hub answers the publisher directly with the seq.
        return self->delegate(topic_hub, publish_atom::value, value_json);
      },
      [self](lookup_atom,
             const std::string& topic) -> caf::result<hub_actor, std::vector<std::string>> {
        auto it = self->state.hubs.find(topic);
        hub_actor found = it == self->state.hubs.end() ? hub_actor{} : it->second;
        return {found, self->state.topic_names()};
      },
      [self](stats_atom) {
        auto promise = self->make_response_promise<std::vector<topic_stats>>();
        gather<topic_stats>(
            self, all_hubs(self->state), hub_answer_timeout,
            [promise](std::vector<topic_stats> stats) mutable {
              std::sort(stats.begin(), stats.end(),
                        [](const topic_stats& a, const topic_stats& b) { return a.name < b.name; });
              promise.deliver(std::move(stats));
            },
            stats_atom::value);
        return promise;
      },
      [self](topics_atom) { return self->state.topic_names(); },
      [self](reload_atom, const config& next) { apply_topics(self, next); },
      [self](publish_atom, const std::string& topic, std::string& value_json,
             std::string& key) -> caf::result<std::uint64_t> {
        auto topic_hub = find_or_create_hub(self, topic);
        if (!topic_hub) return make_error(happy_errc::topic_limit);
        return self->delegate(topic_hub, publish_atom::value, std::move(value_json), std::move(key));
      },
      [self](leases_atom, const std::vector<std::string>& held) {
        auto& s = self->state;
        s.leased = std::set<std::string>(held.begin(), held.end());
        for (const auto& entry : s.hubs) reconcile_producer(self, entry.first);
      },
      [self](discover_atom) { discover_streams(self); },
      [self](holders_atom, const std::vector<std::string>& topics) -> caf::result<std::vector<std::string>> {
        if (!self->state.leases) return std::vector<std::string>(topics.size());
        return self->delegate(self->state.leases, holders_atom::value, topics);
      },
  };
}

}  // namespace happy
