#include "net/websocket_frames.hpp"

#include "wire/utf8.hpp"

namespace happy::ws {

using happy::is_valid_utf8;

namespace {

constexpr std::size_t max_control_payload = 125;

std::uint64_t read_big_endian(const unsigned char* bytes, std::size_t count) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < count; ++i) value = (value << 8) | bytes[i];
  return value;
}

bool is_known_opcode(std::uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// Codes a peer may send (RFC 6455 §7.4; 1005, 1006 and 1015 never go on the wire).
bool is_valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

}  // namespace

std::size_t header_size(std::size_t payload_bytes) {
  return payload_bytes < 126 ? 2 : payload_bytes <= 0xFFFF ? 4 : 10;
}

std::size_t write_header(opcode op, std::size_t payload_bytes, frame_header& out) {
  out[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
  if (payload_bytes < 126) {
    out[1] = static_cast<std::uint8_t>(payload_bytes);
    return 2;
  }
  if (payload_bytes <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(payload_bytes >> 8);
    out[3] = static_cast<std::uint8_t>(payload_bytes);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i)
    out[2 + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(payload_bytes) >> (56 - 8 * i));
  return 10;
}

std::string control_frame(opcode op, std::string_view payload) {
  payload = payload.substr(0, max_control_payload);
  frame_header header;
  std::size_t header_bytes = write_header(op, payload.size(), header);
  std::string frame(reinterpret_cast<const char*>(header.data()), header_bytes);
  frame.append(payload);
  return frame;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  reason = reason.substr(0, max_control_payload - 2);
  // Cutting may split a code point: drop the partial one so the reason stays UTF-8.
  while (!reason.empty() && !is_valid_utf8(reason)) reason.remove_suffix(1);
  payload.append(reason);
  return control_frame(opcode::close, payload);
}

void client_frame_reader::violation(std::vector<client_event>& out, std::uint16_t code,
                                    std::string reason) {
  finished_ = true;
  out.push_back({client_event::kind::violation, code, std::move(reason)});
}

void client_frame_reader::take_frame(std::uint8_t op, bool fin, std::string payload,
                                     std::vector<client_event>& out) {
  switch (static_cast<opcode>(op)) {
    case opcode::ping:
      out.push_back({client_event::kind::ping, 0, std::move(payload)});
      return;
    case opcode::pong:
      out.push_back({client_event::kind::pong, 0, {}});
      return;
    case opcode::close:
      return take_close(payload, out);
    default:  // text, binary, continuation
      if (op != 0) message_opcode_ = static_cast<opcode>(op);
      message_.append(payload);
      in_message_ = !fin;
      if (!fin) return;
      if (message_opcode_ == opcode::text && !is_valid_utf8(message_))
        return violation(out, close_code::invalid_payload, "text message is not valid UTF-8");
      out.push_back({client_event::kind::message, 0, std::move(message_)});
      message_.clear();
  }
}

void client_frame_reader::take_close(const std::string& payload, std::vector<client_event>& out) {
  if (payload.empty()) {
    finished_ = true;
    out.push_back({client_event::kind::close, close_code::no_status, {}});
    return;
  }
  if (payload.size() == 1) return violation(out, close_code::protocol_error, "close frame with a 1-byte payload");
  auto code = static_cast<std::uint16_t>(read_big_endian(reinterpret_cast<const unsigned char*>(payload.data()), 2));
  if (!is_valid_close_code(code))
    return violation(out, close_code::protocol_error, "invalid close code " + std::to_string(code));
  if (!is_valid_utf8(std::string_view(payload).substr(2)))
    return violation(out, close_code::invalid_payload, "close reason is not valid UTF-8");
  finished_ = true;
  out.push_back({client_event::kind::close, code, payload.substr(2)});
}

std::size_t client_frame_reader::read(std::string_view data, std::vector<client_event>& out) {
  auto bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t used = 0;
  while (!finished_) {
    std::size_t available = data.size() - used;
    if (available < 2) break;
    const unsigned char* head = bytes + used;
    bool fin = head[0] & 0x80;
    auto op = static_cast<std::uint8_t>(head[0] & 0x0F);
    bool masked = head[1] & 0x80;
    std::uint64_t length = head[1] & 0x7F;
    bool control = op & 0x8;
    // Header rules are checked as soon as the bytes are here, so a hostile
    // header fails at once instead of after its announced payload.
    if (head[0] & 0x70) {
      violation(out, close_code::protocol_error, "reserved bits set without an extension");
      break;
    }
    if (!is_known_opcode(op)) {
      violation(out, close_code::protocol_error, "reserved opcode " + std::to_string(op));
      break;
    }
    if (!masked) {
      violation(out, close_code::protocol_error, "client frames must be masked");
      break;
    }
    if (control && !fin) {
      violation(out, close_code::protocol_error, "fragmented control frame");
      break;
    }
    if (control && length > max_control_payload) {
      violation(out, close_code::protocol_error, "control frame payload over 125 bytes");
      break;
    }
    std::size_t header_bytes = 2;
    if (length == 126) {
      if (available < 4) break;
      length = read_big_endian(head + 2, 2);
      header_bytes = 4;
      if (length < 126) {
        violation(out, close_code::protocol_error, "length not minimally encoded");
        break;
      }
    } else if (length == 127) {
      if (available < 10) break;
      length = read_big_endian(head + 2, 8);
      header_bytes = 10;
      if (length <= 0xFFFF || (length >> 63) != 0) {
        violation(out, close_code::protocol_error, "invalid 64-bit length");
        break;
      }
    }
    if (!control) {
      if (op == 0 && !in_message_) {
        violation(out, close_code::protocol_error, "continuation frame without a message");
        break;
      }
      if (op != 0 && in_message_) {
        violation(out, close_code::protocol_error, "new message inside a fragmented one");
        break;
      }
      if (length > max_message_bytes_ - message_.size()) {
        violation(out, close_code::message_too_big,
                  "message over " + std::to_string(max_message_bytes_) + " bytes");
        break;
      }
    }
    header_bytes += 4;  // the masking key
    if (available - header_bytes < length || available < header_bytes) break;
    const unsigned char* mask = head + header_bytes - 4;
    const unsigned char* masked_payload = head + header_bytes;
    std::string payload(static_cast<std::size_t>(length), '\0');
    for (std::size_t i = 0; i < payload.size(); ++i)
      payload[i] = static_cast<char>(masked_payload[i] ^ mask[i % 4]);
    used += header_bytes + static_cast<std::size_t>(length);

    take_frame(op, fin, std::move(payload), out);
  }
  return used;
}

}  // namespace happy::ws
