#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "config/config_loader.hpp"
#include "temp_dir.hpp"

using namespace happy;

namespace {

// The located error for `json`, or "" when it is valid.
std::string error_of(const std::string& json) {
  auto result = parse_config(json, "test.json");
  if (auto* e = std::get_if<config_error>(&result)) return e->message();
  return "";
}

}  // namespace

TEST_CASE("the embedded default is one uniform 0..10 happiness generator every 5 s") {
  config cfg = default_config();
  REQUIRE(cfg.topics.size() == 1);
  const auto& gen = cfg.topics.at("happiness").generator;
  REQUIRE(gen);
  CHECK(gen->interval_ms == 5000);
  CHECK(gen->distribution == distribution_kind::uniform);
  CHECK(gen->min == 0);
  CHECK(gen->max == 10);
  CHECK(cfg.server.port == 8080);
  CHECK(cfg.cors_allowed_origins == std::vector<std::string>{"*"});
  CHECK(cfg.history_of("happiness") == 1000);
}

TEST_CASE("every shipped example config is valid") {
  // docker/cluster.json names the NATS password's variable; compose sets it.
  ::setenv("HAPPY_NATS_PASSWORD", "example-password", 0);
  for (auto name : {"config/examples/full.json", "config/examples/all-distributions.json",
                    "config/examples/fast.json", "config/examples/host.json", "docker/config.json",
                    "docker/cluster.json"}) {
    auto result = load_config_file(std::string(HAPPY_SOURCE_DIR) + "/" + name);
    INFO(name << ": " << (std::holds_alternative<config_error>(result)
                              ? std::get<config_error>(result).message()
                              : "ok"));
    CHECK(std::holds_alternative<config>(result));
  }
}

TEST_CASE("values are read into the config") {
  auto result = parse_config(R"({"server":{"port":9000,"io_threads":2},
      "limits":{"history":50},
      "topics":{"t":{"history":7,"generator":{"interval_ms":100,"distribution":"sine",
                 "period_ms":1000,"amplitude":2,"offset":3}}, "p":{}}})",
                             "x.json");
  REQUIRE(std::holds_alternative<config>(result));
  const auto& cfg = std::get<config>(result);
  CHECK(cfg.server.port == 9000);
  CHECK(cfg.server.io_threads == 2);
  CHECK(cfg.history_of("t") == 7);
  CHECK(cfg.history_of("p") == 50);
  CHECK_FALSE(cfg.topics.at("p").generator);
  CHECK(cfg.topics.at("t").generator->distribution == distribution_kind::sine);
  CHECK(cfg.topics.at("t").generator->amplitude == 2);
}

TEST_CASE("schema violations name the file, the JSON path and what was expected") {
  CHECK(error_of(R"({"topics":{"happiness":{"generator":{"interval_ms":-5}}}})") ==
        "test.json: /topics/happiness/generator/interval_ms: expected a number >= 1, got -5");
  CHECK(error_of(R"({"server":{"port":"80"}})") ==
        "test.json: /server/port: expected an integer, got a string \"80\"");
  CHECK(error_of(R"({"server":{"port":70000}})") ==
        "test.json: /server/port: expected a number <= 65535, got 70000");
  CHECK(error_of(R"({"topics":{"t":{"generator":{}}}})") ==
        "test.json: /topics/t/generator: missing required key 'interval_ms'");
  CHECK(error_of(R"({"topics":{"t":{"generator":{"interval_ms":5,"distribution":"gauss"}}}})") ==
        "test.json: /topics/t/generator/distribution: expected one of \"uniform\", \"normal\", "
        "\"random_walk\", \"sine\", got \"gauss\"");
  // The rule that failed, in numbers: a one-character token is not merely "too short".
  CHECK(error_of(R"({"publish":{"tokens":["x"]}})") ==
        "test.json: /publish/tokens/0: expected a string of at least 8 characters, got \"x\"");
  CHECK(error_of(R"({"storage":{"path":"h.db","retention":{"max_age":"24 hours"}}})") ==
        "test.json: /storage/retention/max_age: expected a duration: a whole number with ms, s, m, h "
        "or d, such as \"24h\", got \"24 hours\"");
}

