#include "sources/reading_text.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>

#include "wire/json_depth.hpp"
#include "wire/reading_check.hpp"
#include "wire/text_excerpt.hpp"

namespace happy {

namespace {

// Iterative: a body of a few MiB of '[' must not recurse once per bracket.
constexpr unsigned body_parse_flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

std::string lower_case(std::string text) {
  if (!text.empty() && text.back() == '.') text.pop_back();
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}


}  // namespace


source_outcome reading_from_text(std::string_view text, std::size_t max_reading_bytes) {
  // The gate every published value passes: one JSON value, at most 64 levels
  // deep, valid Unicode, numbers JSON can hold.
  auto checked = check_reading(text);
  if (!checked.ok())
    return source_outcome::failed(source_failure::bad_output,
                                  "expected one JSON value, got '" + excerpt(text) + "' (" +
                                      lower_case(checked.error) + ")");
  if (checked.value_json.size() > max_reading_bytes)
    return source_outcome::failed(source_failure::too_large,
                                  "the reading is " + std::to_string(checked.value_json.size()) +
                                      " bytes, more than limits.max_message_bytes = " +
                                      std::to_string(max_reading_bytes));
  return source_outcome::value(std::move(checked.value_json));
}

source_outcome reading_at_pointer(std::string_view text, const std::string& pointer,
                                  std::size_t max_reading_bytes) {
  if (auto problem = unread_bytes_problem(text); !problem.empty())
    return source_outcome::failed(source_failure::bad_output,
                                  "expected a JSON body, got '" + excerpt(text) + "' (" + problem + ")");
  rapidjson::Document doc;
  doc.Parse<body_parse_flags>(text.data(), text.size());
  if (doc.HasParseError())
    return source_outcome::failed(
        source_failure::bad_output,
        "expected a JSON body, got '" + excerpt(text) + "' (" +
            lower_case(rapidjson::GetParseError_En(doc.GetParseError())) + " at byte " +
            std::to_string(doc.GetErrorOffset()) + ")");
  rapidjson::Pointer at(pointer.data(), pointer.size());
  const rapidjson::Value* value = at.IsValid() ? at.Get(doc) : nullptr;
  if (!value)
    return source_outcome::failed(source_failure::bad_output,
                                  "the body has no value at JSON Pointer '" + pointer + "'");
  // Writing the value out recurses once per level.
  if (nests_deeper_than(*value, max_reading_nesting))
    return source_outcome::failed(source_failure::bad_output,
                                  "the value at '" + pointer + "' is nested deeper than " +
                                      std::to_string(max_reading_nesting) + " levels");
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value->Accept(writer);
  return reading_from_text(std::string_view(buffer.GetString(), buffer.GetSize()),
                           max_reading_bytes);
}

const char* failure_label(source_failure failure) {
  switch (failure) {
    case source_failure::none: return "none";
    case source_failure::timeout: return "timeout";
    case source_failure::exit_status: return "exit_status";
    case source_failure::bad_output: return "bad_output";
    case source_failure::too_large: return "too_large";
    case source_failure::http_status: return "http_status";
    case source_failure::connection: return "connection";
    case source_failure::start: return "start";
    case source_failure::stopped: return "stopped";
  }
  return "none";
}

}  // namespace happy
