#pragma once

// How a session actor reaches its client connection without knowing the
// protocol: each net/ transport (WebSocket, SSE, NDJSON stream, long-poll)
// implements this, and unit tests implement it in memory.
//
// Only the connection's session actor calls these, one call at a time and in
// the order the hub's messages arrived. Implementations must be safe to call
// from any thread (they hop onto their connection's strand) and must tolerate
// calls after the connection is gone.

#include <cstdint>
#include <string>

#include "wire/vocabulary.hpp"

namespace happy {

class transport {
 public:
  virtual ~transport() = default;

  // The topic exists and the subscription is in place: complete the
  // handshake (or send the response head) and write `replay` (history the
  // client asked for, oldest first) before any live frame.
  virtual void accept(frame_list replay) = 0;

  // The subscription cannot happen (unknown topic, shutting down): answer
  // the request instead of upgrading. Only before accept().
  virtual void refuse(subscribe_refusal why) = 0;

  // Queue a batch of live frames for the client (oldest first). The batch is
  // shared with every other session of the topic: read it, never change it.
  // Frames before accept() are held.
  virtual void deliver(frame_batch frames) = 0;

  // End the connection with a reason the client can see (close_code).
  virtual void close(std::uint16_t code, std::string reason) = 0;
};

}  // namespace happy