TEST_CASE("unknown keys are reported with the keys that are allowed") {
  auto message = error_of(R"({"topics":{"t":{"generator":{"interval_ms":5,"colour":1}}}})");
  CHECK(message.rfind("test.json: /topics/t/generator: unknown key 'colour' (allowed: ", 0) == 0);
  CHECK_THAT(error_of(R"({"sever":{}})"),
             Catch::Contains("test.json: /: unknown key 'sever'"));
}

TEST_CASE("topic names are checked against the pattern and the reserved words") {
  CHECK_THAT(error_of(R"({"topics":{"metrics":{}}})"),
             Catch::StartsWith("test.json: /topics/metrics: invalid topic name 'metrics'"));
  CHECK_THAT(error_of(R"({"topics":{"Happy":{}}})"),
             Catch::StartsWith("test.json: /topics/Happy: invalid topic name"));
  CHECK_THAT(error_of(R"({"topics":{"a/b":{}}})"),
             Catch::StartsWith("test.json: /topics/a~1b: invalid topic name"));
  CHECK(error_of(R"({"topics":{"ok_name-2":{}}})").empty());
}

TEST_CASE("distribution parameters must belong to the chosen distribution and make sense") {
  CHECK(error_of(R"({"topics":{"t":{"generator":{"interval_ms":5,"mean":3}}}})") ==
        "test.json: /topics/t/generator/mean: 'mean' is not a parameter of distribution "
        "'uniform' (its parameters: min, max)");
  CHECK_THAT(error_of(R"({"topics":{"t":{"generator":{"interval_ms":5,"min":3,"max":3}}}})"),
             Catch::StartsWith("test.json: /topics/t/generator: expected min < max"));
  CHECK_THAT(error_of(R"({"topics":{"t":{"generator":{"interval_ms":5,"distribution":"random_walk",
                        "start":20,"min":0,"max":10}}}})"),
             Catch::StartsWith("test.json: /topics/t/generator/start: expected start within"));
}

TEST_CASE("syntax errors name the line and column") {
  CHECK_THAT(error_of("{\n  \"topics\": {\n    \"t\": {,}\n  }\n}"),
             Catch::StartsWith("test.json: line 3, column 11: invalid JSON"));
}

TEST_CASE("text that is not UTF-8 is an error with its line and column") {
  // A 6-byte token with a stray byte once slipped past the schema's minLength 8.
  CHECK_THAT(error_of("{\"publish\": {\"tokens\": [\"TN\xad" "123\"]}}"),
             Catch::StartsWith("test.json: line 1, column") && Catch::Contains("invalid JSON"));
}

TEST_CASE("more topics than limits.max_topics is an error") {
  CHECK(error_of(R"({"limits":{"max_topics":1},"topics":{"a":{},"b":{}}})") ==
        "test.json: /topics: declares 2 topics, more than limits.max_topics = 1");
}

TEST_CASE("a missing file is reported by name") {
  auto result = load_config_file("/nonexistent/happy.json");
  REQUIRE(std::holds_alternative<config_error>(result));
  CHECK(std::get<config_error>(result).message() ==
        "/nonexistent/happy.json: file: cannot be opened for reading");
}

TEST_CASE("the removed peer cluster's section is a located error that names \"nats\"") {
  CHECK_THAT(error_of(R"({"cluster":{"listen":"0.0.0.0:4710","peers":["b:4710"]}})"),
             Catch::Contains("test.json: /cluster: the peer cluster was removed") &&
                 Catch::Contains("\"nats\" section"));
  CHECK_THAT(error_of(R"({"cluster":{}})"), Catch::Contains("/cluster"));
  CHECK(error_of(R"({"topics":{"x":{}}})").empty());
}

TEST_CASE("the storage section: a path, the sync setting and retention") {
  auto result = parse_config(
      R"({"storage":{"path":"/var/lib/h.db","synchronous":"normal",
          "retention":{"max_age":"6h","max_readings_per_topic":500}}})",
      "s.json");
  REQUIRE(std::holds_alternative<config>(result));
  const auto& storage = std::get<config>(result).storage;
  CHECK(storage.enabled());
  CHECK(storage.path == "/var/lib/h.db");
  CHECK_FALSE(storage.sync_every_commit);
  CHECK(storage.max_age_ms == 6 * 3600 * 1000);
  CHECK(storage.max_readings_per_topic == 500);
  auto defaults = std::get<config>(parse_config(R"({"storage":{"path":"h.db"}})", "s.json")).storage;
  CHECK(defaults.sync_every_commit);
  CHECK(defaults.max_age_ms == 24 * 3600 * 1000);
  CHECK(defaults.max_readings_per_topic == 100000);
  CHECK_FALSE(default_config().storage.enabled());  // the bare binary keeps history in memory
}

