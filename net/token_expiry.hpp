#pragma once

// Ends a connection when the token it was admitted with expires (exp): a
// timer on the connection's executor that holds only a weak reference, so
// a connection that closes earlier is not kept alive by it.

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

#include "wire/envelope.hpp"

namespace happy {

// `expires_at_ms`: Unix ms; 0 means the connection needs no token and nothing
// is armed (connections without a token carry no timer). `on_expired(connection&)`
// runs on `executor`.
template <class Connection, class OnExpired>
void arm_token_expiry(std::unique_ptr<boost::asio::steady_timer>& timer,
                      const boost::asio::any_io_executor& executor, std::int64_t expires_at_ms,
                      const std::shared_ptr<Connection>& connection, OnExpired on_expired) {
  if (expires_at_ms == 0) return;
  timer = std::make_unique<boost::asio::steady_timer>(executor);
  auto left = std::chrono::milliseconds(std::max<std::int64_t>(0, expires_at_ms - unix_millis_now()));
  timer->expires_after(left);
  timer->async_wait([weak = std::weak_ptr<Connection>(connection),
                    on_expired = std::move(on_expired)](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) on_expired(*self);
  });
}

}  // namespace happy
