// happy-dashboard: pushes live readings to every connected dashboard.

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <system_error>
#include <variant>

#include "actors/happy_error.hpp"
#include "actors/service.hpp"
#include "actors/worker_pool.hpp"
#include "config/command_line.hpp"
#include "config/config_loader.hpp"
#include "config/overrides.hpp"
#include "config/source_reader.hpp"
#include "log/log.hpp"
#include "net/server.hpp"

namespace {

constexpr int exit_usage = 2;
constexpr int exit_invalid_config = 2;
constexpr int exit_cannot_listen = 1;
constexpr int exit_storage_unusable = 2;

// Opens the history file for the store and the history reader and reads
// what a restart continues from; the problem in words when it cannot.
std::variant<happy::service_storage, std::string> open_storage(const happy::config& cfg) {
  using namespace happy;
  auto started = std::chrono::steady_clock::now();
  auto writer = history_db::open(cfg.storage.path, history_db::mode::write,
                                 cfg.storage.sync_every_commit);
  if (auto* problem = std::get_if<std::string>(&writer)) return *problem;
  auto reader = history_db::open(cfg.storage.path, history_db::mode::read);
  if (auto* problem = std::get_if<std::string>(&reader)) return *problem;
  service_storage storage{std::move(std::get<0>(writer)), std::move(std::get<0>(reader)), {}};
  if (!storage.writer->previous_run_ended_cleanly())
    log_warning("storage: the previous run did not stop cleanly; every topic's seq continues " +
                std::to_string(max_uncommitted_seqs) +
                " above its last stored one, so no seq a dashboard saw is reused");
  auto loaded = storage.writer->load(
      [&cfg](const std::string& topic) { return cfg.history_of(topic); }, max_uncommitted_seqs);
  if (auto* problem = std::get_if<std::string>(&loaded)) return "history file " + cfg.storage.path + ": " + *problem;
  storage.topics = std::move(std::get<0>(loaded));
  std::size_t readings = 0;
  for (const auto& topic : storage.topics) readings += topic.recent.size();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  log_info("storage: " + cfg.storage.path + ": " + std::to_string(storage.topics.size()) +
           " topics, " + std::to_string(readings) + " readings back in history, in " +
           std::to_string(ms) + " ms");
  return storage;
}

std::string summary(const happy::config& cfg, std::uint16_t port) {
  std::string topics;
  for (const auto& [name, topic] : cfg.topics) {
    topics += (topics.empty() ? "" : ", ") + name;
    if (topic.generator)
      topics += " (every " + std::to_string(topic.generator->interval_ms) + " ms)";
    else if (topic.source)
      topics += " (" + happy::describe_source(*topic.source) + " every " +
                std::to_string(topic.source->interval_ms) + " ms)";
  }
  std::string nodes;
  if (cfg.nats) {
    nodes = " jetstream node '" + cfg.nats->node + "', replicas " + std::to_string(cfg.nats->replicas) +
            ", servers:";
    for (const auto& url : cfg.nats->servers) nodes += " " + url;
  }
  return "happy-dashboard listening on " + cfg.server.host + ":" + std::to_string(port) +
         (cfg.server.tls_enabled() ? " (TLS: https, wss)" : "") + " config=" + cfg.file_name + " topics: " + (topics.empty() ? "none" : topics) + nodes;
}

// SIGHUP or --watch-config: re-read the file; topics change live, the rest
// is reported as needing a restart. An invalid file keeps what runs.
bool reload(happy::service& actors, happy::server& http, happy::config& running,
            const happy::command_line& args) {
  using namespace happy;
  auto result = load_config_file(*args.config_path);
  if (auto* error = std::get_if<config_error>(&result)) {
    log_error("reload failed, keeping the running config: " + error->message());
    return false;
  }
  config next = std::get<config>(std::move(result));
  apply_overrides(next, args);
  for (const auto& name : settings_needing_restart(running, next))
    log_warning("reload: " + name + " changed; needs restart (the running value stays)");
  log_level level = log_level::info;
  if (next.log_level != running.log_level && parse_log_level(next.log_level, level))
    set_log_level(level);
  // Access first: a topic that became protected must not stay readable while the actors catch up.
  http.apply_topic_access(next);
  actors.reload(next);
  running = std::move(next);
  log_info("reload: applied " + running.file_name);
  return true;
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
  if (auto problem = apply_overrides(cfg, args); !problem.empty()) {
    std::cerr << "happy-dashboard: " << problem << "\n";
    return exit_usage;
  }
  log_level level = log_level::info;
  if (parse_log_level(cfg.log_level, level)) set_log_level(level);
  set_log_json(cfg.log_format == "json");
  if (!cfg.nats && args.node)
    log_warning("--node is ignored: the config has no \"nats\" section (README \"Clustering\")");

  // A file size limit (ulimit -f) is a write error for the store, not the end.
  std::signal(SIGXFSZ, SIG_IGN);
  service_storage storage;
  if (cfg.storage.enabled()) {
    auto opened = open_storage(cfg);
    if (auto* problem = std::get_if<std::string>(&opened)) {
      std::cerr << "happy-dashboard: " << *problem << "\n";
      return exit_storage_unusable;
    }
    storage = std::get<service_storage>(std::move(opened));
  }

  // JetStream: refused credentials or unusable TLS settings stop the start;
  // servers that do not answer yet are waited for in the background.
  std::shared_ptr<nats_connection> nats;
  if (cfg.nats) {
    std::string problem;
    // On the client's threads: log the changes, nothing more.
    auto report = [](bool connected, const std::string& reason) {
      if (connected && reason.empty())
        log_info("nats: connected");
      else if (connected)
        log_warning("nats: " + reason);
      else
        log_error("nats: unavailable: " + reason);
    };
    nats = nats_connection::open(*cfg.nats, report, problem);
    if (!nats) {
      std::cerr << "happy-dashboard: " << problem << "\n";
      return exit_usage;
    }
    if (!nats->connected())
      log_warning("nats: no server answers yet; trying in the background (/readyz is 503 until then)");
  }

  caf::actor_system_config actor_config;
  actor_config.set("scheduler.max-threads", static_cast<std::size_t>(cfg.server.actor_threads));
  // Workers sleep on a condition variable instead of polling the queues
  // (polling steals the core from the I/O thread when both share one), and
  // skip the per-resume bookkeeping of CAF's own scheduler (worker_pool.hpp).
  use_worker_pool(actor_config);
  add_happy_error_category(actor_config);
  caf::actor_system system{actor_config};
  int exit_code = 0;
  {
    service actors(system, cfg, std::move(storage), nats);
    try {
      server http(cfg, actors);
      if (args.config_path) {
        http.on_reload([&actors, &http, &cfg, &args] { return reload(actors, http, cfg, args); });
        if (args.watch_config) http.watch_config_file(*args.config_path);
      }
      log_info(summary(cfg, http.port()));
      http.run();
      // Connections are gone (or the grace period ended): stop the actors and
      // wait for them before the I/O objects they may still reference go away.
      actors.shutdown();
      system.await_all_actors_done();
    } catch (const tls_setup_error& e) {
      log_error(std::string("cannot serve TLS: ") + e.what());
      exit_code = exit_invalid_config;
    } catch (const std::system_error& e) {
      log_error("cannot listen on " + cfg.server.host + ":" + std::to_string(cfg.server.port) +
                ": " + e.what());
      exit_code = exit_cannot_listen;
    }
  }  // ~service stops the actors that are still running
  // Every actor that used the connection has ended with the actor system's
  // work; close it, then let the client's own threads end.
  if (nats && nats.use_count() == 1) {
    nats.reset();
    nats_Close();
  }
  log_info("stopped");
  return exit_code;
}
