#pragma once

// Knows every open connection so a shutdown can close them all and limits can
// count them. Connections register once they are owned by a shared_ptr and
// unregister in their destructor.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace happy {

class tracked_connection {
 public:
  virtual ~tracked_connection() = default;
  // Server is going away: end the connection politely (WebSocket 1001).
  virtual void shut_down() = 0;
};

class connection_tracker {
 public:
  void add(const std::shared_ptr<tracked_connection>& connection);
  void remove(const tracked_connection* connection);
  void shut_down_all();
  std::size_t size() const { return count_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mutex_;  // guards only this set; no actor state
  std::unordered_map<const tracked_connection*, std::weak_ptr<tracked_connection>> connections_;
  std::atomic<std::size_t> count_{0};
};

}  // namespace happy
