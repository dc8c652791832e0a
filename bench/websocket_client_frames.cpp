#include "websocket_client_frames.hpp"

#include "monotonic_clock.hpp"

#include <unistd.h>

#include <cstring>

namespace happy_bench {

fast_random::fast_random()
    : state_(static_cast<std::uint64_t>(monotonic_ns()) * 0x9E3779B97F4A7C15ull ^
             (static_cast<std::uint64_t>(getpid()) << 32) ^ 0x2545F4914F6CDD1Dull) {}

std::uint64_t fast_random::next() {  // xorshift64*
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545F4914F6CDD1Dull;
}

std::string make_websocket_key(fast_random& random) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char bytes[18] = {};  // 16 random bytes, padded to a multiple of 3
  for (int i = 0; i < 16; i += 8) {
    std::uint64_t word = random.next();
    std::memcpy(bytes + i, &word, 8);
  }
  std::string key;
  for (int i = 0; i < 18; i += 3) {
    std::uint32_t group = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    key += alphabet[(group >> 18) & 63];
    key += alphabet[(group >> 12) & 63];
    key += alphabet[(group >> 6) & 63];
    key += alphabet[group & 63];
  }
  key.resize(22);  // 16 bytes encode to 22 characters + "=="
  return key + "==";
}

std::string websocket_upgrade_request(std::string_view host, std::string_view target,
                                      std::string_view key) {
  std::string request;
  request.reserve(200 + target.size());
  request.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
  request.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
  request.append(key).append("\r\nSec-WebSocket-Version: 13\r\n\r\n");
  return request;
}

void append_masked_frame(std::string& out, std::uint8_t code, std::string_view payload,
                         std::uint32_t mask) {
  char header[14];
  std::size_t length = 0;
  header[length++] = static_cast<char>(0x80 | code);  // FIN: never fragment
  std::size_t size = payload.size();
  if (size < 126) {
    header[length++] = static_cast<char>(0x80 | size);
  } else if (size <= 0xFFFF) {
    header[length++] = static_cast<char>(0x80 | 126);
    header[length++] = static_cast<char>(size >> 8);
    header[length++] = static_cast<char>(size);
  } else {
    header[length++] = static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) header[length++] = static_cast<char>(size >> shift);
  }
  unsigned char key[4] = {static_cast<unsigned char>(mask >> 24), static_cast<unsigned char>(mask >> 16),
                          static_cast<unsigned char>(mask >> 8), static_cast<unsigned char>(mask)};
  std::memcpy(header + length, key, 4);
  length += 4;
  out.append(header, length);
  std::size_t start = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < size; ++i) out[start + i] = static_cast<char>(out[start + i] ^ key[i & 3]);
}

decode_status decode_frame(char* data, std::size_t size, frame_view& frame, std::size_t& consumed) {
  if (size < 2) return decode_status::need_more;
  auto* bytes = reinterpret_cast<unsigned char*>(data);
  bool masked = (bytes[1] & 0x80) != 0;
  std::uint64_t length = bytes[1] & 0x7F;
  std::size_t header = 2;
  if (length == 126) {
    if (size < 4) return decode_status::need_more;
    length = (std::uint64_t{bytes[2]} << 8) | bytes[3];
    header = 4;
  } else if (length == 127) {
    if (size < 10) return decode_status::need_more;
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | bytes[i];
    header = 10;
  }
  if (length > max_frame_payload) return decode_status::too_large;
  std::size_t mask_at = header;
  if (masked) header += 4;
  if (size < header + length) return decode_status::need_more;
  frame.code = bytes[0] & 0x0F;
  frame.fin = (bytes[0] & 0x80) != 0;
  frame.payload = data + header;
  frame.size = static_cast<std::size_t>(length);
  if (masked)
    for (std::size_t i = 0; i < frame.size; ++i) frame.payload[i] ^= data[mask_at + (i & 3)];
  consumed = header + frame.size;
  return decode_status::complete;
}

int close_code_of(const frame_view& frame) {
  if (frame.size < 2) return 1005;
  auto* bytes = reinterpret_cast<const unsigned char*>(frame.payload);
  return (bytes[0] << 8) | bytes[1];
}

}  // namespace happy_bench
