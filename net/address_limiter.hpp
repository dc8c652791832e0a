#pragma once

// limits.max_connections_per_ip: counts the open connections of each client
// address. A connection holds a slot for its whole life (it moves along
// when an HTTP connection becomes a WebSocket or a stream).

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace happy {

class address_limiter;

// Releases its address's count when destroyed; empty when no limit applies.
class address_slot {
 public:
  address_slot() = default;
  address_slot(address_limiter* owner, std::string address) : owner_(owner), address_(std::move(address)) {}
  address_slot(address_slot&& other) noexcept;
  address_slot& operator=(address_slot&& other) noexcept;
  address_slot(const address_slot&) = delete;
  address_slot& operator=(const address_slot&) = delete;
  ~address_slot();

 private:
  void release();
  address_limiter* owner_ = nullptr;
  std::string address_;
};

class address_limiter {
 public:
  explicit address_limiter(std::size_t per_address_limit) : limit_(per_address_limit) {}

  // Counts one more connection from `address`: a slot, or nothing when the
  // address already has the limit (the connection is refused with 429).
  bool try_acquire(const std::string& address, address_slot& slot);

 private:
  friend class address_slot;
  void release(const std::string& address);

  std::size_t limit_;  // 0: no limit
  std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> open_;
};

}  // namespace happy
