#pragma once

// The WebSocket publisher's keyed frames (README "Publishing"): with
// ?keyed=1 every text frame is {"idempotency_key":"<key>","value":<JSON>},
// and the key does for that value what an Idempotency-Key header does for a
// POST: with JetStream, sending it again (to any node) stores it once.

#include <string>
#include <string_view>

namespace happy {

// An Idempotency-Key: 1 to 128 printable ASCII characters, no spaces.
inline constexpr std::size_t max_idempotency_key_bytes = 128;
bool is_valid_idempotency_key(std::string_view key);

struct keyed_publish {
  std::string key;
  std::string value_json;  // compact, as check_reading wrote it
  std::string error;       // non-empty: the frame is refused, and why
};

// `frame_json`: a frame check_reading accepted (compact JSON).
keyed_publish read_keyed_publish(std::string_view frame_json);

}  // namespace happy
