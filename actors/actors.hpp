#pragma once

// Every actor's protocol, in one place: what it takes and what it answers.
// The compiler checks each behavior and each send against these interfaces.

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/messages.hpp"

namespace happy {

// One subscriber connection (actors/session.hpp).
using session_actor = caf::typed_actor<
    // From the hub, first: the subscription is in place; the history to
    // replay, the hub's seq, and whether its seqs come from a log other
    // nodes follow too (JetStream), so a client may have seen further.
    caf::reacts_to<subscribed_atom, frame_list, std::uint64_t, bool>,
    // From the hub: live frames, oldest first.
    caf::reacts_to<frames_atom, frame_batch>,
    // From the transport: the client is gone.
    caf::reacts_to<transport_closed_atom>,
    // From the hub: its seqs start over (its history was replaced); the
    // client is closed with 1012 and reconnects.
    caf::reacts_to<restart_atom>>;

// Whatever takes a publish and answers the seq it got, or happy_errc::topic_limit:
// the registry (actors/registry.hpp).
using publish_target_actor =
    caf::typed_actor<caf::replies_to<publish_atom, std::string, std::string>::with<std::uint64_t>,
                     // With an idempotency key: (topic, value, key).
                     caf::replies_to<publish_atom, std::string, std::string, std::string>::with<std::uint64_t>>;

// One topic's fan-out point (actors/hub.hpp).
using hub_actor = caf::typed_actor<
    // The session becomes a subscriber: it gets (subscribed …), then
    // (frames …) for every flush.
    caf::reacts_to<subscribe_atom, session_actor, replay_request>,
    caf::reacts_to<unsubscribe_atom, session_actor>,
    caf::replies_to<publish_atom, std::string>::with<std::uint64_t>,
    caf::replies_to<stats_atom>::with<topic_stats>,
    // New history capacity and generator interval (0: none).
    caf::reacts_to<reconfigure_atom, std::uint64_t, std::int64_t>,
    // The topic was removed: end normally.
    caf::reacts_to<remove_atom>,
    // To itself: fan out the unsent frames.
    caf::reacts_to<flush_atom>,
    // To itself: the sessions waiting since admission round N have waited
    // long enough for the log to catch up.
    caf::reacts_to<admit_atom, std::uint64_t>,
    // From the store: its readings up to this seq are committed (true) or
    // could not be written (false); their publishes get their answers.
    caf::reacts_to<stored_atom, std::uint64_t, bool>,
    // A publish with an idempotency key (with JetStream: the message id).
    caf::replies_to<publish_atom, std::string, std::string>::with<std::uint64_t>,
    // JetStream: what the stream answered to publish N; the stream's next
    // reading (from the follower); to itself: send publish N again, or
    // (0) try to set the stream up again.
    caf::reacts_to<appended_atom, std::uint64_t, publish_outcome>,
    caf::reacts_to<reading_atom, stream_reading>, caf::reacts_to<retry_atom, std::uint64_t>>;

// Makes the JetStream calls that block (stream set-up and reports, starting
// and ending followers) on a thread of its own (actors/nats_admin.hpp).
using nats_admin_actor = caf::typed_actor<
    caf::replies_to<ensure_atom, std::string, stream_limits>::with<stream_report>,
    // (topic, first seq, hub): a follower that sends the hub (reading …) per reading.
    caf::replies_to<follow_atom, std::string, std::uint64_t,
                    hub_actor>::with<std::shared_ptr<stream_follower>>,
    // The topics whose streams exist; the reports of these topics' streams.
    caf::replies_to<streams_atom>::with<std::vector<std::string>>,
    caf::replies_to<streams_atom, std::vector<std::string>>::with<std::vector<stream_report>>,
    caf::reacts_to<dispose_atom, std::shared_ptr<stream_follower>>>;

// The history file's writer (actors/store.hpp), on its own thread.
using store_actor = caf::typed_actor<
    // From a hub: readings to write; it answers (stored …) once committed.
    caf::reacts_to<append_atom, hub_actor, std::string, frame_batch>,
    // From the registry: a hub to wait for before stopping; a removed topic;
    // the registry has ended (stop once every hub has).
    caf::reacts_to<watch_atom, hub_actor>, caf::reacts_to<forget_atom, std::string>,
    caf::reacts_to<stop_atom>,
    // To itself.
    caf::reacts_to<commit_atom>, caf::reacts_to<trim_atom>, caf::reacts_to<retry_atom>>;

// Answers GET /topics/<name>/history from the history file (actors/history_reader.hpp).
using history_reader_actor = caf::typed_actor<
    // (topic, from ms, to ms, points)
    caf::replies_to<history_atom, std::string, std::int64_t, std::int64_t,
                    std::uint32_t>::with<history_series>>;

// A topic's reading source (actors/generator.hpp).
using generator_actor = caf::typed_actor<
    // To itself, on schedule.
    caf::reacts_to<tick_atom, std::uint64_t>, caf::reacts_to<reconfigure_atom, generator_config>>;

// A topic's real source (actors/source.hpp): to itself, on schedule.
using source_actor = caf::typed_actor<caf::reacts_to<tick_atom>>;

// Does a command or http source's blocking runs, one at a time, on a thread
// of its own (actors/source_runner.hpp).
using source_runner_actor =
    caf::typed_actor<caf::replies_to<run_atom, source_config>::with<source_outcome>>;

// Holds the leases of the topics whose generator or source should run here
// (actors/lease_keeper.hpp), on a thread of its own.
using lease_keeper_actor = caf::typed_actor<
    // From the registry: the topics that have a generator or source.
    caf::reacts_to<leases_atom, std::vector<std::string>>,
    // Who holds each of these topics' leases ("" for nobody).
    caf::replies_to<holders_atom, std::vector<std::string>>::with<std::vector<std::string>>,
    // To itself: renew, or try to take, every wanted lease.
    caf::reacts_to<tick_atom>>;

// The topic -> hub map (actors/registry.hpp).
using registry_actor = publish_target_actor::extend<
    // JetStream: the topics whose lease this node holds (their generators and
    // sources run here); to itself: look for streams other nodes created.
    caf::reacts_to<leases_atom, std::vector<std::string>>, caf::reacts_to<discover_atom>,
    // JetStream: who holds each of these topics' leases ("" for nobody).
    caf::replies_to<holders_atom, std::vector<std::string>>::with<std::vector<std::string>>,
    // The hub, or an invalid handle and the names known.
    caf::replies_to<lookup_atom, std::string>::with<hub_actor, std::vector<std::string>>,
    caf::replies_to<stats_atom>::with<std::vector<topic_stats>>,
    caf::replies_to<topics_atom>::with<std::vector<std::string>>,
    caf::reacts_to<reload_atom, config>>;

// One WebSocket publisher connection (actors/publisher.hpp).
using publisher_actor =
    caf::typed_actor<caf::reacts_to<publish_atom, std::string, publish_callback>,
                     // With an idempotency key: (value, key, callback).
                     caf::reacts_to<publish_atom, std::string, std::string, publish_callback>>;

}  // namespace happy
