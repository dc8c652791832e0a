#include "net/publish_request.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "net/utf8.hpp"

namespace happy {

namespace {

// Deepest nesting of arrays/objects, ignoring brackets inside strings. Checked
// before parsing because writing the value back out recurses per level.
std::size_t nesting_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
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

}  // namespace

bool equal_in_constant_time(std::string_view a, std::string_view b) {
  std::size_t length = std::max(a.size(), b.size());
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < length; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= static_cast<unsigned char>(x ^ y);
  }
  return difference == 0;
}

publish_check check_publish_token(const std::vector<std::string>& tokens,
                                  std::string_view authorization, std::string_view query_token) {
  if (tokens.empty())
    return {403,
            "publishing is disabled: add a token to publish.tokens in the config or set "
            "HAPPY_PUBLISH_TOKENS, then send it as 'Authorization: Bearer <token>'",
            {}};
  std::string_view presented = query_token;
  constexpr std::string_view bearer = "Bearer ";
  if (authorization.size() > bearer.size() && authorization.substr(0, bearer.size()) == bearer)
    presented = authorization.substr(bearer.size());
  if (presented.empty())
    return {401, "a publish token is required: 'Authorization: Bearer <token>' or ?token=", {}};
  bool match = false;
  for (const auto& token : tokens) match |= equal_in_constant_time(presented, token);
  if (!match) return {403, "the publish token is not valid", {}};
  return {};
}

publish_check check_publish_body(std::string_view body) {
  if (nesting_depth(body) > max_publish_nesting)
    return {400, "invalid value: nested deeper than " + std::to_string(max_publish_nesting) +
                     " levels",
            {}};
  rapidjson::Document doc;
  // Not kParseFullPrecisionFlag: in Debian's RapidJSON that path hits
  // undefined behaviour on inputs like "0e307" (found by tests/fuzz). The
  // default parse can be off by a unit in the last place on long mantissas.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                   body.size());
  if (doc.HasParseError())
    return {400,
            "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                rapidjson::GetParseError_En(doc.GetParseError()),
            {}};
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  if (!doc.Accept(writer))  // e.g. 1e999: JSON has no infinity
    return {400, "invalid value: a number is out of range", {}};
  std::string value(buffer.GetString(), buffer.GetSize());
  // An escaped lone surrogate ("\udc00") parses, but is not text a client can decode.
  if (!is_valid_utf8(value)) return {400, "invalid value: a string is not valid Unicode", {}};
  return {0, {}, std::move(value)};
}

}  // namespace happy
