#include "net/server_context.hpp"

#include <algorithm>

namespace happy {

std::string server_context::allowed_origin(const std::string& origin) const {
  const auto& allowed = settings.cors_allowed_origins;
  bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
  // Echo the caller's Origin as the original service did; "*" when none was sent.
  if (any) return origin.empty() ? "*" : origin;
  if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) return origin;
  return {};
}

namespace {

// The dashboard page served by this host: its Origin names the Host the
// request went to. The scheme is not compared: a proxy may end TLS in front.
bool is_own_origin(const std::string& origin, std::string_view host) {
  auto scheme_end = origin.find("://");
  return !host.empty() && scheme_end != std::string::npos &&
         std::string_view(origin).substr(scheme_end + 3) == host;
}

}  // namespace

bool server_context::cookie_origin_trusted(const std::string& origin, std::string_view host) const {
  if (origin.empty() || is_own_origin(origin, host)) return true;
  const auto& allowed = settings.cors_allowed_origins;
  return std::find(allowed.begin(), allowed.end(), origin) != allowed.end();
}

bool server_context::origin_allowed(const std::string& origin, std::string_view host) const {
  // No Origin header: not a browser making a cross-site request.
  return origin.empty() || is_own_origin(origin, host) || !allowed_origin(origin).empty();
}

}  // namespace happy
