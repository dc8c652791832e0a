#pragma once

// Decides whether a publish may go ahead, before any actor is involved:
// the token (constant-time) and the body (one JSON value, bounded depth).

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

// `authorization` is the Authorization header ("Bearer <t>"), `query_token`
// the ?token= value; either may be empty.
publish_check check_publish_token(const std::vector<std::string>& tokens,
                                  std::string_view authorization, std::string_view query_token);

// Parses `body` as exactly one JSON value.
publish_check check_publish_body(std::string_view body);

// Compares without an early exit, so timing does not reveal the common prefix.
bool equal_in_constant_time(std::string_view a, std::string_view b);

}  // namespace happy
