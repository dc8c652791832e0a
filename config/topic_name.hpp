#pragma once

#include <string>
#include <string_view>

namespace happy {

// Topic names appear in URLs and as a JSON key of every envelope, so they are
// restricted to [a-z0-9][a-z0-9_-]{0,63} and must not shadow a route or an
// envelope field.
inline constexpr std::size_t max_topic_name_length = 64;

// Returns an empty string when `name` is a valid topic name, otherwise why not.
std::string topic_name_problem(std::string_view name);

inline bool is_valid_topic_name(std::string_view name) { return topic_name_problem(name).empty(); }

}  // namespace happy
