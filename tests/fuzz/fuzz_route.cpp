// libFuzzer target: request targets ("/path?query") through happy::parse_route,
// and the input as a number through happy::parse_unsigned. Every request line a
// client sends reaches parse_route, so it must never crash and must keep its
// contract for any bytes.

#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

#include "config/topic_name.hpp"
#include "net/route.hpp"
#include "wire/number_text.hpp"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

// The obvious definition, in wider arithmetic: 1 to 20 decimal digits, no sign,
// value at most 2^64 - 1.
bool reference_u64(std::string_view text, std::uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  unsigned __int128 value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > std::numeric_limits<std::uint64_t>::max()) return false;
  out = static_cast<std::uint64_t>(value);
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding as RFC 3986 defines it; false on a broken escape.
bool reference_percent_decode(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int high = hex_digit(text[i + 1]), low = hex_digit(text[i + 2]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

bool same_route(const happy::route& a, const happy::route& b) {
  return a.what == b.what && a.topic == b.topic && a.asset == b.asset &&
         a.replay.kind == b.replay.kind && a.replay.value == b.replay.value &&
         a.token == b.token && a.poll == b.poll && a.poll_timeout_s == b.poll_timeout_s &&
         a.ack == b.ack && a.error == b.error && a.from_ms == b.from_ms && a.to_ms == b.to_ms &&
         a.points == b.points;
}

void check_route(std::string_view target) {
  using kind = happy::route::kind;
  auto r = happy::parse_route(target);
  require(same_route(r, happy::parse_route(target)), "parse_route is deterministic");
  require((r.what == kind::bad_request) == !r.error.empty(),
          "an error message exactly for bad_request");
  if (r.what == kind::topic || r.what == kind::publisher || r.what == kind::history)
    require(happy::is_valid_topic_name(r.topic), "a routed topic has a valid name");
  else
    require(r.topic.empty(), "no topic outside topic, publisher and history routes");
  if (r.what == kind::history) {
    require(r.points >= 1 && r.points <= happy::max_history_points, "points within 1..2000");
    require(r.from_ms >= 0 && r.to_ms >= 0, "no negative times");
    require(!r.from_ms || !r.to_ms || r.from_ms < r.to_ms, "from before to when both are given");
  }
  require(r.poll_timeout_s <= 60, "poll timeout within 0..60");
  if (r.what == kind::bad_request) require(r.error.size() < 400, "error message stays short");
  if (r.what != kind::topic)
    require(r.replay.kind == happy::replay_request::mode::none || r.what == kind::bad_request,
            "replay only on topic routes");
  // An encoded '/' never separates segments ("/topics%2Fsecret" is not
  // "/topics/secret" behind a proxy that filters raw paths): the target is
  // refused, whatever else it says.
  auto path = target.substr(0, target.find('?'));
  bool encoded_slash =
      path.find("%2F") != std::string_view::npos || path.find("%2f") != std::string_view::npos;
  if (encoded_slash)
    require(r.what == kind::bad_request, "an encoded '/' in the path is a bad request");
  // A path alone is a bad request only when it is no valid target at all, or
  // has an encoded '/'.
  if (r.what == kind::bad_request && target.find('?') == std::string_view::npos)
    require(
        r.error.rfind("invalid request target", 0) == 0 ||
            (encoded_slash && r.error.rfind("an encoded '/'", 0) == 0),
        "a path without a query is a bad request only as an invalid target or for an encoded '/'");
  // The path decides the route; a query can only add to it or make it a bad request.
  auto question = target.find('?');
  if (question != std::string_view::npos && r.what != kind::bad_request) {
    auto bare = happy::parse_route(target.substr(0, question));
    require(r.what == bare.what && r.topic == bare.topic && r.asset == bare.asset,
            "the query does not change the route");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  std::uint64_t got = 12345, expected = 0;
  auto parsed = happy::parse_unsigned(text);
  bool ok = parsed.has_value();
  if (ok) got = *parsed;
  require(ok == reference_u64(text, expected), "parse_unsigned accepts what the reference accepts");
  if (ok) require(got == expected, "parse_unsigned agrees with the reference value");
  else require(got == 12345, "parse_unsigned leaves out untouched on failure");

  check_route(text);

  // The same bytes as a query value of a topic route: since=<text> is a bad request
  // exactly when the text is not a u64, and otherwise replays from that value.
  std::string since = "/topics/happiness?since=";
  since.append(text.substr(0, text.find_first_of("&#")));
  auto value = std::string_view(since).substr(24);
  auto r = happy::parse_route(since);
  check_route(since);
  std::string decoded;
  if (reference_u64(value, expected)) {
    require(r.what == happy::route::kind::topic, "since=<u64> is a topic route");
    require(r.replay.kind == happy::replay_request::mode::since && r.replay.value == expected,
            "since=<u64> replays from that seq");
  } else if (r.what != happy::route::kind::bad_request) {
    // Only a percent-encoded u64 may get through.
    require(reference_percent_decode(value, decoded) && reference_u64(decoded, expected),
            "since=<not a u64> is a bad request unless it decodes to one");
    require(r.replay.kind == happy::replay_request::mode::since && r.replay.value == expected,
            "since=<encoded u64> replays from the decoded seq");
  }
  return 0;
}
