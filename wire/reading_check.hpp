#pragma once

// Decides whether a value may go to subscribers, before any actor is involved:
// one JSON value, bounded depth, valid Unicode. Every reading passes it:
// published bodies (HTTP and publisher sockets) and source readings
// (sources/reading_text). It answers with a reason; net/ decides the HTTP
// status or close code. (Tokens: auth/access_policy.)

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace happy {

enum class reading_refusal : std::uint8_t {
  none,
  not_json,         // not exactly one JSON value (or bytes RapidJSON would skip)
  too_deep,         // nested deeper than max_reading_nesting
  out_of_range,     // a number JSON cannot hold (1e999)
  invalid_unicode,  // a string that is not valid Unicode (a lone surrogate)
};

struct reading_check {
  reading_refusal refusal = reading_refusal::none;
  std::string error;       // why, in words, for the client
  std::string value_json;  // the value re-serialized compactly (one line)
  bool ok() const { return refusal == reading_refusal::none; }
};

inline constexpr std::size_t max_reading_nesting = 64;

// Parses `text` as exactly one JSON value.
reading_check check_reading(std::string_view text);

// Bytes RapidJSON would read past without a word, before it parses: a NUL
// ends its document ("42\0junk" reads 42), and its byte-order-mark check
// skips EF, BB and BF each on their own ("\xBF42" reads 42). Empty when
// there are none; a whole UTF-8 BOM at the start is allowed (RFC 8259 §8.1).
std::string unread_bytes_problem(std::string_view text);

}  // namespace happy
