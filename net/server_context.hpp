#pragma once

// What every connection of the server shares: the actor side, the
// connection registry and the settings it was started with.

#include <string>

#include "actors/service.hpp"
#include "config/config.hpp"
#include "net/connection_tracker.hpp"

namespace happy {

struct server_context {
  service& actors;
  connection_tracker& connections;
  config settings;

  // The value for Access-Control-Allow-Origin, or empty when `origin` is not allowed.
  std::string allowed_origin(const std::string& origin) const;
};

}  // namespace happy
