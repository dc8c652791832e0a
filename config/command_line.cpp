#include "config/command_line.hpp"

#include <charconv>

namespace happy {

const char* const usage_text =
    "usage: happy-dashboard [--config FILE] [--watch-config] [--port N] [--check-config FILE]\n"
    "                       [--web-root DIR] [--node NAME] [--help]\n"
    "\n"
    "Pushes live readings to dashboards over WebSocket (GET /<topic>, /topics/<topic>).\n"
    "\n"
    "  --config FILE        JSON config (see README); the embedded default runs without it\n"
    "  --port N             listen port; overrides PORT and server.port (0 = any free port)\n"
    "  --watch-config       reload the --config file when it changes (as on SIGHUP)\n"
    "  --check-config FILE  validate FILE, print the first problem, exit 0 (valid) or 2\n"
    "  --web-root DIR       serve the dashboard from DIR (a checkout's web/) instead of the\n"
    "                       copy built into the binary; files are re-read on every request\n"
    "  --node NAME          this process's node name in a cluster (overrides cluster.node\n"
    "                       and HAPPY_NODE; default: the host name)\n"
    "  --help               this text\n"
    "\n"
    "Environment: PORT (listen port, overrides server.port), HAPPY_PUBLISH_TOKENS (comma-\n"
    "separated publish tokens, added to publish.tokens), HAPPY_LOG_LEVEL,\n"
    "HAPPY_NODE (cluster node name, overrides cluster.node).\n";

std::optional<std::uint16_t> parse_port(const std::string& text) {
  if (text.size() > 5) return std::nullopt;  // as many digits as 65535 has, no more
  std::uint16_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, problem] = std::from_chars(text.data(), end, value);
  if (problem != std::errc{} || stop != end || text.empty()) return std::nullopt;
  return value;
}

command_line parse_command_line(const std::vector<std::string>& args) {
  command_line out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value_of = [&](const std::string& flag) -> std::optional<std::string> {
      auto prefix = flag + "=";
      if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
      if (arg == flag && i + 1 < args.size()) return args[++i];
      if (arg == flag) out.error = flag + " needs a value";
      return std::nullopt;
    };
    auto is_flag = [&](const std::string& flag) {
      return arg == flag || arg.rfind(flag + "=", 0) == 0;
    };
    if (arg == "--help" || arg == "-h") {
      out.help = true;
    } else if (arg == "--watch-config") {
      out.watch_config = true;
    } else if (is_flag("--config")) {
      out.config_path = value_of("--config");
    } else if (is_flag("--check-config")) {
      out.check_config_path = value_of("--check-config");
    } else if (is_flag("--web-root")) {
      out.web_root = value_of("--web-root");
    } else if (is_flag("--node")) {
      out.node = value_of("--node");
    } else if (is_flag("--port")) {
      if (auto text = value_of("--port")) {
        out.port = parse_port(*text);
        if (!out.port) out.error = "--port expects a number from 0 to 65535, got '" + *text + "'";
      }
    } else {
      out.error = "unknown argument '" + arg + "'";
    }
    if (!out.error.empty()) return out;
  }
  return out;
}

}  // namespace happy
