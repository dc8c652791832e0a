#include "actors/jetstream_log.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <chrono>

#include "wire/envelope.hpp"
#include "actors/happy_error.hpp"
#include "actors/hub.hpp"
#include "log/log.hpp"

namespace happy {

namespace {

// An unanswered attempt is given up after this (a frozen leader answers
// nothing), and a refused one is tried again after a pause: together they
// ride out a leader election (about 5 s) within nats.publish_timeout_ms.
constexpr std::int64_t attempt_wait_ms = 2000;
constexpr auto retry_pause = std::chrono::milliseconds(250);
constexpr auto setup_retry_pause = std::chrono::seconds(1);

hub_actor handle_of(hub_state& hub) { return caf::actor_cast<hub_actor>(hub.self); }

}  // namespace

jetstream_log::jetstream_log(jetstream_link link) : link_(std::move(link)) {
  id_prefix_ = link_.link->settings().node + "-" + std::to_string(unix_millis_now()) + "-";
}

void jetstream_log::start(hub_state& hub) {
  subject_ = stream_subject_of(hub.topic);
  hub.self->request(link_.admin, caf::infinite, ensure_atom::value, hub.topic, link_.limits)
      .then(
          [&hub, this](stream_report& report) {
            ready_ = true;
            follow(hub, first_to_follow(hub, report));
            catch_up_to_ = report.last_seq;
            admit_if_caught_up(hub);
            hub.release_held();
          },
          [&hub](const caf::error& error) {
            log_warning("jetstream: topic '" + hub.topic + "': stream not set up (" +
                        to_string(error) + "); trying again");
            hub.self->delayed_send(hub.self, setup_retry_pause, retry_atom::value, std::uint64_t{0});
          });
}

std::uint64_t jetstream_log::first_to_follow(hub_state& hub, const stream_report& report) {
  if (!hub.store) {
    // What history can hold, then everything after it, in order.
    std::uint64_t capacity = std::max<std::uint64_t>(hub.history.capacity(), 1);
    return report.last_seq >= capacity ? report.last_seq - capacity + 1 : 1;
  }
  if (hub.seq > report.last_seq) {
    log_warning("jetstream: topic '" + hub.topic + "': the history file holds seq " +
                std::to_string(hub.seq) + " but the stream ends at " + std::to_string(report.last_seq) +
                ": the file's readings of this topic are from another stream; refilling it from the stream");
    hub.self->send(hub.store, forget_atom::value, hub.topic);
    hub.start_over();
  }
  // The file and the ring hold everything up to hub.seq: on from there (the
  // follower skips ahead to the stream's first seq by itself).
  return hub.seq + 1;
}

void jetstream_log::follow(hub_state& hub, std::uint64_t from_seq) {
  hub.self->request(follow_admin(), caf::infinite, follow_atom::value, hub.topic, from_seq, handle_of(hub))
      .then([this](std::shared_ptr<stream_follower>& follower) { follower_ = std::move(follower); },
            [&hub](const caf::error& error) {
              log_warning("jetstream: topic '" + hub.topic + "': cannot follow the stream (" +
                          to_string(error) + "); trying again");
              // Set up and follow again, from where history then stands.
              hub.self->delayed_send(hub.self, setup_retry_pause, retry_atom::value, std::uint64_t{0});
            });
}

void jetstream_log::on_retry(hub_state& hub, std::uint64_t id) {
  if (id == 0) {
    if (!follower_) start(hub);
    return;
  }
  if (in_flight_.count(id)) send(hub, id);
}

void jetstream_log::append(hub_state& hub, log_entry entry) {
  bool producer = entry.producer;
  if (producer && link_.leases && !link_.leases->holds(hub.topic, unix_millis_now())) {
    // The lease may have moved while this node could not renew it (paused).
    ++link_.link->publishes_fenced;
    return;
  }
  std::uint64_t id = ++next_id_;
  in_flight sent;
  sent.value_json = std::move(entry.value_json);
  // A client's key makes its retries (to any node) one reading; ours are unique.
  sent.message_id = entry.key.empty() ? id_prefix_ + std::to_string(id) : "key:" + entry.key;
  sent.accepted_ms = entry.accepted_ms;
  sent.deadline_ms = sent.accepted_ms + link_.link->settings().publish_timeout_ms;
  if (producer)
    sent.expect_last_seq = hub.seq;
  else
    sent.promise = std::move(entry.promise);
  in_flight_.emplace(id, std::move(sent));
  send(hub, id);
}

void jetstream_log::send(hub_state& hub, std::uint64_t id) {
  auto& entry = in_flight_.at(id);
  std::int64_t left = entry.deadline_ms - unix_millis_now();
  auto target = handle_of(hub);
  link_.link->publish(subject_, entry.value_json, entry.message_id, entry.accepted_ms,
                      entry.expect_last_seq, std::clamp<std::int64_t>(left, 1, attempt_wait_ms),
                      [target, id](publish_outcome outcome) {
                        // The client's ack thread: hand the answer to the hub, nothing more.
                        caf::anon_send(target, appended_atom::value, id, std::move(outcome));
                      });
}

void jetstream_log::on_appended(hub_state& hub, std::uint64_t id, publish_outcome outcome) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return;
  auto& entry = it->second;
  auto& numbers = *link_.link;
  if (outcome.stored) {
    ++numbers.publishes_acked;
    numbers.ack_latency_us_sum += static_cast<std::uint64_t>(
        std::max<std::int64_t>(0, unix_millis_now() - entry.accepted_ms) * 1000);
    if (entry.promise) entry.promise->deliver(outcome.seq);
    in_flight_.erase(it);
    return;
  }
  if (outcome.sequence_moved && entry.expect_last_seq != 0) {
    // Another node published since this one last saw the stream: it is not
    // (or no longer) the lease holder, and its reading must not count twice.
    ++numbers.publishes_fenced;
    log_debug("jetstream: topic '" + hub.topic + "': a reading of this node's producer was fenced off");
    in_flight_.erase(it);
    return;
  }
  if (outcome.retryable && unix_millis_now() + retry_pause.count() < entry.deadline_ms) {
    ++numbers.publish_retries;
    hub.self->delayed_send(hub.self, retry_pause, retry_atom::value, id);
    return;
  }
  ++numbers.publishes_failed;
  log_warning("jetstream: topic '" + hub.topic + "': a publish was not stored: " + outcome.error);
  if (entry.promise) entry.promise->deliver(make_error(happy_errc::log_unavailable));
  in_flight_.erase(it);
}

