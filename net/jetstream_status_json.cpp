#include "net/jetstream_status_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace happy {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void string_or_null(json_writer& w, const std::string& text) {
  if (text.empty())
    w.Null();
  else
    w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
}

}  // namespace

std::string jetstream_status_json(const jetstream_status& status) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  w.Key("enabled");
  w.Bool(true);
  w.Key("engine");
  w.String("jetstream");
  w.Key("node");
  w.String(status.node.c_str());
  w.Key("nats");
  w.StartObject();
  w.Key("connected");
  w.Bool(status.connected);
  w.Key("url");
  string_or_null(w, status.url);
  w.EndObject();
  w.Key("topics");
  w.StartArray();
  for (std::size_t i = 0; i < status.streams.size(); ++i) {
    const auto& stream = status.streams[i];
    w.StartObject();
    w.Key("name");
    w.String(stream.topic.c_str());
    w.Key("stream");
    w.String(stream_name_of(stream.topic).c_str());
    w.Key("first_seq");
    w.Uint64(stream.first_seq);
    w.Key("last_seq");
    w.Uint64(stream.last_seq);
    w.Key("leader");
    string_or_null(w, stream.leader);
    w.Key("replicas");
    w.StartArray();
    for (const auto& replica : stream.replicas) {
      w.StartObject();
      w.Key("name");
      w.String(replica.name.c_str());
      w.Key("current");
      w.Bool(replica.current);
      w.Key("lag");
      w.Uint64(replica.lag);
      w.EndObject();
    }
    w.EndArray();
    w.Key("lease_holder");
    string_or_null(w, i < status.lease_holders.size() ? status.lease_holders[i] : std::string{});
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

}  // namespace happy
