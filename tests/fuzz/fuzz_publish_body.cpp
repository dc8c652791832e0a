// libFuzzer target: publish bodies through happy::check_reading, the gate
// every POSTed value and every WebSocket-published frame passes before it is
// stored and broadcast to every subscriber inside an envelope.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "auth/constant_time.hpp"
#include "wire/reading_check.hpp"

namespace {

void require(bool ok, const char* what, std::string_view input = {}) {
  if (ok) return;
  std::fprintf(stderr, "invariant violated: %s (value %.*s)\n", what,
               static_cast<int>(input.size() > 200 ? 200 : input.size()), input.data());
  std::abort();
}

// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}

std::size_t depth_outside_strings(std::string_view json) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto check = happy::check_reading(body);
  if (!check.ok()) {
    require(!check.error.empty(), "a refused body says why");
    require(check.value_json.empty(), "a refused body has no value");
  } else {
    const std::string& value = check.value_json;
    require(check.error.empty(), "an accepted body has no error", value);
    require(!value.empty(), "an accepted body has a value");
    // It becomes one line of NDJSON and the payload of a WebSocket text frame.
    require(value.find('\n') == std::string::npos && value.find('\r') == std::string::npos,
            "the stored value is one line", value);
    require(is_valid_utf8(value), "the stored value is valid UTF-8 (WebSocket text frames must be)",
            value);
    require(depth_outside_strings(value) <= happy::max_reading_nesting,
            "the stored value is at most 64 levels deep", value);
    // What is stored is itself an acceptable body. (Not byte-identical:
    // RapidJSON's default number parsing may move a long mantissa by a unit in
    // the last place, and its full-precision mode has undefined behaviour on
    // some inputs, so the server does not use it.)
    auto again = happy::check_reading(value);
    require(again.ok(), "the stored value is accepted again", value);
  }

  // Token comparison: constant-time equality agrees with ==.
  std::string_view a = body.substr(0, size / 2), b = body.substr(size / 2);
  require(happy::equal_in_constant_time(a, b) == (a == b), "equal_in_constant_time agrees with ==");
  require(happy::equal_in_constant_time(a, a), "equal_in_constant_time is reflexive");
  return 0;
}
