#pragma once

// The service's configuration as plain values: what config_loader produces
// from a validated JSON file and what the actors and the network layer read.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace happy {

enum class distribution_kind { uniform, normal, random_walk, sine };

struct generator_config {
  std::int64_t interval_ms = 5000;
  distribution_kind distribution = distribution_kind::uniform;
  // uniform: [min, max); random_walk: clamp bounds.
  double min = 0;
  double max = 10;
  // normal
  double mean = 5;
  double stddev = 1;
  // random_walk
  double start = 5;
  double step = 0.5;
  // sine
  double period_ms = 60000;
  double amplitude = 5;
  double offset = 5;

  friend bool operator==(const generator_config& a, const generator_config& b);
  friend bool operator!=(const generator_config& a, const generator_config& b) { return !(a == b); }
};

// A topic's real source (README "Sources"): this host's numbers from /proc,
// a program's output, or a value read from an HTTP resource.
enum class system_metric { cpu, memory, load, network, disk };

struct command_source {
  std::vector<std::string> argv;  // argv[0] is an absolute path; no shell, no PATH search
  std::map<std::string, std::string> env;  // the whole environment (plus a default PATH)
  std::string cwd;                         // empty: the service's working directory
};

// Where in an HTTP body the reading is: the whole body as JSON, the value at
// a JSON Pointer (RFC 6901), or a Prometheus sample by metric name and labels.
struct http_source {
  std::string url;  // http:// or https://
  std::map<std::string, std::string> headers;
  std::optional<std::string> json_pointer;
  std::string prometheus_metric;  // not empty: the body is Prometheus text
  std::map<std::string, std::string> prometheus_labels;
};

enum class source_kind { system, command, http };

struct source_config {
  source_kind kind = source_kind::system;
  std::int64_t interval_ms = 5000;
  std::int64_t timeout_ms = 5000;  // command and http: a run that takes longer fails
  system_metric metric = system_metric::cpu;
  command_source command;
  http_source http;
  // Not a key of its own: limits.max_message_bytes, the most a reading may be.
  std::size_t max_reading_bytes = 65536;

  friend bool operator==(const source_config& a, const source_config& b);
  friend bool operator!=(const source_config& a, const source_config& b) { return !(a == b); }
};

// Who may read a topic: anyone, or only holders of a token that grants it.
enum class topic_access { open, token };

struct topic_config {
  std::optional<generator_config> generator;  // absent: publish-only topic
  std::optional<source_config> source;        // never together with a generator
  std::optional<std::size_t> history;         // overrides limits.history
  std::optional<topic_access> access;         // overrides auth.default_access
};

struct server_config {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8080;
  int io_threads = 1;
  int actor_threads = 1;
  std::int64_t shutdown_grace_ms = 10000;
  // server.tls: HTTPS and WSS on the port (both PEM; re-read on SIGHUP).
  std::string tls_cert_file;
  std::string tls_key_file;
  // server.tls.hsts_max_age: Strict-Transport-Security's max-age on HTTPS answers; 0: none.
  std::int64_t hsts_max_age_s = 365LL * 24 * 3600;

  bool tls_enabled() const { return !tls_cert_file.empty(); }
};

struct limits_config {
  std::size_t max_connections = 100000;
  std::size_t max_topics = 1000;
  std::size_t max_message_bytes = 65536;
  std::size_t max_queued_bytes_per_client = 1048576;
  std::size_t history = 1000;
  std::size_t max_connections_per_ip = 0;  // 0: no per-address limit
};

// Present: the topics' logs are JetStream streams on these NATS servers, and
// any number of nodes serve them (README "Clustering").
struct nats_config {
  std::vector<std::string> servers;  // nats:// or tls:// URLs
  int replicas = 3;                  // each topic stream's replicas
  std::string user, password;        // password from the file or password_env
  std::string token;                 // or token_env
  std::string credentials_file;      // a NATS .creds file
  std::string tls_ca_file;           // TLS to the servers, verified with this CA
  std::int64_t publish_timeout_ms = 10000;  // a publish waits this long for a quorum
  std::string node;  // this node's name: --node, HAPPY_NODE or the host name
};

// Durable history (README "Storage"). Without a path, history lives only in
// memory, as `limits.history` readings per topic.
struct storage_config {
  std::string path;  // the SQLite file; empty: no storage
  // true: every commit is synced to disk (acknowledged readings survive a
  // power loss); false: SQLite's synchronous=NORMAL (they survive a crash).
  bool sync_every_commit = true;
  std::int64_t max_age_ms = 24 * 3600 * 1000;  // readings older than this are deleted
  std::uint64_t max_readings_per_topic = 100000;

  bool enabled() const { return !path.empty(); }
};

enum class jwt_algorithm { hs256, rs256, es256 };

// How tokens are verified (README "Private topics").
struct jwt_config {
  jwt_algorithm algorithm = jwt_algorithm::hs256;
  std::string secret;           // HS256: the secret itself...
  std::string secret_env;       // ...or the environment variable holding it
  std::string public_key_file;  // RS256/ES256: a PEM public key
  std::string audience;         // checked against `aud` when not empty
  std::string issuer;           // checked against `iss` when not empty
  std::int64_t leeway_s = 0;    // clock skew allowed for exp and nbf
  // What verifies signatures: the secret, or the PEM text of the key file
  // (read by load_config_file, which reports a missing or unfit key).
  std::string key;
};

struct auth_config {
  topic_access default_access = topic_access::open;
  std::optional<jwt_config> jwt;
  std::string token_url;  // where the page fetches a token
  std::string cookie;     // a cookie that may carry the token
};

struct config {
  std::string file_name = "<embedded default>";  // the file the values came from, for messages
  server_config server;
  std::vector<std::string> cors_allowed_origins{"*"};
  std::vector<std::string> publish_tokens;
  // GET /metrics needs "Authorization: Bearer <one of these>"; empty: open.
  std::vector<std::string> metrics_tokens;
  limits_config limits;
  std::string log_level = "info";
  std::string log_format = "text";
  std::map<std::string, topic_config> topics;
  std::optional<nats_config> nats;
  storage_config storage;
  auth_config auth;
  std::string web_root;  // from --web-root: serve the page from disk; empty: embedded

  std::size_t history_of(const std::string& topic) const;
  // The topic's generator or source interval; 0: publish-only.
  std::int64_t interval_of(const std::string& topic) const;
  topic_access access_of(const std::string& topic) const;
};

}  // namespace happy
