// libFuzzer target: config files through happy::parse_config. A config comes
// from a file an operator edits (and is re-read live on SIGHUP), so a typo must
// give a located error naming the file, never a crash or a half-valid config.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "config/config_loader.hpp"
#include "config/topic_name.hpp"

namespace {

const std::string source = "fuzz.json";

void require(bool ok, const char* what, const std::string& detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "invariant violated: %s %s\n", what, detail.c_str());
  std::abort();
}

// What the schema and the loader's extra rules promise about an accepted config.
void check_config(const happy::config& c) {
  using happy::distribution_kind;
  require(c.file_name == source, "the config remembers its file", c.file_name);
  require(!c.server.host.empty(), "server.host is not empty");
  require(c.server.io_threads >= 1 && c.server.io_threads <= 256, "io_threads in 1..256");
  require(c.server.actor_threads >= 1 && c.server.actor_threads <= 256, "actor_threads in 1..256");
  require(c.server.shutdown_grace_ms >= 0 && c.server.shutdown_grace_ms <= 600000,
          "shutdown_grace_ms in 0..600000");
  for (const auto& token : c.publish_tokens)
    require(token.size() >= 8, "publish tokens have at least 8 characters", token);
  for (const auto& origin : c.cors_allowed_origins)
    require(!origin.empty(), "allowed origins are not empty");
  require(c.limits.max_connections >= 1, "max_connections >= 1");
  require(c.limits.max_topics >= 1, "max_topics >= 1");
  require(c.limits.max_message_bytes >= 16 && c.limits.max_message_bytes <= 16777216,
          "max_message_bytes in 16..16777216");
  require(c.limits.max_queued_bytes_per_client >= 1024, "max_queued_bytes_per_client >= 1024");
  require(c.limits.history <= 1000000, "history <= 1000000");
  require(c.log_level == "debug" || c.log_level == "info" || c.log_level == "warning" ||
              c.log_level == "error",
          "log.level is one of the four", c.log_level);
  require(c.log_format == "text" || c.log_format == "json", "log.format is text or json",
          c.log_format);
  require(c.topics.size() <= c.limits.max_topics, "no more topics than max_topics");
  for (const auto& [name, topic] : c.topics) {
    require(happy::is_valid_topic_name(name), "topic names are valid", name);
    require(c.history_of(name) <= 1000000, "topic history <= 1000000", name);
    if (!topic.generator) continue;
    const auto& g = *topic.generator;
    require(g.interval_ms >= 1 && g.interval_ms <= 86400000, "interval_ms in 1..86400000", name);
    switch (g.distribution) {
      case distribution_kind::uniform:
        require(g.min < g.max, "uniform: min < max", name);
        break;
      case distribution_kind::normal:
        require(g.stddev >= 0, "normal: stddev >= 0", name);
        break;
      case distribution_kind::random_walk:
        require(g.min <= g.start && g.start <= g.max && g.step >= 0,
                "random_walk: min <= start <= max, step >= 0", name);
        break;
      case distribution_kind::sine:
        require(g.period_ms >= 1, "sine: period_ms >= 1", name);
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto result = happy::parse_config(text, source);
  if (auto* error = std::get_if<happy::config_error>(&result)) {
    require(error->file == source, "the error names the source", error->file);
    require(!error->location.empty(), "the error says where", error->message());
    require(!error->problem.empty(), "the error says what", error->message());
    require(error->message().rfind(source + ": ", 0) == 0,
            "the message starts with the source name", error->message());
  } else {
    check_config(std::get<happy::config>(result));
  }
  // The verdict does not depend on the name the text came from.
  auto renamed = happy::parse_config(text, "other.json");
  require(renamed.index() == result.index(), "the verdict does not depend on the source name");
  return 0;
}
