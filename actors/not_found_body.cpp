#include "actors/not_found_body.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace happy {

std::string unknown_topic_body(const std::string& topic, const std::vector<std::string>& known) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("error");
  w.String(("unknown topic '" + topic + "'").c_str());
  w.Key("topics");
  w.StartArray();
  for (const auto& name : known) w.String(name.c_str());
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

}  // namespace happy
