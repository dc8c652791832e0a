#pragma once

#include <string_view>

namespace happy {

// Compares without an early exit, so timing does not reveal the common prefix.
bool equal_in_constant_time(std::string_view a, std::string_view b);

}  // namespace happy
