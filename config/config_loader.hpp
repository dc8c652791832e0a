#pragma once

// Reads the JSON config, validates it against config/schema.json (embedded at
// build time) plus the rules a schema cannot say, and turns it into `config`.

#include <string>
#include <string_view>
#include <variant>

#include "config/config.hpp"

namespace happy {

struct config_error {
  std::string file;      // where the text came from
  std::string location;  // "line 3, column 14" or a JSON pointer such as /topics/x/generator
  std::string problem;   // what was expected and what was found

  std::string message() const;  // "file: location: problem"
};

using config_result = std::variant<config, config_error>;

config_result parse_config(std::string_view json_text, const std::string& source_name);
config_result load_config_file(const std::string& path);

// The built-in configuration used when no file is given.
config default_config();

}  // namespace happy