TEST_CASE("storage mistakes are located") {
  CHECK_THAT(error_of(R"({"storage":{"retention":{"max_age":"1h"}}})"),
             Catch::StartsWith("test.json: /storage: ") && Catch::Contains("path"));
  CHECK_THAT(error_of(R"({"storage":{"path":"h.db","retention":{"max_age":"24 hours"}}})"),
             Catch::StartsWith("test.json: /storage/retention/max_age: "));
  CHECK_THAT(error_of(R"({"storage":{"path":"h.db","retention":{"max_readings_per_topic":0}}})"),
             Catch::StartsWith("test.json: /storage/retention/max_readings_per_topic: "));
  CHECK_THAT(error_of(R"({"storage":{"path":"h.db","synchronous":"off"}})"),
             Catch::StartsWith("test.json: /storage/synchronous: "));
}

TEST_CASE("the auth section: per-topic access, default, verifier settings") {
  auto result = parse_config(R"({
    "auth": {"default_access": "token", "cookie": "happy_token", "token_url": "/backend/token",
             "jwt": {"algorithm": "HS256", "secret": "0123456789abcdef0123456789abcdef",
                     "audience": "dash", "issuer": "backend", "leeway_s": 5}},
    "topics": {"happiness": {"access": "public"}, "sales": {}}})", "test.json");
  REQUIRE(std::holds_alternative<config>(result));
  const auto& cfg = std::get<config>(result);
  REQUIRE(cfg.auth.jwt);
  CHECK(cfg.auth.jwt->algorithm == jwt_algorithm::hs256);
  CHECK(cfg.auth.jwt->audience == "dash");
  CHECK(cfg.auth.jwt->leeway_s == 5);
  CHECK(cfg.auth.cookie == "happy_token");
  CHECK(cfg.access_of("happiness") == topic_access::open);
  CHECK(cfg.access_of("sales") == topic_access::token);
  CHECK(cfg.access_of("made-by-publishing") == topic_access::token);
  CHECK(default_config().access_of("happiness") == topic_access::open);
}

TEST_CASE("auth mistakes are located") {
  CHECK_THAT(error_of(R"({"topics": {"sales": {"access": "token"}}})"),
             Catch::Contains("/topics/sales/access") && Catch::Contains("needs auth.jwt"));
  CHECK_THAT(error_of(R"({"auth": {"default_access": "token"}})"),
             Catch::Contains("/auth/default_access"));
  CHECK_THAT(error_of(R"({"auth": {"jwt": {"algorithm": "HS256", "secret": "short"}}})"),
             Catch::Contains("/auth/jwt/secret"));
  CHECK_THAT(error_of(R"({"auth": {"jwt": {"algorithm": "HS256"}}})"),
             Catch::Contains("/auth/jwt") && Catch::Contains("exactly one of"));
  CHECK_THAT(error_of(R"({"auth": {"jwt": {"algorithm": "RS256"}}})"),
             Catch::Contains("public_key_file"));
  CHECK_THAT(error_of(R"({"auth": {"jwt": {"algorithm": "none", "secret_env": "X"}}})"),
             Catch::Contains("/auth/jwt/algorithm"));
  CHECK_THAT(error_of(R"({"auth": {"cookie": "bad cookie"}})"), Catch::Contains("/auth/cookie"));
}

