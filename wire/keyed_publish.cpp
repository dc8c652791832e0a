#include "wire/keyed_publish.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace happy {

bool is_valid_idempotency_key(std::string_view key) {
  return !key.empty() && key.size() <= max_idempotency_key_bytes &&
         std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

keyed_publish read_keyed_publish(std::string_view frame_json) {
  keyed_publish out;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(frame_json.data(), frame_json.size());
  constexpr const char* shape = R"(a keyed frame is {"idempotency_key":"<key>","value":<JSON>})";
  if (doc.HasParseError() || !doc.IsObject()) {
    out.error = shape;
    return out;
  }
  bool has_key = false, has_value = false;
  for (const auto& member : doc.GetObject()) {
    std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (name == "idempotency_key" && !has_key) {
      has_key = true;
      if (!member.value.IsString() ||
          !is_valid_idempotency_key({member.value.GetString(), member.value.GetStringLength()})) {
        out.error = "idempotency_key must be 1 to 128 printable ASCII characters without spaces";
        return out;
      }
      out.key.assign(member.value.GetString(), member.value.GetStringLength());
    } else if (name == "value" && !has_value) {
      has_value = true;
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      member.value.Accept(writer);
      out.value_json.assign(buffer.GetString(), buffer.GetSize());
    } else {
      out.error = std::string(shape) + ", nothing else and nothing twice";
      return out;
    }
  }
  if (!has_key || !has_value) out.error = shape;
  return out;
}

}  // namespace happy
