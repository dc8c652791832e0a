#pragma once

// What a request target asks for, decided without touching a socket, so the
// rules are unit-testable (and fuzzable) on their own.

#include <cstdint>
#include <string>
#include <string_view>

#include "actors/messages.hpp"

namespace happy {

struct route {
  enum class kind {
    index,         // GET /
    health,        // GET /healthz
    topic_list,    // GET /topics
    topic_stream,  // GET /topics/<name> or /<name>
    not_found,
    bad_request,   // `error` says why
  };
  kind what = kind::not_found;
  std::string topic;
  replay_request replay;
  std::string error;
};

// Splits `target` ("/path?query") and validates the query values it uses:
// since=<u64>, last=<u64> (not both). Unknown parameters are ignored.
route parse_route(std::string_view target);

// Parses a decimal unsigned 64-bit integer; false on anything else (sign, overflow, empty).
bool parse_u64(std::string_view text, std::uint64_t& out);

}  // namespace happy
