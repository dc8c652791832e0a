#pragma once

// What the command line and the environment change on top of a config file,
// and which settings a live reload cannot apply.

#include <string>
#include <vector>

#include "config/command_line.hpp"
#include "config/config.hpp"

namespace happy {

// Applies --port/PORT, --web-root, --storage/HAPPY_STORAGE_PATH,
// HAPPY_PUBLISH_TOKENS, HAPPY_LOG_LEVEL and,
// with JetStream, the node name (--node, HAPPY_NODE, else the host name).
// Returns an error message, or an empty string.
std::string apply_overrides(config& cfg, const command_line& args);

// Names the settings that differ between `running` and `next` but only take
// effect after a restart (everything except topics, history and max_topics).
std::vector<std::string> settings_needing_restart(const config& running, const config& next);

}  // namespace happy