TEST_CASE("the verifier's key is read from the environment or the key file, and checked") {
  testing::temp_dir dir;
  auto write = [&dir](const std::string& text, const std::string& suffix = ".json") {
    std::string path = dir.file("config" + suffix);
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return path;
  };
  auto load = [&](const std::string& text) { return load_config_file(write(text)); };

  ::setenv("HAPPY_TEST_JWT_SECRET", "0123456789abcdef0123456789abcdef!", 1);
  auto from_env = load(R"({"auth": {"jwt": {"algorithm": "HS256", "secret_env": "HAPPY_TEST_JWT_SECRET"}}})");
  REQUIRE(std::holds_alternative<config>(from_env));
  CHECK(std::get<config>(from_env).auth.jwt->key == "0123456789abcdef0123456789abcdef!");
  ::unsetenv("HAPPY_TEST_JWT_SECRET");
  auto unset = load(R"({"auth": {"jwt": {"algorithm": "HS256", "secret_env": "HAPPY_TEST_JWT_SECRET"}}})");
  REQUIRE(std::holds_alternative<config_error>(unset));
  CHECK_THAT(std::get<config_error>(unset).message(),
             Catch::Contains("/auth/jwt/secret_env") && Catch::Contains("not set"));

  auto missing = load(R"({"auth": {"jwt": {"algorithm": "RS256", "public_key_file": "/nonexistent.pem"}}})");
  REQUIRE(std::holds_alternative<config_error>(missing));
  CHECK_THAT(std::get<config_error>(missing).message(),
             Catch::Contains("/auth/jwt/public_key_file") && Catch::Contains("/nonexistent.pem"));
  std::string not_a_key = write("this is not PEM", ".pem");
  auto garbage = load(R"({"auth": {"jwt": {"algorithm": "ES256", "public_key_file": ")" + not_a_key + R"("}}})");
  REQUIRE(std::holds_alternative<config_error>(garbage));
  CHECK_THAT(std::get<config_error>(garbage).message(), Catch::Contains("expected a PEM public key"));
}

TEST_CASE("sources are read with their defaults") {
  auto result = parse_config(R"({"limits":{"max_message_bytes":2048},"topics":{
      "cpu":{"source":{"system":"cpu"}},
      "disk":{"source":{"system":"disk","interval_ms":1000}},
      "cmd":{"source":{"command":["/bin/sh","-c","echo 42"],"timeout_ms":700,
                       "env":{"A":"1"},"cwd":"/tmp"}},
      "web":{"source":{"http":"http://127.0.0.1:9/x.json","headers":{"X-Key":"k"},
                       "json_pointer":"/a/0"}},
      "prom":{"source":{"http":"https://example.test/metrics",
                        "prometheus":{"metric":"up","labels":{"job":"node"}}}}}})",
                             "test.json");
  REQUIRE(std::holds_alternative<config>(result));
  const auto& cfg = std::get<config>(result);
  const auto& cpu = *cfg.topics.at("cpu").source;
  CHECK(cpu.kind == source_kind::system);
  CHECK(cpu.metric == system_metric::cpu);
  CHECK(cpu.interval_ms == 5000);
  CHECK(cfg.interval_of("cpu") == 5000);
  CHECK(cfg.topics.at("disk").source->metric == system_metric::disk);
  CHECK(cfg.interval_of("disk") == 1000);
  const auto& cmd = *cfg.topics.at("cmd").source;
  CHECK(cmd.kind == source_kind::command);
  CHECK(cmd.command.argv == std::vector<std::string>{"/bin/sh", "-c", "echo 42"});
  CHECK(cmd.command.env.at("A") == "1");
  CHECK(cmd.command.cwd == "/tmp");
  CHECK(cmd.timeout_ms == 700);
  CHECK(cmd.max_reading_bytes == 2048);
  const auto& web = *cfg.topics.at("web").source;
  CHECK(web.http.url == "http://127.0.0.1:9/x.json");
  CHECK(web.http.headers.at("X-Key") == "k");
  CHECK(web.http.json_pointer == std::optional<std::string>("/a/0"));
  const auto& prom = *cfg.topics.at("prom").source;
  CHECK(prom.http.prometheus_metric == "up");
  CHECK(prom.http.prometheus_labels.at("job") == "node");
  CHECK(cfg.topics.at("cmd").generator == std::nullopt);
}

