#include "config/overrides.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>
#include <tuple>

namespace happy {

namespace {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || !*name) return "node";
  return name;
}

bool valid_node_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// A list from the environment, e.g. HAPPY_PUBLISH_TOKENS=a,b: empty items are skipped.
void append_comma_separated(std::string_view rest, std::vector<std::string>& out) {
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
}

}  // namespace

std::string apply_overrides(config& cfg, const command_line& args) {
  if (const char* env_port = std::getenv("PORT"); env_port && *env_port && !args.port) {
    auto port = parse_port(env_port);
    if (!port) return "PORT must be a number from 0 to 65535, got '" + std::string(env_port) + "'";
    cfg.server.port = *port;
  }
  if (args.port) cfg.server.port = *args.port;
  if (args.web_root) cfg.web_root = *args.web_root;
  if (const char* env_tokens = std::getenv("HAPPY_PUBLISH_TOKENS"))
    append_comma_separated(env_tokens, cfg.publish_tokens);
  if (const char* env_tokens = std::getenv("HAPPY_METRICS_TOKENS"))
    append_comma_separated(env_tokens, cfg.metrics_tokens);
  if (const char* env_storage = std::getenv("HAPPY_STORAGE_PATH"); env_storage && *env_storage)
    cfg.storage.path = env_storage;
  if (args.storage_path) cfg.storage.path = *args.storage_path;
  if (const char* env_level = std::getenv("HAPPY_LOG_LEVEL"); env_level && *env_level)
    cfg.log_level = env_level;
  if (cfg.nats) {
    if (const char* env_node = std::getenv("HAPPY_NODE"); env_node && *env_node) cfg.nats->node = env_node;
    if (args.node) cfg.nats->node = *args.node;
    if (cfg.nats->node.empty()) cfg.nats->node = host_name();
    if (!valid_node_name(cfg.nats->node))
      return "node name '" + cfg.nats->node +
             "' must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit";
  }
  return {};
}

std::vector<std::string> settings_needing_restart(const config& a, const config& b) {
  std::vector<std::string> out;
  auto check = [&](bool differs, const char* name) {
    if (differs) out.emplace_back(name);
  };
  check(a.server.host != b.server.host, "server.host");
  auto nats_identity = [](const std::optional<nats_config>& n) {
    return n ? std::make_tuple(true, n->servers, n->replicas, n->user, n->password, n->token,
                               n->credentials_file, n->tls_ca_file, n->publish_timeout_ms)
             : std::make_tuple(false, std::vector<std::string>{}, 0, std::string{}, std::string{},
                               std::string{}, std::string{}, std::string{}, std::int64_t{0});
  };
  check(nats_identity(a.nats) != nats_identity(b.nats), "nats");
  check(a.server.port != b.server.port, "server.port");
  check(a.server.io_threads != b.server.io_threads, "server.io_threads");
  check(a.server.actor_threads != b.server.actor_threads, "server.actor_threads");
  check(a.server.shutdown_grace_ms != b.server.shutdown_grace_ms, "server.shutdown_grace_ms");
  // The files' contents are re-read on SIGHUP; switching TLS on or off, or
  // to other files, takes a restart.
  check(a.server.tls_cert_file != b.server.tls_cert_file || a.server.tls_key_file != b.server.tls_key_file,
        "server.tls");
  check(a.cors_allowed_origins != b.cors_allowed_origins, "cors.allowed_origins");
  check(a.publish_tokens != b.publish_tokens, "publish.tokens");
  check(a.metrics_tokens != b.metrics_tokens, "metrics.tokens");
  check(a.limits.max_connections != b.limits.max_connections, "limits.max_connections");
  check(a.limits.max_message_bytes != b.limits.max_message_bytes, "limits.max_message_bytes");
  check(a.limits.max_queued_bytes_per_client != b.limits.max_queued_bytes_per_client,
        "limits.max_queued_bytes_per_client");
  check(a.log_format != b.log_format, "log.format");
  check(a.limits.max_connections_per_ip != b.limits.max_connections_per_ip,
        "limits.max_connections_per_ip");
  check(a.auth.default_access != b.auth.default_access || a.auth.jwt.has_value() != b.auth.jwt.has_value() ||
            a.auth.token_url != b.auth.token_url || a.auth.cookie != b.auth.cookie ||
            (a.auth.jwt && (a.auth.jwt->algorithm != b.auth.jwt->algorithm ||
                            a.auth.jwt->key != b.auth.jwt->key ||
                            a.auth.jwt->audience != b.auth.jwt->audience ||
                            a.auth.jwt->issuer != b.auth.jwt->issuer ||
                            a.auth.jwt->leeway_s != b.auth.jwt->leeway_s)),
        "auth");
  check(a.storage.path != b.storage.path || a.storage.sync_every_commit != b.storage.sync_every_commit ||
            a.storage.max_age_ms != b.storage.max_age_ms ||
            a.storage.max_readings_per_topic != b.storage.max_readings_per_topic,
        "storage");
  return out;
}

}  // namespace happy
