#pragma once

// What every connection of the server shares: the actor side, the
// connection registry and the settings it was started with.

#include <atomic>
#include <string>

#include "actors/service.hpp"
#include "auth/access_policy.hpp"
#include "config/config.hpp"

#include "net/address_limiter.hpp"
#include "net/connection_tracker.hpp"
#include "net/content_security_policy.hpp"
#include "net/delivery_queue.hpp"
#include "net/service_metrics.hpp"
#include "net/tls_credentials.hpp"
#include "net/web_assets.hpp"

namespace happy {

struct server_context {
  server_context(service& a, connection_tracker& c, config s, web_assets w,
                 boost::asio::io_context& ioc)
      : actors(a),
        connections(c),
        settings(std::move(s)),
        assets(std::move(w)),
        deliveries(ioc, settings.server.io_threads <= 1),
        access(settings),
        content_security_policy(happy::content_security_policy(settings.auth.token_url)),
        strict_transport_security(settings.server.tls_enabled() && settings.server.hsts_max_age_s > 0
                                      ? "max-age=" + std::to_string(settings.server.hsts_max_age_s)
                                      : std::string()),
        addresses(settings.limits.max_connections_per_ip) {}

  service& actors;
  connection_tracker& connections;
  config settings;
  web_assets assets;
  service_metrics metrics;
  delivery_queue deliveries;
  access_policy access;     // who may read and publish which topic
  std::string content_security_policy;  // for the page and its assets
  std::string strict_transport_security;  // for every HTTPS answer; empty: none (no TLS, or off)
  address_limiter addresses;  // limits.max_connections_per_ip
  std::shared_ptr<tls_credentials> tls;  // server.tls; null: plain HTTP
  std::atomic<bool> draining{false};  // SIGTERM/SIGINT seen: /readyz is 503

  // The value for Access-Control-Allow-Origin, or empty when `origin` is not allowed.
  std::string allowed_origin(const std::string& origin) const;
  // Whether a subscription from `origin` to `host` may go ahead (WebSocket,
  // SSE, stream, publisher): no Origin, the page's own, or an allowed one.
  bool origin_allowed(const std::string& origin, std::string_view host) const;
  // Whether a token cookie counts for a request from `origin` to `host`: no
  // Origin, the page's own origin, or one listed by name in cors.allowed_origins
  // ("*" does not do: any site could open a WebSocket with the user's cookie).
  bool cookie_origin_trusted(const std::string& origin, std::string_view host) const;
};

}  // namespace happy
