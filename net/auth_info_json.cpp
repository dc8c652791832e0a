#include "net/auth_info_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace happy {

std::string auth_info_json(const auth_config& auth) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  auto text_or_null = [&](const char* key, const std::string& value) {
    w.Key(key);
    if (value.empty()) w.Null();
    else w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  text_or_null("token_url", auth.token_url);
  text_or_null("cookie", auth.cookie);
  w.Key("default_access");
  w.String(auth.default_access == topic_access::token ? "token" : "public");
  w.EndObject();
  return buffer.GetString();
}

}  // namespace happy
