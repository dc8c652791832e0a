#pragma once

// Reads a topic's `source` (README "Sources") from a schema-valid config
// document and checks what the schema cannot: exactly one kind, keys that
// belong to that kind, a URL Boost.URL parses, a valid JSON Pointer.

#include <rapidjson/document.h>

#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/rule_violation.hpp"

namespace happy {

// Throws rule_violation with a pointer below `at`.
source_config read_source(const rapidjson::Value& source, const std::string& at,
                          std::size_t max_message_bytes);

// Checks that every command source names an executable file and an existing
// working directory (file access, so not part of parsing).
std::optional<rule_violation> check_source_programs(const config& cfg);

// "system cpu", "command /usr/bin/x", "http http://host/path": for log lines.
std::string describe_source(const source_config& cfg);

}  // namespace happy
