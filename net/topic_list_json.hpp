#pragma once

#include <string>
#include <vector>

#include "actors/vocabulary.hpp"

namespace happy {

// GET /topics: [{"name":…,"seq":…,"subscribers":…,"interval_ms":…|null,"history":…}, …]
std::string topic_list_json(const std::vector<topic_stats>& topics);

}  // namespace happy
