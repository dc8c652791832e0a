#pragma once

#include <string>

#include "actors/cluster/cluster_status.hpp"

namespace happy {

// GET /cluster: {"enabled":…,"node":…|null,"state":…,"members":[{"node":…|null,
// "address":…,"state":…,"self":…,"owns":[…]}, …]}
std::string cluster_status_json(const cluster_status& status);

}  // namespace happy
