#include "config/topic_name.hpp"

#include <array>

namespace happy {

namespace {

constexpr std::array<std::string_view, 12> reserved_names{
    "topics", "api", "healthz", "readyz", "metrics", "assets",
    "index.html", "seq", "ts", "topic", "type", "cluster"};

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

std::string topic_name_problem(std::string_view name) {
  if (name.empty()) return "topic name is empty";
  if (name.size() > max_topic_name_length)
    return "topic name is longer than " + std::to_string(max_topic_name_length) + " characters";
  if (!is_lower_alnum(name.front()))
    return "topic name must start with a lowercase letter or digit (pattern [a-z0-9][a-z0-9_-]{0,63})";
  for (char c : name)
    if (!is_lower_alnum(c) && c != '_' && c != '-')
      return "topic name may contain only a-z, 0-9, '_' and '-' (pattern [a-z0-9][a-z0-9_-]{0,63})";
  for (auto reserved : reserved_names)
    if (name == reserved) return "'" + std::string(name) + "' is a reserved name";
  return {};
}

}  // namespace happy