void jetstream_log::on_reading(hub_state& hub, stream_reading reading) {
  // The follower hands each seq once and in order; after a retention gap
  // (or at the start) it skips ahead, never back.
  if (reading.seq <= hub.seq) return;
  ++link_.link->readings_followed;
  hub.accept_reading(reading.value_json, reading.accepted_ms, reading.seq);
  admit_if_caught_up(hub);
}

bool jetstream_log::caught_up(const hub_state& hub) const { return ready_ && hub.seq >= catch_up_to_; }

void jetstream_log::admit_if_caught_up(hub_state& hub) {
  if (!hub.waiting.empty() && caught_up(hub)) hub.admit_waiting();
}

void jetstream_log::resize(hub_state& hub, std::uint64_t history_capacity) {
  std::uint64_t keep = std::max(history_capacity, link_.stored_readings);
  if (link_.limits.max_readings == keep) return;
  link_.limits.max_readings = keep;
  hub.self->request(link_.admin, caf::infinite, ensure_atom::value, hub.topic, link_.limits)
      .then([](const stream_report&) {},
            [&hub](const caf::error& error) {
              log_warning("jetstream: topic '" + hub.topic + "': stream limits not updated (" +
                          to_string(error) + "); they apply at the next start");
            });
}

void jetstream_log::stop(hub_state&) {
  ready_ = false;
  if (follower_) caf::anon_send(follow_admin(), dispose_atom::value, std::move(follower_));
  follower_ = nullptr;
  // The hub is ending: what is still in flight is refused now (it may still
  // be stored, at most once under its message id).
  for (auto& entry : in_flight_)
    if (entry.second.promise) entry.second.promise->deliver(make_error(happy_errc::log_unavailable));
  in_flight_.clear();
}

}  // namespace happy
