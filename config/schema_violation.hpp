#pragma once

// Turns RapidJSON's report of a schema violation (a keyword, a schema node and
// a document node) into a location and a sentence a user can act on.

#include <rapidjson/document.h>
#include <rapidjson/schema.h>

#include <string>
#include <vector>

namespace happy {

struct schema_failure {
  std::string location;  // JSON pointer, "/" for the root
  std::string problem;   // e.g. "expected a number >= 1, got -5"
};

schema_failure describe_schema_failure(const rapidjson::SchemaValidator& validator,
                                       const rapidjson::Value& schema_root,
                                       const rapidjson::Value& document);

// Compact JSON text of `v`, cut after `max_chars` for messages.
std::string json_text(const rapidjson::Value& v, std::size_t max_chars = 60);

// "a, b, c"
std::string join_keys(const std::vector<std::string>& keys);

}  // namespace happy
