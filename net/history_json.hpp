#pragma once

#include <string>

#include "wire/vocabulary.hpp"

namespace happy {

// GET /topics/<name>/history:
// {"topic":…,"from":…,"to":…,"bucket_ms":…,"buckets":[{"time":…,"count":…,
//   "min":…,"avg":…,"max":…, "fields":{"<member>":{"min":…,"avg":…,"max":…,"count":…}}}]}
// min/avg/max for plain numbers, "fields" for the numeric members of objects.
std::string history_json(const history_series& series);

}  // namespace happy
