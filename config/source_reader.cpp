#include "config/source_reader.hpp"

#include <boost/url/parse.hpp>
#include <rapidjson/pointer.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <tuple>
#include <sys/stat.h>
#include <vector>

#include "config/command_line.hpp"
#include "config/schema_violation.hpp"

namespace happy {

namespace {

using rapidjson::Value;

const std::vector<std::string>& keys_of(source_kind kind) {
  static const std::vector<std::string> system{"system", "interval_ms"},
      command{"command", "interval_ms", "timeout_ms", "env", "cwd"},
      http{"http", "interval_ms", "timeout_ms", "headers", "json_pointer", "prometheus"};
  switch (kind) {
    case source_kind::system: return system;
    case source_kind::command: return command;
    case source_kind::http: return http;
  }
  return system;
}

const char* kind_name(source_kind kind) {
  switch (kind) {
    case source_kind::system: return "system";
    case source_kind::command: return "command";
    case source_kind::http: return "http";
  }
  return "system";
}

system_metric metric_from(const std::string& name) {
  if (name == "memory") return system_metric::memory;
  if (name == "load") return system_metric::load;
  if (name == "network") return system_metric::network;
  if (name == "disk") return system_metric::disk;
  return system_metric::cpu;
}

std::string text_of(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// Environment entries and header fields go to execve and onto the wire:
// no NUL, no '=' in a variable's name, no line breaks in a header.
std::map<std::string, std::string> read_string_map(const Value& object, const std::string& at,
                                                   bool headers) {
  std::map<std::string, std::string> out;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    std::string key = text_of(it->name), value = text_of(it->value);
    std::string where = at + "/" + key;
    if (key.empty()) throw rule_violation{at, "expected non-empty names"};
    if (headers) {
      bool token = std::all_of(key.begin(), key.end(), [](unsigned char c) {
        return std::isalnum(c) || std::string("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                      std::string::npos;
      });
      if (!token) throw rule_violation{where, "expected an HTTP header name (letters, digits, -)"};
      if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) throw rule_violation{where, "expected a header value without line breaks"};
    } else {
      if (key.find_first_of(std::string("=\0", 2)) != std::string::npos) throw rule_violation{where, "expected a variable name without '=' or NUL"};
      if (value.find('\0') != std::string::npos) throw rule_violation{where, "expected a value without NUL"};
    }
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

http_source read_http(const Value& s, const std::string& at) {
  http_source out;
  out.url = text_of(s["http"]);
  auto url = boost::urls::parse_uri(out.url);
  if (!url || url->host().empty())
    throw rule_violation{at + "/http", "expected an http:// or https:// URL with a host, got '" +
                                           out.url + "'"};
  if (url->has_port()) {
    auto port = parse_port(std::string(url->port()));
    if (!port || *port < 1)
      throw rule_violation{at + "/http", "expected a port from 1 to 65535 after the host, got '" +
                                             out.url + "'"};
  }
  if (url->has_userinfo())
    throw rule_violation{at + "/http", "expected no user:password@ in the URL (use headers, "
                                       "e.g. Authorization)"};
  if (url->has_fragment())
    throw rule_violation{at + "/http", "expected a URL without #fragment (json_pointer selects the value)"};
  if (s.HasMember("headers")) out.headers = read_string_map(s["headers"], at + "/headers", true);
  if (s.HasMember("json_pointer") && s.HasMember("prometheus"))
    throw rule_violation{at, "expected json_pointer or prometheus, not both"};
  if (s.HasMember("json_pointer")) {
    std::string pointer = text_of(s["json_pointer"]);
    // RFC 6901: "" is the whole document, otherwise tokens after '/'.
    rapidjson::Pointer parsed(pointer.data(), pointer.size());
    if (!parsed.IsValid() || (!pointer.empty() && pointer[0] != '/'))
      throw rule_violation{at + "/json_pointer",
                           "expected a JSON Pointer (RFC 6901) such as /data/0/value, got '" +
                               pointer + "'"};
    out.json_pointer = pointer;
  }
  if (s.HasMember("prometheus")) {
    const auto& p = s["prometheus"];
    out.prometheus_metric = text_of(p["metric"]);
    if (p.HasMember("labels"))
      out.prometheus_labels = read_string_map(p["labels"], at + "/prometheus/labels", false);
  }
  return out;
}

command_source read_command(const Value& s, const std::string& at) {
  command_source out;
  for (const auto& arg : s["command"].GetArray()) {
    out.argv.push_back(text_of(arg));
    if (out.argv.back().find('\0') != std::string::npos)
      throw rule_violation{at + "/command/" + std::to_string(out.argv.size() - 1),
                           "expected an argument without NUL"};
  }
  if (out.argv[0][0] != '/')
    throw rule_violation{at + "/command/0",
                         "expected the program's absolute path (no shell, no PATH search), got '" +
                             out.argv[0] + "'"};
  if (s.HasMember("env")) out.env = read_string_map(s["env"], at + "/env", false);
  if (s.HasMember("cwd")) out.cwd = text_of(s["cwd"]);
  return out;
}

}  // namespace

source_config read_source(const Value& s, const std::string& at, std::size_t max_message_bytes) {
  std::vector<source_kind> kinds;
  for (auto kind : {source_kind::system, source_kind::command, source_kind::http})
    if (s.HasMember(kind_name(kind))) kinds.push_back(kind);
  if (kinds.size() != 1)
    throw rule_violation{at, "expected exactly one of system, command or http, got " +
                                 std::to_string(kinds.size())};
  source_config out;
  out.kind = kinds.front();
  out.max_reading_bytes = max_message_bytes;
  const auto& allowed = keys_of(out.kind);
  for (auto it = s.MemberBegin(); it != s.MemberEnd(); ++it) {
    std::string key = text_of(it->name);
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw rule_violation{at + "/" + key, "'" + key + "' is not a setting of a " +
                                               kind_name(out.kind) + " source (its settings: " +
                                               join_keys(allowed) + ")"};
  }
  if (s.HasMember("interval_ms")) out.interval_ms = s["interval_ms"].GetInt64();
  if (s.HasMember("timeout_ms")) out.timeout_ms = s["timeout_ms"].GetInt64();
  switch (out.kind) {
    case source_kind::system: out.metric = metric_from(s["system"].GetString()); break;
    case source_kind::command: out.command = read_command(s, at); break;
    case source_kind::http: out.http = read_http(s, at); break;
  }
  return out;
}

std::optional<rule_violation> check_source_programs(const config& cfg) {
  for (const auto& [name, topic] : cfg.topics) {
    if (!topic.source || topic.source->kind != source_kind::command) continue;
    std::string at = "/topics/" + name + "/source";  // topic names need no escaping
    const auto& command = topic.source->command;
    struct stat info {};
    if (::stat(command.argv[0].c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
        ::access(command.argv[0].c_str(), X_OK) != 0)
      return rule_violation{at + "/command/0",
                            "expected an executable file, got '" + command.argv[0] + "'"};
    if (!command.cwd.empty() &&
        (::stat(command.cwd.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)))
      return rule_violation{at + "/cwd", "expected an existing directory, got '" + command.cwd + "'"};
  }
  return std::nullopt;
}

std::string describe_source(const source_config& cfg) {
  switch (cfg.kind) {
    case source_kind::system: {
      static const char* names[] = {"cpu", "memory", "load", "network", "disk"};
      return std::string("system ") + names[static_cast<int>(cfg.metric)];
    }
    case source_kind::command: return "command " + cfg.command.argv.front();
    case source_kind::http: return "http " + cfg.http.url;
  }
  return "source";
}

bool operator==(const source_config& a, const source_config& b) {
  auto tie_http = [](const http_source& h) {
    return std::tie(h.url, h.headers, h.json_pointer, h.prometheus_metric, h.prometheus_labels);
  };
  return a.kind == b.kind && a.interval_ms == b.interval_ms && a.timeout_ms == b.timeout_ms &&
         a.metric == b.metric && a.command.argv == b.command.argv && a.command.env == b.command.env &&
         a.command.cwd == b.command.cwd && tie_http(a.http) == tie_http(b.http) &&
         a.max_reading_bytes == b.max_reading_bytes;
}

}  // namespace happy
