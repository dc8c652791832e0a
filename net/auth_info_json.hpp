#pragma once

// GET /api/auth: what the dashboard page needs to know before it asks for
// protected topics, e.g. {"token_url":"/backend/token","cookie":null,"default_access":"public"}.

#include <string>

#include "config/config.hpp"

namespace happy {

std::string auth_info_json(const auth_config& auth);

}  // namespace happy
