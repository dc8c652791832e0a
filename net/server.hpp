#pragma once

// The network side of the service: listens, serves, and drains on
// SIGINT/SIGTERM. Asio and Beast stay behind this header.

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "actors/service.hpp"
#include "config/config.hpp"

namespace happy {

// server.tls names files that do not make a usable certificate and key.
struct tls_setup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class server {
 public:
  // Loads server.tls (throws tls_setup_error) and binds the listening
  // socket (throws std::system_error when it cannot).
  server(const config& cfg, service& actors);
  ~server();

  std::uint16_t port() const;

  // Called (on an I/O thread) for SIGHUP and, with watch_config_file, when
  // the file changes; returns whether the new config was applied.
  void on_reload(std::function<bool()> reload);
  // A reload changed topics: which are token-protected follows the new file.
  void apply_topic_access(const config& next);
  void watch_config_file(const std::string& path);

  // Serves until SIGINT or SIGTERM, then drains: /readyz answers 503, new
  // subscriptions are refused, every WebSocket is closed with 1001 "going
  // away" and every stream ends; returns once all subscribers are gone or
  // server.shutdown_grace_ms has passed. A second signal returns at once.
  void run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace happy
