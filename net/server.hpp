#pragma once

// The network side of the service: listens, serves, and drains on
// SIGINT/SIGTERM. Asio and Beast stay behind this header.

#include <cstdint>
#include <memory>

#include "actors/service.hpp"
#include "config/config.hpp"

namespace happy {

class server {
 public:
  // Binds the listening socket; throws std::system_error when it cannot.
  server(const config& cfg, service& actors);
  ~server();

  std::uint16_t port() const;

  // Serves until SIGINT or SIGTERM, then stops accepting, closes every
  // connection (WebSocket close 1001 "going away") and returns once all are
  // gone or server.shutdown_grace_ms has passed.
  void run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace happy
