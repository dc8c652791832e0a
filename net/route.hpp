#pragma once

// What a request target asks for, decided without touching a socket, so the
// rules are unit-testable (and fuzzable) on their own.

#include <cstdint>
#include <string>
#include <string_view>

#include "wire/vocabulary.hpp"

namespace happy {

struct route {
  enum class kind {
    index,         // GET /  (the dashboard page)
    asset,         // GET /assets/<file>  (`asset` holds <file>)
    health,        // GET /healthz
    ready,         // GET /readyz
    metrics,       // GET /metrics
    topic_list,    // GET /topics
    cluster,       // GET /cluster
    auth_info,     // GET /api/auth: where the page gets a token
    topic,         // /topics/<name> or /<name>: GET subscribes, POST publishes
    publisher,     // /topics/<name>/publish: WebSocket publisher
    history,       // GET /topics/<name>/history: stored readings in buckets
    not_found,
    bad_request,   // `error` says why
  };
  kind what = kind::not_found;
  std::string topic;
  std::string asset;
  replay_request replay;
  std::string token;  // ?token=, an alternative to Authorization: Bearer
  bool poll = false;                // ?poll=1: long-poll
  std::uint64_t poll_timeout_s = 25;  // ?timeout=S, 0..60
  bool ack = false;                 // ?ack=1 on a publisher: answer {"seq":n} per value
  bool keyed = false;               // ?keyed=1 on a publisher: frames carry an idempotency_key
  // history: ?from=&to= (Unix ms; 0: not given) and ?points= (1..max_history_points)
  std::int64_t from_ms = 0;
  std::int64_t to_ms = 0;
  std::uint32_t points = 500;
  std::string error;
};

// Parses `target` ("/path?query", RFC 3986 origin-form, percent-decoded) and
// validates the query values it uses: since=<u64>, last=<u64> (not both),
// token=<text>, poll=1, timeout=<0..60>. Unknown parameters are ignored; a
// target that is not a valid origin-form is a bad request.
route parse_route(std::string_view target);

inline constexpr std::uint32_t max_history_points = 2000;

}  // namespace happy
