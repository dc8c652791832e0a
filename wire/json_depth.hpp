#pragma once

// The one measure of how deep JSON nests (arrays and objects; scalars are 0).
// Writing a value out recurses once per level, so every reading is held to
// max_reading_nesting (wire/reading_check) by one of these two, whichever
// form the value is in.

#include <rapidjson/document.h>

#include <cstddef>
#include <string_view>

namespace happy {

// Of JSON text, before parsing: brackets inside strings do not count, and
// text that is not JSON is measured all the same.
std::size_t nesting_depth(std::string_view json_text);

// Of a parsed value: whether it nests deeper than `limit`; it looks no deeper.
bool nests_deeper_than(const rapidjson::Value& value, std::size_t limit);

}  // namespace happy
