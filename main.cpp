// happy-dashboard: pushes live readings to every connected dashboard.

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <system_error>

#include "actors/service.hpp"
#include "config/command_line.hpp"
#include "config/config_loader.hpp"
#include "log/log.hpp"
#include "net/server.hpp"

namespace {

constexpr int exit_usage = 2;
constexpr int exit_invalid_config = 2;
constexpr int exit_cannot_listen = 1;

std::string summary(const happy::config& cfg, std::uint16_t port) {
  std::string topics;
  for (const auto& [name, topic] : cfg.topics) {
    topics += (topics.empty() ? "" : ", ") + name;
    if (topic.generator) topics += " (every " + std::to_string(topic.generator->interval_ms) + " ms)";
  }
  return "happy-dashboard listening on " + cfg.server.host + ":" + std::to_string(port) +
         " config=" + cfg.source + " topics: " + (topics.empty() ? "none" : topics);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace happy;
  auto args = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  if (!args.error.empty()) {
    std::cerr << "happy-dashboard: " << args.error << "\n\n" << usage_text;
    return exit_usage;
  }
  if (args.help) {
    std::cout << usage_text;
    return 0;
  }
  if (args.check_config_path) {
    auto result = load_config_file(*args.check_config_path);
    if (auto* error = std::get_if<config_error>(&result)) {
      std::cerr << error->message() << "\n";
      return exit_invalid_config;
    }
    std::cout << *args.check_config_path << ": valid\n";
    return 0;
  }

  config cfg = default_config();
  if (args.config_path) {
    auto result = load_config_file(*args.config_path);
    if (auto* error = std::get_if<config_error>(&result)) {
      std::cerr << error->message() << "\n";
      return exit_invalid_config;
    }
    cfg = std::get<config>(std::move(result));
  }
  if (const char* env_port = std::getenv("PORT"); env_port && *env_port && !args.port) {
    auto port = parse_port(env_port);
    if (!port) {
      std::cerr << "happy-dashboard: PORT must be a number from 0 to 65535, got '" << env_port
                << "'\n";
      return exit_usage;
    }
    cfg.server.port = *port;
  }
  if (args.port) cfg.server.port = *args.port;
  if (args.web_root) cfg.web_root = *args.web_root;
  if (const char* env_tokens = std::getenv("HAPPY_PUBLISH_TOKENS")) {
    std::string_view rest = env_tokens;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto token = rest.substr(0, comma);
      if (!token.empty()) cfg.publish_tokens.emplace_back(token);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  if (const char* env_level = std::getenv("HAPPY_LOG_LEVEL")) cfg.log_level = env_level;
  log_level level = log_level::info;
  if (parse_log_level(cfg.log_level, level)) set_log_level(level);

  caf::actor_system_config actor_config;
  actor_config.set("scheduler.max-threads", static_cast<std::size_t>(cfg.server.actor_threads));
  caf::actor_system system{actor_config};
  int exit_code = 0;
  {
    service actors(system, cfg);
    try {
      server http(cfg, actors);
      log_info(summary(cfg, http.port()));
      http.run();
      // Connections are gone (or the grace period ended): stop the actors and
      // wait for them before the I/O objects they may still reference go away.
      actors.shutdown();
      system.await_all_actors_done();
    } catch (const std::system_error& e) {
      log_error("cannot listen on " + cfg.server.host + ":" + std::to_string(cfg.server.port) +
                ": " + e.what());
      exit_code = exit_cannot_listen;
    }
    actors.shutdown();
  }
  log_info("stopped");
  return exit_code;
}
