#include "auth/token_grant.hpp"

#include "auth/topic_pattern.hpp"

namespace happy {

namespace {

bool any_matches(const std::vector<std::string>& patterns, std::string_view topic) {
  for (const auto& pattern : patterns)
    if (topic_pattern_matches(pattern, topic)) return true;
  return false;
}

}  // namespace

bool token_grant::may_read(std::string_view topic) const { return any_matches(read, topic); }

bool token_grant::may_publish(std::string_view topic) const { return any_matches(publish, topic); }

}  // namespace happy
