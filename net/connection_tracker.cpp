#include "net/connection_tracker.hpp"

#include <vector>

namespace happy {

std::string_view transport_name(transport_kind kind) {
  switch (kind) {
    case transport_kind::http: return "http";
    case transport_kind::websocket: return "websocket";
    case transport_kind::sse: return "sse";
    case transport_kind::stream: return "stream";
    case transport_kind::poll: return "poll";
    case transport_kind::publisher: return "publisher";
  }
  return "unknown";
}

void connection_tracker::add(const std::shared_ptr<tracked_connection>& connection,
                             transport_kind kind) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (!connections_.emplace(connection.get(), entry{connection, kind}).second) return;
  ++total_;
  ++open_[static_cast<std::size_t>(kind)];
  ++opened_total_[static_cast<std::size_t>(kind)];
}

void connection_tracker::remove(const tracked_connection* connection) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  --open_[static_cast<std::size_t>(it->second.kind)];
  --total_;
  connections_.erase(it);
}

std::size_t connection_tracker::open(transport_kind kind) const {
  return open_[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed);
}

std::size_t connection_tracker::opened_total(transport_kind kind) const {
  return opened_total_[static_cast<std::size_t>(kind)].load(std::memory_order_relaxed);
}

void connection_tracker::shut_down_subscribers() {
  for (auto& c : alive_where([](transport_kind k) { return k != transport_kind::http; }))
    c->shut_down();
}

void connection_tracker::shut_down_all() {
  for (auto& c : alive_where([](transport_kind) { return true; })) c->shut_down();
}

void connection_tracker::tick(transport_kind kind) {
  for (auto& c : alive_where([kind](transport_kind k) { return k == kind; })) c->tick();
}

// Called without the lock held afterwards: a connection's shut_down() may unregister it.
std::vector<std::shared_ptr<tracked_connection>> connection_tracker::alive_where(
    const std::function<bool(transport_kind)>& wanted) {
  std::vector<std::shared_ptr<tracked_connection>> alive;
  std::lock_guard<std::mutex> guard(mutex_);
  for (auto& [key, e] : connections_)
    if (wanted(e.kind))
      if (auto connection = e.connection.lock()) alive.push_back(std::move(connection));
  return alive;
}

}  // namespace happy
