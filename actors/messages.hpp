#pragma once

// The atoms the service's actors are addressed with, and the vocabulary types
// (wire/vocabulary.hpp) they may carry inside this process. Which actor
// takes which message is written down once, as typed interfaces, in
// actors/actors.hpp.

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "wire/vocabulary.hpp"
#include "config/config.hpp"
#include "sources/source_outcome.hpp"
#include "storage/topic_stream.hpp"

namespace happy {

// generator
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using reconfigure_atom = caf::atom_constant<caf::atom("reconfig")>;
// source runner: do one run of a command or http source
using run_atom = caf::atom_constant<caf::atom("run")>;
// hub
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsubscr")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;  // to itself: fan out what is unsent
using remove_atom = caf::atom_constant<caf::atom("remove")>;  // the topic is gone: end normally
// registry
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;
using topics_atom = caf::atom_constant<caf::atom("topics")>;
// session
using subscribed_atom = caf::atom_constant<caf::atom("subscribed")>;  // from the hub: the replay
using frames_atom = caf::atom_constant<caf::atom("frames")>;          // from the hub: live frames
using transport_closed_atom = caf::atom_constant<caf::atom("tclosed")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;  // the topic's seqs start over
using admit_atom = caf::atom_constant<caf::atom("admit")>;      // to itself: waiting sessions waited enough
// store and history reader
using append_atom = caf::atom_constant<caf::atom("append")>;  // a hub's readings to write
using stored_atom = caf::atom_constant<caf::atom("stored")>;  // to the hub: written up to a seq
using commit_atom = caf::atom_constant<caf::atom("commit")>;  // to itself: write what is pending
using trim_atom = caf::atom_constant<caf::atom("trim")>;      // to itself: apply retention
using retry_atom = caf::atom_constant<caf::atom("retry")>;    // to itself: try the disk again
using watch_atom = caf::atom_constant<caf::atom("watch")>;    // from the registry: a new hub
using forget_atom = caf::atom_constant<caf::atom("forget")>;  // from the registry: topic removed
using stop_atom = caf::atom_constant<caf::atom("stop")>;      // from the registry: it has ended
using history_atom = caf::atom_constant<caf::atom("history")>;
// JetStream (README "Clustering"): the topic logs on NATS
using appended_atom = caf::atom_constant<caf::atom("appended")>;  // to a hub: JetStream's ack
using reading_atom = caf::atom_constant<caf::atom("reading")>;    // to a hub: the stream's next
using ensure_atom = caf::atom_constant<caf::atom("ensure")>;      // to the admin: make the stream
using follow_atom = caf::atom_constant<caf::atom("follow")>;      // to the admin: follow a stream
using streams_atom = caf::atom_constant<caf::atom("streams")>;    // to the admin: list / describe
using dispose_atom = caf::atom_constant<caf::atom("dispose")>;    // to the admin: end a follower
using leases_atom = caf::atom_constant<caf::atom("leases")>;      // leases wanted / held
using discover_atom = caf::atom_constant<caf::atom("discover")>;  // to the registry: look for new streams
using linked_atom = caf::atom_constant<caf::atom("linked")>;      // the NATS connection is up / down
using holders_atom = caf::atom_constant<caf::atom("holders")>;    // to the lease keeper: who holds what

}  // namespace happy

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::frame_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::publish_callback)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::frame_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::replay_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::topic_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<happy::topic_stats>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::generator_config)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::source_config)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::source_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::config)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::history_series)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::publish_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::stream_reading)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::stream_limits)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(happy::stream_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<happy::stream_report>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<happy::stream_follower>)
