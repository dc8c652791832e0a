#pragma once

// RFC 6455 framing for the server side of a subscriber connection: headers
// for the (unmasked) frames we send, and a reader for the (masked) frames a
// client sends. Kept apart from the socket so it is unit-testable and
// fuzzable, and so a connection can write many frames with one writev.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wire/vocabulary.hpp"

namespace happy::ws {

enum class opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// The reader reports close codes from happy::close_code (wire/vocabulary.hpp).

inline constexpr std::size_t max_header_bytes = 10;
using frame_header = std::array<std::uint8_t, max_header_bytes>;

// The length of a server frame header for a payload of this size.
std::size_t header_size(std::size_t payload_bytes);

// Fills `out` with the header of a final, unmasked frame; returns its length (2, 4 or 10).
std::size_t write_header(opcode op, std::size_t payload_bytes, frame_header& out);

// A whole control frame (close payload: code + reason, reason cut to fit 125 bytes).
std::string control_frame(opcode op, std::string_view payload);
std::string close_frame(std::uint16_t code, std::string_view reason);

// What a client said, one complete frame or message at a time.
struct client_event {
  enum class kind {
    message,   // a complete text or binary message (`payload`)
    ping,      // answer with a pong carrying `payload`
    pong,
    close,     // the client closes with `code` (close_code::no_status if it gave none)
    violation, // the client broke the protocol: close with `code` and `payload` as reason
  };
  kind what;
  std::uint16_t code = 0;
  std::string payload;
};

// Reads client frames from a byte stream. After a close or a violation it
// reads nothing more.
class client_frame_reader {
 public:
  explicit client_frame_reader(std::size_t max_message_bytes)
      : max_message_bytes_(max_message_bytes) {}

  // Consumes every complete frame at the front of `data` (appending events to
  // `out`) and returns how many bytes it used; the rest is an incomplete frame
  // to be offered again with more bytes behind it.
  std::size_t read(std::string_view data, std::vector<client_event>& out);

  bool finished() const { return finished_; }

 private:
  void violation(std::vector<client_event>& out, std::uint16_t code, std::string reason);
  // A whole, unmasked frame: its event, or the violation it is.
  void take_frame(std::uint8_t op, bool fin, std::string payload, std::vector<client_event>& out);
  void take_close(const std::string& payload, std::vector<client_event>& out);

  std::size_t max_message_bytes_;
  bool finished_ = false;
  bool in_message_ = false;  // a fragmented message is being assembled
  opcode message_opcode_ = opcode::text;
  std::string message_;
};

}  // namespace happy::ws
