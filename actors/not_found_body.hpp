#pragma once

#include <string>
#include <vector>

namespace happy {

// The JSON body of a 404 for an unknown topic; it lists the topics that exist.
std::string unknown_topic_body(const std::string& topic, const std::vector<std::string>& known);

}  // namespace happy
