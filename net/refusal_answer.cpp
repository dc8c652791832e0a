#include "net/refusal_answer.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace happy {

namespace {

std::string unknown_topic_body(const std::string& topic, const std::vector<std::string>& known,
                               const std::function<bool(const std::string&)>& may_read) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("error");
  w.String(("unknown topic '" + topic + "'").c_str());
  w.Key("topics");
  w.StartArray();
  for (const auto& name : known)
    if (may_read(name)) w.String(name.c_str());
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

}  // namespace

refusal_answer answer_for(const subscribe_refusal& why,
                          const std::function<bool(const std::string&)>& may_read) {
  switch (why.why) {
    case subscribe_refusal::reason::unknown_topic:
      return {404, unknown_topic_body(why.topic, why.known_topics, may_read)};
    case subscribe_refusal::reason::shutting_down:
      break;
  }
  return {503, R"({"error":"service is shutting down"})"};
}

}  // namespace happy
