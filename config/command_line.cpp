#include "config/command_line.hpp"

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <boost/program_options/variables_map.hpp>

#include "wire/number_text.hpp"

namespace happy {

const char* const usage_text =
    "usage: happy-dashboard [--config FILE] [--watch-config] [--port N] [--check-config FILE]\n"
    "                       [--web-root DIR] [--node NAME] [--storage FILE] [--help]\n"
    "\n"
    "Pushes live readings to dashboards over WebSocket (GET /<topic>, /topics/<topic>).\n"
    "\n"
    "  --config FILE        JSON config (see README); the embedded default runs without it\n"
    "  --port N             listen port; overrides PORT and server.port (0 = any free port)\n"
    "  --watch-config       reload the --config file when it changes (as on SIGHUP)\n"
    "  --check-config FILE  validate FILE, print the first problem, exit 0 (valid) or 2\n"
    "  --web-root DIR       serve the dashboard from DIR (a checkout's web/) instead of the\n"
    "                       copy built into the binary; files are re-read on every request\n"
    "  --node NAME          this node's name with JetStream (\"nats\"; overrides HAPPY_NODE;\n"
    "                       default: the host name)\n"
    "  --storage FILE       keep history in this SQLite file across restarts (overrides\n"
    "                       storage.path and HAPPY_STORAGE_PATH)\n"
    "  --help               this text\n"
    "\n"
    "Environment: PORT (listen port, overrides server.port), HAPPY_PUBLISH_TOKENS (comma-\n"
    "separated publish tokens, added to publish.tokens), HAPPY_METRICS_TOKENS (comma-separated,\n"
    "added to metrics.tokens), HAPPY_LOG_LEVEL,\n"
    "HAPPY_NODE (node name with JetStream), HAPPY_STORAGE_PATH (history\n"
    "file, overrides storage.path).\n";

std::optional<std::uint16_t> parse_port(const std::string& text) {
  auto value = text.size() <= 5 ? parse_unsigned(text) : std::nullopt;  // as many digits as 65535 has
  if (!value || *value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*value);
}

command_line parse_command_line(const std::vector<std::string>& args) {
  namespace po = boost::program_options;
  command_line out;
  std::string port_text;
  po::options_description flags;
  // clang-format off
  flags.add_options()
      ("help,h", "")
      ("watch-config", po::bool_switch(&out.watch_config), "")
      ("config", po::value<std::string>(), "")
      ("check-config", po::value<std::string>(), "")
      ("web-root", po::value<std::string>(), "")
      ("node", po::value<std::string>(), "")
      ("storage", po::value<std::string>(), "")
      ("port", po::value<std::string>(&port_text), "");
  // clang-format on
  po::variables_map given;
  try {
    // No abbreviations (--conf is not --config); anything unknown is
    // collected and reported below, positional words included.
    auto style = po::command_line_style::unix_style ^ po::command_line_style::allow_guessing;
    auto parsed =
        po::command_line_parser(args).options(flags).style(style).allow_unregistered().run();
    auto unknown = po::collect_unrecognized(parsed.options, po::include_positional);
    if (!unknown.empty()) {
      out.error = "unknown argument '" + unknown.front() + "'";
      return out;
    }
    po::store(parsed, given);
    po::notify(given);
  } catch (const po::invalid_command_line_syntax& e) {
    if (e.kind() == po::invalid_syntax::missing_parameter ||
        e.kind() == po::invalid_syntax::empty_adjacent_parameter)
      out.error = e.get_option_name() + " needs a value";
    else
      out.error = e.what();
    return out;
  } catch (const po::error& e) {
    out.error = e.what();
    return out;
  }
  auto text_of = [&](const char* name) -> std::optional<std::string> {
    if (!given.count(name)) return std::nullopt;
    return given[name].as<std::string>();
  };
  out.help = given.count("help") > 0;
  out.config_path = text_of("config");
  out.check_config_path = text_of("check-config");
  out.web_root = text_of("web-root");
  out.node = text_of("node");
  out.storage_path = text_of("storage");
  if (out.storage_path && out.storage_path->empty()) out.error = "--storage needs a file name";
  if (given.count("port")) {
    out.port = parse_port(port_text);
    if (!out.port) out.error = "--port expects a number from 0 to 65535, got '" + port_text + "'";
  }
  return out;
}

}  // namespace happy
