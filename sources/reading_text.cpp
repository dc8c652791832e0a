#include "sources/reading_text.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>

namespace happy {

namespace {

constexpr unsigned strict_utf8 = rapidjson::kParseValidateEncodingFlag;

source_outcome compact(const rapidjson::Value& value, std::size_t max_reading_bytes) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  if (buffer.GetSize() > max_reading_bytes)
    return source_outcome::failed(source_failure::too_large,
                                  "the reading is " + std::to_string(buffer.GetSize()) +
                                      " bytes, more than limits.max_message_bytes = " +
                                      std::to_string(max_reading_bytes));
  return source_outcome::value(std::string(buffer.GetString(), buffer.GetSize()));
}

std::string parse_error_text(const rapidjson::Document& doc) {
  std::string text = rapidjson::GetParseError_En(doc.GetParseError());
  if (!text.empty() && text.back() == '.') text.pop_back();
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

source_outcome parse(std::string_view text, rapidjson::Document& doc) {
  doc.Parse<strict_utf8>(text.data(), text.size());
  if (doc.HasParseError())
    return source_outcome::failed(
        source_failure::bad_output,
        "expected one JSON value, got '" + excerpt(text) + "' (" + parse_error_text(doc) +
            " at byte " + std::to_string(doc.GetErrorOffset()) + ")");
  return source_outcome::value({});
}

}  // namespace

std::string excerpt(std::string_view text, std::size_t max_chars) {
  std::string out;
  for (char c : text.substr(0, max_chars)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += u == '\n' ? ' ' : (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (text.size() > max_chars) out += "...";
  return out;
}

source_outcome reading_from_text(std::string_view text, std::size_t max_reading_bytes) {
  rapidjson::Document doc;
  if (auto parsed = parse(text, doc); !parsed.ok()) return parsed;
  return compact(doc, max_reading_bytes);
}

source_outcome reading_at_pointer(std::string_view text, const std::string& pointer,
                                  std::size_t max_reading_bytes) {
  rapidjson::Document doc;
  if (auto parsed = parse(text, doc); !parsed.ok()) return parsed;
  rapidjson::Pointer at(pointer.data(), pointer.size());
  const rapidjson::Value* value = at.IsValid() ? at.Get(doc) : nullptr;
  if (!value)
    return source_outcome::failed(source_failure::bad_output,
                                  "the body has no value at JSON Pointer '" + pointer + "'");
  return compact(*value, max_reading_bytes);
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
  }
  return "none";
}

}  // namespace happy
