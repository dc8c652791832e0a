#pragma once

// The topic patterns a token's `read` and `publish` claims list: a topic
// name, "*" for every topic, or a name prefix ending in "*" ("sensors-*"),
// written in the topic-name alphabet.

#include <string_view>

namespace happy {

bool is_topic_pattern(std::string_view pattern);
bool topic_pattern_matches(std::string_view pattern, std::string_view topic);

}  // namespace happy
