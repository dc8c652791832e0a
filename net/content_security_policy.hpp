#pragma once

// The Content-Security-Policy of the dashboard page: scripts, styles and
// connections from this server only (no inline script), plus the origin of
// auth.token_url when the token comes from another server.

#include <string>

namespace happy {

std::string content_security_policy(const std::string& token_url);

}  // namespace happy
