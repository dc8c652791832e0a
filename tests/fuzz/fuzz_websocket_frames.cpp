// libFuzzer target: client bytes on a subscriber WebSocket through
// happy::ws::client_frame_reader, fed in pieces the way reads deliver them.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "wire/utf8.hpp"
#include "net/websocket_frames.hpp"

namespace {

constexpr std::size_t max_message = 4096;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the read size, the rest is the byte stream.
  std::size_t chunk = 1 + data[0] % 64;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  happy::ws::client_frame_reader reader(max_message);
  std::string pending;
  std::vector<happy::ws::client_event> events;
  for (std::size_t at = 0; at < stream.size() && !reader.finished(); at += chunk) {
    pending.append(stream.substr(at, chunk));
    std::size_t before = events.size();
    std::size_t used = reader.read(pending, events);
    require(used <= pending.size(), "consumed more than it was given");
    pending.erase(0, used);
    // An incomplete frame never needs more than a header plus the largest payload.
    require(pending.size() <= 14 + max_message + chunk, "buffered past one frame");
    for (std::size_t i = before; i < events.size(); ++i) {
      const auto& e = events[i];
      using kind = happy::ws::client_event::kind;
      if (e.what == kind::message) require(e.payload.size() <= max_message, "message over the limit");
      if (e.what == kind::ping) require(e.payload.size() <= 125, "ping over 125 bytes");
      if (e.what == kind::close || e.what == kind::violation)
        require(reader.finished() && i + 1 == events.size(), "events after the end");
      if (e.what == kind::violation) {
        require(e.code == 1002 || e.code == 1007 || e.code == 1009, "unexpected close code");
        require(!e.payload.empty(), "violation without a reason");
        // The reason goes into a close frame: it must fit and be text.
        auto frame = happy::ws::close_frame(e.code, e.payload);
        require(frame.size() <= 2 + 125, "close frame too long");
        require(happy::is_valid_utf8(std::string_view(frame).substr(4)), "close reason not UTF-8");
      }
    }
  }
  return 0;
}
