#pragma once

// Decides whether a value may go to subscribers, before any actor is involved:
// one JSON value, bounded depth, valid Unicode. Published bodies pass it, and
// so do source readings (sources/reading_text). (Tokens: auth/access_policy.)

#include <string>
#include <string_view>
#include <vector>

namespace happy {

struct publish_check {
  unsigned status = 0;     // 0: accepted; otherwise the HTTP status to answer
  std::string error;       // why, for the JSON error body
  std::string value_json;  // the value re-serialized compactly (one line)
};

inline constexpr std::size_t max_publish_nesting = 64;

// Parses `body` as exactly one JSON value.
publish_check check_publish_body(std::string_view body);

// Bytes RapidJSON would read past without a word, before it parses: a NUL
// ends its document ("42\0junk" reads 42), and its byte-order-mark check
// skips EF, BB and BF each on their own ("\xBF42" reads 42). Empty when
// there are none; a whole UTF-8 BOM at the start is allowed (RFC 8259 §8.1).
std::string unread_bytes_problem(std::string_view text);

}  // namespace happy
