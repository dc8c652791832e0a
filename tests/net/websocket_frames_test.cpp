#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "wire/utf8.hpp"
#include "net/websocket_frames.hpp"

using namespace happy::ws;
using happy::is_valid_utf8;
namespace close_code = happy::close_code;

namespace {

// A client frame as a browser sends it: masked with a fixed key.
std::string client_frame(std::uint8_t first_byte, std::string_view payload,
                         int length_form = 0 /* 0: minimal, 126 or 127: forced */) {
  std::string frame(1, static_cast<char>(first_byte));
  std::size_t n = payload.size();
  if (length_form == 127 || (length_form == 0 && n > 0xFFFF)) {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) frame.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  } else if (length_form == 126 || (length_form == 0 && n >= 126)) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(n >> 8));
    frame.push_back(static_cast<char>(n & 0xFF));
  } else {
    frame.push_back(static_cast<char>(0x80 | n));
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  frame.append(key, 4);
  for (std::size_t i = 0; i < n; ++i) frame.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  return frame;
}

std::vector<client_event> read_all(client_frame_reader& reader, const std::string& bytes,
                                   std::size_t* used = nullptr) {
  std::vector<client_event> events;
  std::size_t n = reader.read(bytes, events);
  if (used) *used = n;
  return events;
}

client_event single_event(const std::string& bytes, std::size_t max_message = 4096) {
  client_frame_reader reader(max_message);
  auto events = read_all(reader, bytes);
  REQUIRE(events.size() == 1);
  return events.front();
}

}  // namespace

TEST_CASE("server frame headers use the shortest length form") {
  frame_header h;
  REQUIRE(write_header(opcode::text, 5, h) == 2);
  CHECK(h[0] == 0x81);
  CHECK(h[1] == 5);
  REQUIRE(write_header(opcode::text, 300, h) == 4);
  CHECK(h[1] == 126);
  CHECK(((h[2] << 8) | h[3]) == 300);
  REQUIRE(write_header(opcode::text, 70000, h) == 10);
  CHECK(h[1] == 127);
  CHECK(h[7] == 0x01);  // 70000 = 0x011170
  CHECK(h[8] == 0x11);
  CHECK(h[9] == 0x70);
  CHECK(header_size(125) == 2);
  CHECK(header_size(126) == 4);
  CHECK(header_size(65536) == 10);
}

TEST_CASE("close frames carry the code and a reason cut to fit a control frame") {
  auto frame = close_frame(4008, "slow consumer");
  REQUIRE(frame.size() == 2 + 2 + 13);
  CHECK(static_cast<unsigned char>(frame[0]) == 0x88);
  CHECK(((static_cast<unsigned char>(frame[2]) << 8) | static_cast<unsigned char>(frame[3])) == 4008);
  CHECK(frame.substr(4) == "slow consumer");
  // 200 two-byte characters: cut at 123 bytes, never in the middle of one.
  std::string long_reason;
  for (int i = 0; i < 200; ++i) long_reason += "\xC3\xA9";
  auto cut = close_frame(1000, long_reason);
  CHECK(cut.size() == 2 + 2 + 122);
  CHECK(is_valid_utf8(cut.substr(4)));
}

TEST_CASE("a masked text message is unmasked and reported") {
  auto e = single_event(client_frame(0x81, "hello"));
  CHECK(e.what == client_event::kind::message);
  CHECK(e.payload == "hello");
}

TEST_CASE("frames split anywhere are read once complete") {
  std::string bytes = client_frame(0x81, "first") + client_frame(0x89, "p") + client_frame(0x81, std::string(300, 'x'));
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    client_frame_reader reader(4096);
    std::vector<client_event> events;
    std::string pending = bytes.substr(0, cut);
    std::size_t used = reader.read(pending, events);
    pending.erase(0, used);
    pending += bytes.substr(cut);
    used = reader.read(pending, events);
    CHECK(used == pending.size());
    REQUIRE(events.size() == 3);
    CHECK(events[0].payload == "first");
    CHECK(events[1].what == client_event::kind::ping);
    CHECK(events[1].payload == "p");
    CHECK(events[2].payload.size() == 300);
  }
}

