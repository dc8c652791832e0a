#pragma once

// Finds one sample in a Prometheus text exposition (format 0.0.4, also what
// OpenMetrics text looks like for plain samples): by metric name and a set of
// labels the sample must carry (it may carry more).

#include <map>
#include <string>
#include <string_view>

#include "sources/source_outcome.hpp"

namespace happy {

// The sample's value as a JSON number; bad_output when no sample or more
// than one matches (then the labels must say which), or its value is not a
// finite number (NaN and ±Inf have no JSON form).
source_outcome prometheus_sample(std::string_view text, const std::string& metric,
                                 const std::map<std::string, std::string>& labels);

}  // namespace happy
