#pragma once

// The service's command line: happy-dashboard [--config FILE] [--port N]
// [--check-config FILE]
// [--web-root DIR] [--node NAME] [--storage FILE] [--help]

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace happy {

struct command_line {
  std::optional<std::string> config_path;
  std::optional<std::uint16_t> port;
  std::optional<std::string> check_config_path;
  std::optional<std::string> web_root;
  std::optional<std::string> node;  // node name with JetStream
  std::optional<std::string> storage_path;  // history file
  bool watch_config = false;
  bool help = false;
  std::string error;  // non-empty: the arguments could not be understood
};

command_line parse_command_line(const std::vector<std::string>& args);

// Parses a TCP port (0..65535) as given on the command line or in PORT.
std::optional<std::uint16_t> parse_port(const std::string& text);

extern const char* const usage_text;

}  // namespace happy
