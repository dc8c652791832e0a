#include "auth/topic_pattern.hpp"

#include "config/topic_name.hpp"

namespace happy {

namespace {

bool in_topic_alphabet(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

bool is_topic_pattern(std::string_view pattern) {
  if (pattern.empty() || pattern.size() > max_topic_name_length + 1) return false;
  if (pattern == "*") return true;
  std::string_view stem = pattern.back() == '*' ? pattern.substr(0, pattern.size() - 1) : pattern;
  if (stem.empty() || stem.size() > max_topic_name_length) return false;
  for (char c : stem)
    if (!in_topic_alphabet(c)) return false;
  return true;
}

bool topic_pattern_matches(std::string_view pattern, std::string_view topic) {
  if (pattern.empty()) return false;
  if (pattern.back() == '*') {
    std::string_view prefix = pattern.substr(0, pattern.size() - 1);
    return topic.substr(0, prefix.size()) == prefix;
  }
  return pattern == topic;
}

}  // namespace happy
