#include "actors/cluster/cluster_status.hpp"

#include <algorithm>
#include <tuple>

#include "actors/cluster/cluster_node.hpp"

namespace happy {

namespace {

cluster_member_status member_status(const std::string& name, const std::string& address,
                                    const char* state, bool self, const cluster_view& view,
                                    const std::vector<std::string>& topics) {
  cluster_member_status out{name, address, state, self, {}};
  if (!name.empty())
    for (const auto& topic : topics)
      if (view.owner_of(topic) == name) out.owns.push_back(topic);
  return out;
}

}  // namespace

cluster_status make_cluster_status(const cluster_node_state& state,
                                   const std::vector<std::string>& topics) {
  const char* own_state = state.up ? "up" : "joining";
  cluster_status out{true, state.cfg.node, own_state, {}};
  out.members.push_back(
      member_status(state.cfg.node, state.cfg.listen.text(), own_state, true, state.view, topics));
  std::vector<const cluster_member*> others;
  for (const auto& m : state.members) others.push_back(&m);
  std::sort(others.begin(), others.end(), [](const cluster_member* a, const cluster_member* b) {
    return std::tie(a->name, a->address) < std::tie(b->name, b->address);
  });
  for (const auto* m : others)
    out.members.push_back(member_status(m->name, m->address, member_state_name(m->state), false,
                                        state.view, topics));
  return out;
}

}  // namespace happy