TEST_CASE("source mistakes are located") {
  auto topic = [](const std::string& source) {
    return error_of(R"({"topics":{"t":{"source":)" + source + "}}}");
  };
  CHECK(topic(R"({"system":"cpu","command":["/bin/true"]})") ==
        "test.json: /topics/t/source: expected exactly one of system, command or http, got 2");
  CHECK_THAT(topic(R"({"interval_ms":100})"),
             Catch::StartsWith("test.json: /topics/t/source: expected exactly one of"));
  CHECK_THAT(topic(R"({"system":"gpu"})"), Catch::StartsWith("test.json: /topics/t/source/system: "));
  CHECK_THAT(topic(R"({"system":"cpu","interval_ms":0})"),
             Catch::StartsWith("test.json: /topics/t/source/interval_ms: "));
  CHECK(topic(R"({"command":["/bin/true"],"json_pointer":"/a"})") ==
        "test.json: /topics/t/source/json_pointer: 'json_pointer' is not a setting of a command "
        "source (its settings: command, interval_ms, timeout_ms, env, cwd)");
  CHECK_THAT(topic(R"({"command":["sh","-c","echo 1"]})"),
             Catch::StartsWith("test.json: /topics/t/source/command/0: expected the program's "
                               "absolute path"));
  CHECK_THAT(topic(R"({"command":[]})"), Catch::StartsWith("test.json: /topics/t/source/command: "));
  CHECK_THAT(topic(R"({"command":["/bin/true"],"env":{"A=B":"1"}})"),
             Catch::StartsWith("test.json: /topics/t/source/env/A=B: "));
  CHECK_THAT(topic(R"({"command":["/bin/true"],"cwd":"tmp"})"),
             Catch::StartsWith("test.json: /topics/t/source/cwd: "));
  CHECK_THAT(topic(R"({"http":"ftp://host/x"})"), Catch::StartsWith("test.json: /topics/t/source/http: "));
  CHECK_THAT(topic(R"({"http":"http://"})"),
             Catch::StartsWith("test.json: /topics/t/source/http: expected an http:// or https:// URL"));
  CHECK(topic(R"({"http":"http://host:65536/x"})") ==
        "test.json: /topics/t/source/http: expected a port from 1 to 65535 after the host, got "
        "'http://host:65536/x'");
  CHECK_THAT(topic(R"({"http":"http://host:0/x"})"), Catch::Contains("port from 1 to 65535"));
  CHECK_THAT(topic(R"({"http":"http://host:/x"})"), Catch::Contains("port from 1 to 65535"));
  CHECK(topic(R"({"http":"https://[::1]:8443/x"})").empty());
  CHECK_THAT(topic(R"({"http":"http://u:p@host/x"})"),
             Catch::StartsWith("test.json: /topics/t/source/http: expected no user:password@"));
  CHECK_THAT(topic(R"({"http":"http://host/x","json_pointer":"a/b"})"),
             Catch::StartsWith("test.json: /topics/t/source/json_pointer: expected a JSON Pointer"));
  CHECK_THAT(topic(R"({"http":"http://host/x","json_pointer":"/a~2"})"),
             Catch::StartsWith("test.json: /topics/t/source/json_pointer: expected a JSON Pointer"));
  CHECK(topic(R"({"http":"http://host/x","json_pointer":"/a","prometheus":{"metric":"m"}})") ==
        "test.json: /topics/t/source: expected json_pointer or prometheus, not both");
  CHECK_THAT(topic(R"({"http":"http://host/x","prometheus":{"metric":"1bad"}})"),
             Catch::StartsWith("test.json: /topics/t/source/prometheus/metric: "));
  CHECK_THAT(topic(R"({"http":"http://host/x","headers":{"Bad Header":"v"}})"),
             Catch::StartsWith("test.json: /topics/t/source/headers/Bad Header: "));
  CHECK_THAT(topic(R"({"http":"http://host/x","headers":{"X":"a\r\nInjected: 1"}})"),
             Catch::StartsWith("test.json: /topics/t/source/headers/X: "));
  CHECK(error_of(R"({"topics":{"t":{"generator":{"interval_ms":5},"source":{"system":"load"}}}})") ==
        "test.json: /topics/t/source: a topic has a generator or a source, not both");
}

TEST_CASE("a command source's program and directory are checked when the file is loaded") {
  auto load = [](const std::string& source) {
    char path[] = "/tmp/happy-config-test-XXXXXX";
    int fd = ::mkstemp(path);
    std::string text = R"({"topics":{"t":{"source":)" + source + "}}}";
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::close(fd);
    auto result = load_config_file(path);
    std::remove(path);
    if (auto* e = std::get_if<config_error>(&result)) return e->location + ": " + e->problem;
    return std::string();
  };
  CHECK(load(R"({"command":["/bin/sh","-c","echo 1"],"cwd":"/tmp"})").empty());
  CHECK(load(R"({"command":["/no/such/program"]})") ==
        "/topics/t/source/command/0: expected an executable file, got '/no/such/program'");
  CHECK(load(R"({"command":["/etc/passwd"]})") ==
        "/topics/t/source/command/0: expected an executable file, got '/etc/passwd'");
  CHECK(load(R"({"command":["/bin/true"],"cwd":"/no/such/dir"})") ==
        "/topics/t/source/cwd: expected an existing directory, got '/no/such/dir'");
}
