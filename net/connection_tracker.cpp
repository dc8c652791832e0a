#include "net/connection_tracker.hpp"

#include <vector>

namespace happy {

void connection_tracker::add(const std::shared_ptr<tracked_connection>& connection) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (connections_.emplace(connection.get(), connection).second) ++count_;
}

void connection_tracker::remove(const tracked_connection* connection) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (connections_.erase(connection) > 0) --count_;
}

void connection_tracker::shut_down_all() {
  std::vector<std::shared_ptr<tracked_connection>> alive;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    for (auto& entry : connections_)
      if (auto connection = entry.second.lock()) alive.push_back(std::move(connection));
  }
  for (auto& connection : alive) connection->shut_down();
}

}  // namespace happy
