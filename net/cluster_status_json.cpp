#include "net/cluster_status_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace happy {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(json_writer& out, const std::string& text) {
  out.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
}

// A node that has not introduced itself yet has no name: null.
void write_name(json_writer& out, const std::string& name) {
  if (name.empty())
    out.Null();
  else
    write_string(out, name);
}

void write_member(json_writer& out, const cluster_member_status& member) {
  out.StartObject();
  out.Key("node");
  write_name(out, member.node);
  out.Key("address");
  write_string(out, member.address);
  out.Key("state");
  write_string(out, member.state);
  out.Key("self");
  out.Bool(member.self);
  out.Key("owns");
  out.StartArray();
  for (const auto& topic : member.owns) write_string(out, topic);
  out.EndArray();
  out.EndObject();
}

}  // namespace

std::string cluster_status_json(const cluster_status& status) {
  rapidjson::StringBuffer buffer;
  json_writer out(buffer);
  out.StartObject();
  out.Key("enabled");
  out.Bool(status.enabled);
  out.Key("node");
  write_name(out, status.node);
  out.Key("state");
  write_string(out, status.state);
  out.Key("members");
  out.StartArray();
  for (const auto& member : status.members) write_member(out, member);
  out.EndArray();
  out.EndObject();
  return buffer.GetString();
}

}  // namespace happy