TEST_CASE("fragments are joined, with a ping allowed in between") {
  std::string bytes = client_frame(0x01, "hel") + client_frame(0x89, "") + client_frame(0x80, "lo");
  client_frame_reader reader(4096);
  auto events = read_all(reader, bytes);
  REQUIRE(events.size() == 2);
  CHECK(events[0].what == client_event::kind::ping);
  CHECK(events[1].what == client_event::kind::message);
  CHECK(events[1].payload == "hello");
}

TEST_CASE("protocol violations close with 1002 and a reason") {
  struct bad_case {
    const char* name;
    std::string bytes;
  };
  std::string unmasked = "\x81\x02hi";
  std::vector<bad_case> cases = {
      {"unmasked", unmasked},
      {"reserved opcode", client_frame(0x83, "x")},
      {"reserved bits", client_frame(0xC1, "x")},
      {"fragmented ping", client_frame(0x09, "x")},
      {"ping over 125 bytes", client_frame(0x89, std::string(126, 'p'))},
      {"continuation first", client_frame(0x80, "x")},
      {"message inside a message", client_frame(0x01, "a") + client_frame(0x81, "b")},
      {"non-minimal 16-bit length", client_frame(0x81, "abc", 126)},
      {"non-minimal 64-bit length", client_frame(0x81, "abc", 127)},
      {"one-byte close", client_frame(0x88, "x")},
      {"close code 1005", client_frame(0x88, std::string("\x03\xED", 2))},
      {"close code 999", client_frame(0x88, std::string("\x03\xE7", 2))},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    client_frame_reader reader(4096);
    auto events = read_all(reader, c.bytes);
    REQUIRE(events.size() == 1);
    CHECK(events[0].what == client_event::kind::violation);
    CHECK(events[0].code == close_code::protocol_error);
    CHECK_FALSE(events[0].payload.empty());
    CHECK(reader.finished());
  }
}

TEST_CASE("a violation is reported from the header alone, before its payload arrives") {
  // An unmasked frame announcing 1 MB: no need to wait for (or buffer) the megabyte.
  std::string header = "\x81\x7F";
  for (int i = 0; i < 8; ++i) header.push_back(i == 5 ? '\x10' : '\0');
  auto e = single_event(header);
  CHECK(e.what == client_event::kind::violation);
}

TEST_CASE("invalid UTF-8 in text closes with 1007, binary is not checked") {
  auto e = single_event(client_frame(0x81, "\xC3\x28"));
  CHECK(e.what == client_event::kind::violation);
  CHECK(e.code == close_code::invalid_payload);
  CHECK(single_event(client_frame(0x82, "\xC3\x28")).what == client_event::kind::message);
  auto close = single_event(client_frame(0x88, std::string("\x03\xE8\xFF", 3)));
  CHECK(close.code == close_code::invalid_payload);
}

TEST_CASE("messages over the limit close with 1009 before the payload is read") {
  auto e = single_event(client_frame(0x81, std::string(101, 'x')).substr(0, 4), 100);
  CHECK(e.what == client_event::kind::violation);
  CHECK(e.code == close_code::message_too_big);
  // Fragments count together.
  client_frame_reader reader(100);
  auto events = read_all(reader, client_frame(0x01, std::string(60, 'x')) + client_frame(0x80, std::string(60, 'x')));
  REQUIRE(events.size() == 1);
  CHECK(events[0].code == close_code::message_too_big);
}

TEST_CASE("a close frame ends reading, later bytes are ignored") {
  client_frame_reader reader(4096);
  auto events = read_all(reader, client_frame(0x88, std::string("\x03\xE8", 2) + "bye") + client_frame(0x81, "late"));
  REQUIRE(events.size() == 1);
  CHECK(events[0].what == client_event::kind::close);
  CHECK(events[0].code == 1000);
  CHECK(events[0].payload == "bye");
  CHECK(single_event(client_frame(0x88, "")).code == close_code::no_status);
}

TEST_CASE("UTF-8 validation") {
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("\xE2\x82\xAC \xF0\x9F\x98\x80"));  // euro sign, emoji
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));                 // overlong slash
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));             // UTF-16 surrogate
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));         // beyond U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xE2\x82"));                 // truncated
}
