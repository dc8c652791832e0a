#include "actors/cluster_status_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <tuple>

#include "actors/cluster_node.hpp"

namespace happy {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_member(json_writer& out, const std::string& name, const std::string& address,
                  const char* state, bool self, const cluster_view& view,
                  const std::vector<std::string>& topics) {
  out.StartObject();
  out.Key("node");
  if (name.empty()) out.Null();
  else out.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
  out.Key("address");
  out.String(address.c_str(), static_cast<rapidjson::SizeType>(address.size()));
  out.Key("state");
  out.String(state);
  out.Key("self");
  out.Bool(self);
  out.Key("owns");
  out.StartArray();
  if (!name.empty())
    for (const auto& topic : topics)
      if (view.owner_of(topic) == name)
        out.String(topic.c_str(), static_cast<rapidjson::SizeType>(topic.size()));
  out.EndArray();
  out.EndObject();
}

}  // namespace

std::string cluster_status_json(const cluster_node_state& state,
                                const std::vector<std::string>& topics) {
  rapidjson::StringBuffer buffer;
  json_writer out(buffer);
  const char* own_state = state.up ? "up" : "joining";
  out.StartObject();
  out.Key("enabled");
  out.Bool(true);
  out.Key("node");
  out.String(state.cfg.node.c_str());
  out.Key("state");
  out.String(own_state);
  out.Key("members");
  out.StartArray();
  write_member(out, state.cfg.node, state.cfg.listen.text(), own_state, true, state.view, topics);
  std::vector<const cluster_member*> others;
  for (const auto& m : state.members) others.push_back(&m);
  std::sort(others.begin(), others.end(), [](const cluster_member* a, const cluster_member* b) {
    return std::tie(a->name, a->address) < std::tie(b->name, b->address);
  });
  for (const auto* m : others)
    write_member(out, m->name, m->address, member_state_name(m->state), false, state.view, topics);
  out.EndArray();
  out.EndObject();
  return buffer.GetString();
}

std::string standalone_cluster_status_json() {
  return R"({"enabled":false,"node":null,"state":"standalone","members":[]})";
}

}  // namespace happy
