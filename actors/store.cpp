#include "actors/store.hpp"

#include <caf/system_messages.hpp>
#include <chrono>

#include "wire/envelope.hpp"
#include "log/log.hpp"

namespace happy {

namespace {

constexpr auto retry_every = std::chrono::seconds(1);
constexpr auto trim_every = std::chrono::seconds(2);
constexpr std::int64_t failure_log_every_ms = 60000;
// Readings per topic one retention statement deletes: a short transaction.
constexpr std::uint64_t trim_chunk = 5000;

std::size_t reading_count(const std::vector<topic_frames>& batches) {
  std::size_t n = 0;
  for (const auto& b : batches) n += b.frames->size();
  return n;
}

using store_pointer = store_actor::stateful_pointer<store_state>;

// Whether a failure line is due (one a minute: a full disk must not fill the log too).
bool failure_log_due(std::int64_t& last_log_ms) {
  auto now = unix_millis_now();
  if (now - last_log_ms < failure_log_every_ms) return false;
  last_log_ms = now;
  return true;
}

// A write failed: publishes are refused until a retry works.
void report_failure(store_state& s, const write_failure& failure) {
  ++s.status->write_errors;
  ++s.failures_since_log;
  s.status->writable = false;
  if (!failure_log_due(s.last_failure_log_ms)) return;
  log_error("storage: cannot write " + s.settings.path + ": " + failure.message + " (" +
            std::to_string(s.failures_since_log) + " failed in the last minute; " +
            std::to_string(s.retained_readings) +
            " readings kept for a retry; publishes are answered 503 until it works again)");
  s.failures_since_log = 0;
}

// A delete failed (`doing`: retention, or forgetting a topic): counted and
// logged, tried again later; publishes go on.
void report_delete_failure(store_state& s, const write_failure& failure, const std::string& doing) {
  ++s.status->write_errors;
  ++s.delete_failures_since_log;
  if (!failure_log_due(s.last_delete_failure_log_ms)) return;
  log_error("storage: cannot " + doing + " " + s.settings.path + ": " + failure.message + " (" +
            std::to_string(s.delete_failures_since_log) + " failed in the last minute)");
  s.delete_failures_since_log = 0;
}

// Writes what is kept and pending in one transaction and tells the hubs.
void commit(store_pointer self) {
  auto& s = self->state;
  s.commit_scheduled = false;
  if (s.pending.empty() && s.retained.empty()) return;
  std::vector<topic_frames> batches = std::move(s.retained);
  s.retained.clear();
  std::size_t retried = s.retained_readings;
  s.retained_readings = 0;
  batches.insert(batches.end(), std::make_move_iterator(s.pending.begin()),
                 std::make_move_iterator(s.pending.end()));
  s.pending.clear();
  auto tell = std::move(s.waiting);
  s.waiting.clear();
  auto failure = s.db->write(batches);
  if (!failure) {
    if (!s.status->writable.exchange(true))
      log_info("storage: writing to " + s.settings.path + " again (" + std::to_string(retried) +
               " kept readings written)");
    ++s.status->commits;
    s.status->readings_written += reading_count(batches);
    s.status->pending_readings = 0;
    s.failures_since_log = 0;
  } else {
    s.retained = std::move(batches);
    s.retained_readings = reading_count(s.retained);
    // Bounded: the oldest kept readings go first (they were answered "unavailable").
    while (s.retained_readings > max_retained_readings && !s.retained.empty()) {
      s.retained_readings -= s.retained.front().frames->size();
      s.status->readings_dropped += s.retained.front().frames->size();
      s.retained.erase(s.retained.begin());
    }
    s.status->pending_readings = s.retained_readings;
    report_failure(s, *failure);
    if (!s.retry_scheduled) {
      s.retry_scheduled = true;
      self->delayed_send(self, retry_every, retry_atom::value);
    }
  }
  for (const auto& entry : tell) {
    const auto& [hub, seq] = entry.second;
    self->send(hub, stored_atom::value, seq, !failure);
  }
}

void quit_if_done(store_pointer self) {
  auto& s = self->state;
  if (!s.stopping || !s.hubs.empty()) return;
  commit(self);
  // Everything handed to the store is on disk: the next start needs no seq margin.
  if (s.retained.empty()) {
    if (auto failure = s.db->mark_clean_shutdown())
      log_warning("storage: cannot mark " + s.settings.path + " as cleanly stopped (" + failure->message +
                  "); the next start continues every seq above a margin, as after a crash");
  }
  self->quit();
}

}  // namespace

store_actor::behavior_type store(store_actor::stateful_pointer<store_state> self,
                                 std::shared_ptr<history_db> db, storage_config settings,
                                 std::shared_ptr<storage_status> status) {
  auto& s = self->state;
  s.db = std::move(db);
  s.settings = std::move(settings);
  s.status = std::move(status);
  self->set_down_handler([self](caf::down_msg& msg) {
    self->state.hubs.erase(msg.source);
    quit_if_done(self);
  });
  self->delayed_send(self, trim_every, trim_atom::value);
  return {
      [self](append_atom, const hub_actor& hub, std::string& topic, const frame_batch& frames) {
        auto& s = self->state;
        if (!frames || frames->empty()) return;
        if (s.hubs.insert(hub.address()).second) self->monitor(hub);
        s.pending.push_back({std::move(topic), frames});
        auto& [waiting_hub, newest] = s.waiting[hub.address()];
        waiting_hub = hub;
        newest = std::max(newest, frames->back().seq);
        if (s.commit_scheduled) return;
        // Lands behind every append queued now: they all join this transaction.
        s.commit_scheduled = true;
        self->send(self, commit_atom::value);
      },
      [self](commit_atom) { commit(self); },
      [self](watch_atom, const hub_actor& hub) {
        if (hub && self->state.hubs.insert(hub.address()).second) self->monitor(hub);
      },
      [self](forget_atom, const std::string& topic) {
        commit(self);  // its hub's last readings (sent before it ended) first
        if (auto failure = self->state.db->forget(topic)) {
          // Its readings stay in the file (and come back as a topic at the next start).
          report_delete_failure(self->state, *failure, "forget topic '" + topic + "' in");
        }
      },
      [self](stop_atom) {
        self->state.stopping = true;
        quit_if_done(self);
      },
      [self](retry_atom) {
        self->state.retry_scheduled = false;
        commit(self);
      },
      [self](trim_atom) {
        auto& s = self->state;
        auto trimmed = s.db->trim(unix_millis_now() - s.settings.max_age_ms,
                                  s.settings.max_readings_per_topic, trim_chunk);
        s.status->readings_deleted += trimmed.deleted;
        if (trimmed.failure) report_delete_failure(s, *trimmed.failure, "apply retention to");
        // More to delete: go on right after the writes queued meanwhile.
        if (!trimmed.failure && trimmed.deleted >= trim_chunk)
          self->send(self, trim_atom::value);
        else
          self->delayed_send(self, trim_every, trim_atom::value);
      },
  };
}

}  // namespace happy
