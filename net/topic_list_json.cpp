#include "net/topic_list_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace happy {

std::string topic_list_json(const std::vector<topic_stats>& topics, std::int64_t retention_ms) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  for (const auto& t : topics) {
    w.StartObject();
    w.Key("name");
    w.String(t.name.c_str());
    w.Key("seq");
    w.Uint64(t.seq);
    w.Key("subscribers");
    w.Uint64(t.subscribers);
    w.Key("interval_ms");
    if (t.generator_interval_ms > 0)
      w.Int64(t.generator_interval_ms);
    else
      w.Null();
    w.Key("history");
    w.Uint64(t.history_size);
    w.Key("retention_ms");
    if (retention_ms > 0)
      w.Int64(retention_ms);
    else
      w.Null();
    w.EndObject();
  }
  w.EndArray();
  return buffer.GetString();
}

}  // namespace happy
