#include "wire/reading_check.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "wire/json_depth.hpp"
#include "wire/utf8.hpp"

namespace happy {

namespace {


}  // namespace

std::string unread_bytes_problem(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return "a NUL byte is not JSON";
  auto first = text.empty() ? 0 : static_cast<unsigned char>(text.front());
  bool bom_byte = first == 0xEF || first == 0xBB || first == 0xBF;
  if (bom_byte && text.substr(0, 3) != "\xEF\xBB\xBF") return "a stray byte-order-mark byte is not JSON";
  return {};
}

reading_check check_reading(std::string_view body) {
  if (auto problem = unread_bytes_problem(body); !problem.empty())
    return {reading_refusal::not_json, "invalid JSON: " + problem, {}};
  if (nesting_depth(body) > max_reading_nesting)
    return {reading_refusal::too_deep, "invalid value: nested deeper than " + std::to_string(max_reading_nesting) +
                     " levels",
            {}};
  rapidjson::Document doc;
  // Not kParseFullPrecisionFlag: in Debian's RapidJSON that path hits
  // undefined behaviour on inputs like "0e307" (found by tests/fuzz). The
  // default parse can be off by a unit in the last place on long mantissas.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                   body.size());
  if (doc.HasParseError())
    return {reading_refusal::not_json,
            "invalid JSON at offset " + std::to_string(doc.GetErrorOffset()) + ": " +
                rapidjson::GetParseError_En(doc.GetParseError()),
            {}};
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  if (!doc.Accept(writer))  // e.g. 1e999: JSON has no infinity
    return {reading_refusal::out_of_range, "invalid value: a number is out of range", {}};
  std::string value(buffer.GetString(), buffer.GetSize());
  // An escaped lone surrogate ("\udc00") parses, but is not text a client can decode.
  if (!is_valid_utf8(value))
    return {reading_refusal::invalid_unicode, "invalid value: a string is not valid Unicode", {}};
  return {reading_refusal::none, {}, std::move(value)};
}

}  // namespace happy
