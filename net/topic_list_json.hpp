#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wire/vocabulary.hpp"

namespace happy {

// GET /topics: [{"name":…,"seq":…,"subscribers":…,"interval_ms":…|null,"history":…,
// "retention_ms":…|null}, …]; retention_ms: how far back GET /topics/<name>/history
// reaches (storage.retention.max_age), 0 for null: no history file.
std::string topic_list_json(const std::vector<topic_stats>& topics, std::int64_t retention_ms = 0);

}  // namespace happy
