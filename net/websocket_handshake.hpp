#pragma once

// The server's answer to a WebSocket upgrade request (RFC 6455 §4.2), checked
// the way Beast's own accept checks it, as bytes ready to write.

#include <string>

#include "net/http_response.hpp"

namespace happy {

struct websocket_handshake {
  bool ok = false;
  unsigned status = 400;  // when not ok: 400, or 426 for an unsupported version
  std::string error;      // when not ok: what was wrong
  std::string response;   // when ok: the complete "101 Switching Protocols" head
};

websocket_handshake answer_websocket_upgrade(const http_request& request);

}  // namespace happy
