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

bool server_context::cookie_origin_trusted(const std::string& origin, std::string_view host) const {
  if (origin.empty()) return true;
  auto scheme_end = origin.find("://");
  if (scheme_end != std::string::npos && origin.substr(scheme_end + 3) == host) return true;
  const auto& allowed = settings.cors_allowed_origins;
  return std::find(allowed.begin(), allowed.end(), origin) != allowed.end();
}

bool server_context::origin_allowed(const std::string& origin) const {
  // No Origin header: not a browser making a cross-site request.
  return origin.empty() || !allowed_origin(origin).empty();
}

}  // namespace happy
