#include "config/config_loader.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "config/embedded_text.hpp"
#include "config/jwt_key.hpp"
#include "config/rule_violation.hpp"
#include "config/source_reader.hpp"
#include "config/schema_violation.hpp"
#include "config/topic_name.hpp"

namespace happy {

namespace {

using rapidjson::Value;

// Config files are UTF-8: without validation the schema's string lengths are
// not checked on invalid text (found by tests/fuzz: a 6-byte token passed minLength 8).
constexpr unsigned parse_flags = rapidjson::kParseCommentsFlag | rapidjson::kParseTrailingCommasFlag |
                                 rapidjson::kParseValidateEncodingFlag;

std::string line_and_column(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

const std::vector<std::string>& parameters_of(distribution_kind kind) {
  static const std::vector<std::string> uniform{"min", "max"}, normal{"mean", "stddev"},
      walk{"start", "step", "min", "max"}, sine{"period_ms", "amplitude", "offset"};
  switch (kind) {
    case distribution_kind::uniform: return uniform;
    case distribution_kind::normal: return normal;
    case distribution_kind::random_walk: return walk;
    case distribution_kind::sine: return sine;
  }
  return uniform;
}

distribution_kind distribution_from(const std::string& name) {
  if (name == "normal") return distribution_kind::normal;
  if (name == "random_walk") return distribution_kind::random_walk;
  if (name == "sine") return distribution_kind::sine;
  return distribution_kind::uniform;
}

generator_config read_generator(const Value& g, const std::string& at) {
  generator_config out;
  out.interval_ms = g["interval_ms"].GetInt64();
  std::string distribution = g.HasMember("distribution") ? g["distribution"].GetString() : "uniform";
  out.distribution = distribution_from(distribution);
  const auto& allowed = parameters_of(out.distribution);
  for (auto it = g.MemberBegin(); it != g.MemberEnd(); ++it) {
    std::string key = it->name.GetString();
    if (key == "interval_ms" || key == "distribution") continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw rule_violation{at + "/" + key, "'" + key + "' is not a parameter of distribution '" +
                                               distribution + "' (its parameters: " +
                                               join_keys(allowed) + ")"};
  }
  auto number = [&](const char* key, double fallback) {
    return g.HasMember(key) ? g[key].GetDouble() : fallback;
  };
  out.min = number("min", out.min);
  out.max = number("max", out.max);
  out.mean = number("mean", out.mean);
  out.stddev = number("stddev", out.stddev);
  out.start = number("start", out.start);
  out.step = number("step", out.step);
  out.period_ms = number("period_ms", out.period_ms);
  out.amplitude = number("amplitude", out.amplitude);
  out.offset = number("offset", out.offset);
  if (out.distribution == distribution_kind::uniform && !(out.min < out.max))
    throw rule_violation{at, "expected min < max for distribution 'uniform', got min " +
                                 json_text(Value(out.min)) + " and max " + json_text(Value(out.max))};
  if (out.distribution == distribution_kind::random_walk) {
    if (!(out.min <= out.max))
      throw rule_violation{at, "expected min <= max for distribution 'random_walk'"};
    if (out.start < out.min || out.start > out.max)
      throw rule_violation{at + "/start", "expected start within [min, max] = [" +
                                              json_text(Value(out.min)) + ", " +
                                              json_text(Value(out.max)) + "], got " +
                                              json_text(Value(out.start))};
  }
  return out;
}

std::string escape_pointer_token(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::vector<std::string> read_strings(const Value& array) {
  std::vector<std::string> out;
  for (const auto& v : array.GetArray()) out.emplace_back(v.GetString(), v.GetStringLength());
  return out;
}

// A secret given inline or by the name of an environment variable, not both.
std::string read_secret(const Value& c, const char* key, const std::string& at) {
  std::string env_key = std::string(key) + "_env";
  bool inline_value = c.HasMember(key), from_env = c.HasMember(env_key.c_str());
  if (inline_value && from_env)
    throw rule_violation{at, "give \"" + std::string(key) + "\" or \"" + env_key + "\", not both"};
  if (inline_value) return c[key].GetString();
  if (!from_env) return {};
  std::string name = c[env_key.c_str()].GetString();
  const char* value = std::getenv(name.c_str());
  if (!value || !*value)
    throw rule_violation{at + "/" + env_key,
                         "expected the environment variable " + name + " to hold the " + key};
  return value;
}

nats_config read_nats(const Value& c) {
  nats_config out;
  for (const auto& url : c["servers"].GetArray()) out.servers.emplace_back(url.GetString());
  if (c.HasMember("replicas")) out.replicas = c["replicas"].GetInt();
  if (c.HasMember("user")) out.user = c["user"].GetString();
  out.password = read_secret(c, "password", "/nats");
  out.token = read_secret(c, "token", "/nats");
  if (out.user.empty() != out.password.empty())
    throw rule_violation{"/nats", "\"user\" and a password (\"password\" or \"password_env\") go together"};
  if (c.HasMember("credentials_file")) {
    out.credentials_file = c["credentials_file"].GetString();
    if (access(out.credentials_file.c_str(), R_OK) != 0)
      throw rule_violation{"/nats/credentials_file", "expected a readable NATS .creds file, got '" +
                                                         out.credentials_file + "'"};
  }
  int ways = !out.user.empty() + !out.token.empty() + !out.credentials_file.empty();
  if (ways > 1)
    throw rule_violation{"/nats", "authenticate one way: user and password, a token, or a credentials_file"};
  if (c.HasMember("tls")) {
    out.tls_ca_file = c["tls"]["ca_file"].GetString();
    if (access(out.tls_ca_file.c_str(), R_OK) != 0)
      throw rule_violation{"/nats/tls/ca_file", "expected a readable PEM file of CA certificates, got '" +
                                                   out.tls_ca_file + "'"};
  }
  if (c.HasMember("publish_timeout_ms")) out.publish_timeout_ms = c["publish_timeout_ms"].GetInt64();
  return out;
}

// The schema checked the shape "<n><unit>".
std::int64_t read_duration_ms(const Value& v) {
  std::string text(v.GetString(), v.GetStringLength());
  std::size_t digits = text.find_first_not_of("0123456789");
  std::int64_t n = std::stoll(text.substr(0, digits));
  std::string unit = text.substr(digits);
  if (unit == "ms") return n;
  if (unit == "s") return n * 1000;
  if (unit == "m") return n * 60 * 1000;
  if (unit == "h") return n * 3600 * 1000;
  return n * 24 * 3600 * 1000;
}

storage_config read_storage(const Value& s) {
  storage_config out;
  out.path = s["path"].GetString();
  if (s.HasMember("synchronous")) out.sync_every_commit = s["synchronous"] == "full";
  if (s.HasMember("retention")) {
    const auto& r = s["retention"];
    if (r.HasMember("max_age")) out.max_age_ms = read_duration_ms(r["max_age"]);
    if (r.HasMember("max_readings_per_topic"))
      out.max_readings_per_topic = r["max_readings_per_topic"].GetUint64();
  }
  return out;
}

topic_access read_access(const Value& v) {
  return v == "token" ? topic_access::token : topic_access::open;
}

// The schema checked the names; which fields go together is checked here.
auth_config read_auth(const Value& a) {
  auth_config out;
  if (a.HasMember("default_access")) out.default_access = read_access(a["default_access"]);
  if (a.HasMember("token_url")) out.token_url = a["token_url"].GetString();
  if (a.HasMember("cookie")) out.cookie = a["cookie"].GetString();
  if (a.HasMember("jwt")) {
    const auto& j = a["jwt"];
    jwt_config jwt;
    jwt.algorithm = j["algorithm"] == "RS256"   ? jwt_algorithm::rs256
                    : j["algorithm"] == "ES256" ? jwt_algorithm::es256
                                                : jwt_algorithm::hs256;
    auto text = [&](const char* key, std::string& field) {
      if (j.HasMember(key)) field.assign(j[key].GetString(), j[key].GetStringLength());
    };
    text("secret", jwt.secret);
    text("secret_env", jwt.secret_env);
    text("public_key_file", jwt.public_key_file);
    text("audience", jwt.audience);
    text("issuer", jwt.issuer);
    if (j.HasMember("leeway_s")) jwt.leeway_s = j["leeway_s"].GetInt64();
    if (jwt.algorithm == jwt_algorithm::hs256) {
      if (jwt.secret.empty() == jwt.secret_env.empty())
        throw rule_violation{"/auth/jwt", "HS256 needs exactly one of \"secret\" and \"secret_env\""};
      if (!jwt.public_key_file.empty())
        throw rule_violation{"/auth/jwt/public_key_file",
                             "HS256 verifies with a secret; public_key_file is for RS256 and ES256"};
    } else {
      if (jwt.public_key_file.empty())
        throw rule_violation{"/auth/jwt", std::string(j["algorithm"].GetString()) +
                                              " needs \"public_key_file\" (a PEM public key)"};
      if (!jwt.secret.empty() || !jwt.secret_env.empty())
        throw rule_violation{"/auth/jwt", std::string(j["algorithm"].GetString()) +
                                              " verifies with public_key_file; a secret is for HS256"};
    }
    out.jwt = std::move(jwt);
  }
  return out;
}

config read_config(const Value& doc, const std::string& source) {
  config out;
  out.file_name = source;
  if (doc.HasMember("server")) {
    const auto& s = doc["server"];
    if (s.HasMember("host")) out.server.host = s["host"].GetString();
    if (s.HasMember("port")) out.server.port = static_cast<std::uint16_t>(s["port"].GetInt());
    if (s.HasMember("io_threads")) out.server.io_threads = s["io_threads"].GetInt();
    if (s.HasMember("actor_threads")) out.server.actor_threads = s["actor_threads"].GetInt();
    if (s.HasMember("shutdown_grace_ms"))
      out.server.shutdown_grace_ms = s["shutdown_grace_ms"].GetInt64();
    if (s.HasMember("tls")) {
      out.server.tls_cert_file = s["tls"]["cert_file"].GetString();
      out.server.tls_key_file = s["tls"]["key_file"].GetString();
      if (s["tls"].HasMember("hsts_max_age")) {
        const auto& age = s["tls"]["hsts_max_age"];
        bool off = age == "off";
        std::int64_t ms = off ? 0 : read_duration_ms(age);
        if (!off && ms < 1000)
          throw rule_violation{"/server/tls/hsts_max_age",
                               "expected a duration of at least 1s, or \"off\", got " + json_text(age)};
        out.server.hsts_max_age_s = ms / 1000;
      }
    }
  }
  if (doc.HasMember("cors") && doc["cors"].HasMember("allowed_origins"))
    out.cors_allowed_origins = read_strings(doc["cors"]["allowed_origins"]);
  if (doc.HasMember("publish") && doc["publish"].HasMember("tokens"))
    out.publish_tokens = read_strings(doc["publish"]["tokens"]);
  if (doc.HasMember("metrics") && doc["metrics"].HasMember("tokens"))
    out.metrics_tokens = read_strings(doc["metrics"]["tokens"]);
  if (doc.HasMember("limits")) {
    const auto& l = doc["limits"];
    auto size = [&](const char* key, std::size_t& field) {
      if (l.HasMember(key)) field = static_cast<std::size_t>(l[key].GetUint64());
    };
    size("max_connections", out.limits.max_connections);
    size("max_topics", out.limits.max_topics);
    size("max_message_bytes", out.limits.max_message_bytes);
    size("max_queued_bytes_per_client", out.limits.max_queued_bytes_per_client);
    size("history", out.limits.history);
    size("max_connections_per_ip", out.limits.max_connections_per_ip);
  }
  if (doc.HasMember("log")) {
    if (doc["log"].HasMember("level")) out.log_level = doc["log"]["level"].GetString();
    if (doc["log"].HasMember("format")) out.log_format = doc["log"]["format"].GetString();
  }
  if (doc.HasMember("cluster"))
    throw rule_violation{"/cluster", "the peer cluster was removed: nodes share their topics through "
                                     "NATS JetStream now; replace \"cluster\" with a \"nats\" section "
                                     "(README \"Clustering\")"};
  if (doc.HasMember("nats")) out.nats = read_nats(doc["nats"]);
  if (doc.HasMember("storage")) out.storage = read_storage(doc["storage"]);
  if (doc.HasMember("auth")) out.auth = read_auth(doc["auth"]);
  auto needs_jwt = [&](const std::string& at, const std::string& what) {
    if (!out.auth.jwt)
      throw rule_violation{at, what + " needs auth.jwt (how tokens are verified)"};
  };
  if (out.auth.default_access == topic_access::token)
    needs_jwt("/auth/default_access", "\"token\"");
  if (!out.auth.token_url.empty()) needs_jwt("/auth/token_url", "a token URL");
  if (!out.auth.cookie.empty()) needs_jwt("/auth/cookie", "a token cookie");
  if (doc.HasMember("topics")) {
    const auto& topics = doc["topics"];
    for (auto it = topics.MemberBegin(); it != topics.MemberEnd(); ++it) {
      std::string name(it->name.GetString(), it->name.GetStringLength());
      std::string at = "/topics/" + escape_pointer_token(name);
      if (auto problem = topic_name_problem(name); !problem.empty())
        throw rule_violation{at, "invalid topic name '" + name + "': " + problem};
      topic_config topic;
      if (it->value.HasMember("history"))
        topic.history = static_cast<std::size_t>(it->value["history"].GetUint64());
      if (it->value.HasMember("generator"))
        topic.generator = read_generator(it->value["generator"], at + "/generator");
      if (it->value.HasMember("source")) {
        if (topic.generator)
          throw rule_violation{at + "/source", "a topic has a generator or a source, not both"};
        topic.source = read_source(it->value["source"], at + "/source",
                                   out.limits.max_message_bytes);
      }
      if (it->value.HasMember("access")) {
        topic.access = read_access(it->value["access"]);
        if (topic.access == topic_access::token) needs_jwt(at + "/access", "\"token\"");
      }
      out.topics.emplace(name, topic);
    }
    if (out.topics.size() > out.limits.max_topics)
      throw rule_violation{"/topics", "declares " + std::to_string(out.topics.size()) +
                                          " topics, more than limits.max_topics = " +
                                          std::to_string(out.limits.max_topics)};
  }
  return out;
}

const rapidjson::SchemaDocument& config_schema() {
  static const rapidjson::Document schema_json = [] {
    rapidjson::Document d;
    d.Parse(embedded::config_schema_json);
    return d;
  }();
  static const rapidjson::SchemaDocument schema(schema_json);
  return schema;
}

const Value& schema_json_root() {
  static const rapidjson::Document d = [] {
    rapidjson::Document doc;
    doc.Parse(embedded::config_schema_json);
    return doc;
  }();
  return d;
}

}  // namespace

bool operator==(const generator_config& a, const generator_config& b) {
  return a.interval_ms == b.interval_ms && a.distribution == b.distribution && a.min == b.min &&
         a.max == b.max && a.mean == b.mean && a.stddev == b.stddev && a.start == b.start &&
         a.step == b.step && a.period_ms == b.period_ms && a.amplitude == b.amplitude &&
         a.offset == b.offset;
}

std::int64_t config::interval_of(const std::string& topic) const {
  auto it = topics.find(topic);
  if (it == topics.end()) return 0;
  if (it->second.generator) return it->second.generator->interval_ms;
  if (it->second.source) return it->second.source->interval_ms;
  return 0;
}

std::size_t config::history_of(const std::string& topic) const {
  auto it = topics.find(topic);
  if (it != topics.end() && it->second.history) return *it->second.history;
  return limits.history;
}

topic_access config::access_of(const std::string& topic) const {
  auto it = topics.find(topic);
  if (it != topics.end() && it->second.access) return *it->second.access;
  return auth.default_access;
}

std::string config_error::message() const { return file + ": " + location + ": " + problem; }

config_result parse_config(std::string_view text, const std::string& source_name) {
  rapidjson::Document doc;
  doc.Parse<parse_flags>(text.data(), text.size());
  if (doc.HasParseError())
    return config_error{source_name, line_and_column(text, doc.GetErrorOffset()),
                        std::string("invalid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError())};
  rapidjson::SchemaValidator validator(config_schema());
  if (!doc.Accept(validator)) {
    auto failure = describe_schema_failure(validator, schema_json_root(), doc);
    return config_error{source_name, failure.location, failure.problem};
  }
  try {
    return read_config(doc, source_name);
  } catch (const rule_violation& v) {
    return config_error{source_name, v.pointer, v.problem};
  }
}

config_result load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return config_error{path, "file", "cannot be opened for reading"};
  std::ostringstream text;
  text << in.rdbuf();
  auto result = parse_config(text.str(), path);
  // Read here, not in parse_config: parsing stays free of file and environment access.
  if (auto* parsed = std::get_if<config>(&result); parsed && parsed->auth.jwt)
    if (auto problem = load_jwt_key(*parsed->auth.jwt))
      return config_error{path, problem->pointer, problem->problem};
  if (auto* parsed = std::get_if<config>(&result))
    if (auto problem = check_source_programs(*parsed))
      return config_error{path, problem->pointer, problem->problem};
  return result;
}

config default_config() {
  auto result = parse_config(embedded::default_config_json, "<embedded default>");
  return std::get<config>(std::move(result));
}

}  // namespace happy
