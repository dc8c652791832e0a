#pragma once

// The plain data the actors and the network layer share: frames, what a
// subscriber asks to replay, a topic's numbers, why a subscription or a
// publish was refused, and the close codes. No CAF here, so net/ parsers
// (and the fuzz build) can use it without the actor library.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace happy {

// One reading as it goes on the wire: serialized once by the hub, shared by
// pointer with every session of the topic.
struct frame {
  std::uint64_t seq = 0;
  std::shared_ptr<const std::string> json;
};

using frame_list = std::vector<frame>;

// Live frames a hub fanned out together (oldest first): one immutable object
// shared by every session of the topic, so a session costs one reference.
using frame_batch = std::shared_ptr<const frame_list>;

// What a new subscriber wants to see before live readings.
struct replay_request {
  enum class mode : std::uint8_t { none, since, last };
  mode kind = mode::none;
  std::uint64_t value = 0;  // the seq for `since`, the count for `last`

  static replay_request live_only() { return {}; }
  static replay_request since(std::uint64_t seq) { return {mode::since, seq}; }
  static replay_request last(std::uint64_t count) { return {mode::last, count}; }
};

// One topic's numbers, as its hub reports them.
struct topic_stats {
  std::string name;
  std::uint64_t seq = 0;
  std::uint64_t subscribers = 0;
  std::int64_t generator_interval_ms = 0;  // 0: no generator
  std::uint64_t history_size = 0;
};

// Why a subscription did not happen; net/ turns it into a status and a body.
struct subscribe_refusal {
  enum class reason : std::uint8_t { unknown_topic, shutting_down };
  reason why = reason::shutting_down;
  std::string topic;
  std::vector<std::string> known_topics;  // for unknown_topic
};

// How a publish ended. storage_unavailable: the history file cannot be
// written (disk full, I/O error), so nothing is acknowledged.
struct publish_result {
  // quorum_unavailable: JetStream did not store it within nats.publish_timeout_ms.
  enum class outcome : std::uint8_t {
    accepted,
    topic_limit,
    unavailable,
    storage_unavailable,
    quorum_unavailable
  };
  outcome status = outcome::unavailable;
  std::uint64_t seq = 0;  // when accepted
};

// Called from an actor thread once a publish has a seq (or failed).
struct publish_callback {
  std::function<void(publish_result)> done;
};

// A topic's stored readings in time buckets (GET /topics/<name>/history).
// Plain numbers are the field with the empty name; object values give one
// field per numeric member.
struct history_field {
  std::string name;
  double min = 0, avg = 0, max = 0;
  std::uint64_t count = 0;
};
struct history_bucket {
  std::int64_t time = 0;  // mean timestamp of the bucket's readings (Unix ms)
  std::uint64_t count = 0;  // readings in the bucket
  std::vector<history_field> fields;
};
struct history_series {
  std::string topic;
  std::int64_t from = 0, to = 0, bucket_ms = 0;
  std::vector<history_bucket> buckets;
};

// Close codes shared by all transports (WebSocket numbering; streams just end).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;      // e.g. "topic removed"
inline constexpr std::uint16_t going_away = 1001;  // server shutting down
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;  // on the wire: a close frame without a code
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t service_restart = 1012;  // reconnect: the topic's history was replaced
inline constexpr std::uint16_t try_again_later = 1013;
inline constexpr std::uint16_t token_expired = 4001;  // the admitting token's exp passed
inline constexpr std::uint16_t slow_consumer = 4008;
}  // namespace close_code

}  // namespace happy
