#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace happy_bench {

// Cheap randomness for handshake keys and frame masks (RFC 6455 wants them
// unpredictable to intermediaries, not cryptographically strong).
class fast_random {
 public:
  fast_random();
  std::uint64_t next();

 private:
  std::uint64_t state_;
};

namespace opcode {
constexpr std::uint8_t continuation = 0x0;
constexpr std::uint8_t text = 0x1;
constexpr std::uint8_t binary = 0x2;
constexpr std::uint8_t close = 0x8;
constexpr std::uint8_t ping = 0x9;
constexpr std::uint8_t pong = 0xA;
}  // namespace opcode

// Base64 of 16 random bytes, for Sec-WebSocket-Key.
std::string make_websocket_key(fast_random& random);
std::string websocket_upgrade_request(std::string_view host, std::string_view target,
                                      std::string_view key);

// Client-to-server frames must be masked.
void append_masked_frame(std::string& out, std::uint8_t code, std::string_view payload,
                         std::uint32_t mask);

struct frame_view {
  std::uint8_t code = 0;
  bool fin = false;
  char* payload = nullptr;
  std::size_t size = 0;
};

enum class decode_status { complete, need_more, too_large };

// Frames larger than this are refused rather than buffered without bound.
constexpr std::size_t max_frame_payload = 16 * 1024 * 1024;

// Decodes the frame at the start of [data, data + size); `consumed` is its
// length on the wire. A masked payload (servers do not mask) is unmasked in place.
decode_status decode_frame(char* data, std::size_t size, frame_view& frame, std::size_t& consumed);

// Close status code of a close frame's payload; 1005 (no status) when absent.
int close_code_of(const frame_view& frame);

}  // namespace happy_bench
