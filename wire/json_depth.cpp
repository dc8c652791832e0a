#include "wire/json_depth.hpp"

#include <algorithm>

namespace happy {

std::size_t nesting_depth(std::string_view json_text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : json_text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return deepest;
}

bool nests_deeper_than(const rapidjson::Value& value, std::size_t limit) {
  if (!value.IsArray() && !value.IsObject()) return false;
  if (limit == 0) return true;
  if (value.IsArray()) {
    for (const auto& item : value.GetArray())
      if (nests_deeper_than(item, limit - 1)) return true;
  } else {
    for (const auto& member : value.GetObject())
      if (nests_deeper_than(member.value, limit - 1)) return true;
  }
  return false;
}

}  // namespace happy
