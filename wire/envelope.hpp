#pragma once

// The one JSON object every topic stream carries (README "Protocol"):
// {"<topic>":<value>,"topic":"<topic>","seq":<n>,"ts":<unix ms>}

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace happy {

// `value_json` must already be valid JSON; topic names need no escaping.
std::string make_envelope(std::string_view topic, std::string_view value_json, std::uint64_t seq,
                          std::int64_t ts_ms);

// The value and timestamp inside an envelope make_envelope wrote for
// `topic`; nullopt when it is not one.
struct envelope_parts {
  std::string_view value_json;
  std::int64_t ts_ms = 0;
};
std::optional<envelope_parts> split_envelope(std::string_view topic, std::string_view envelope);

// Shortest text that reads back as the same double (as JSON needs it).
std::string number_json(double value);

std::int64_t unix_millis_now();

}  // namespace happy
