#pragma once

// Knows every open connection and its transport, so a shutdown can end them,
// limits can count them and /metrics can report them. Connections register
// once they are owned by a shared_ptr and unregister in their destructor.

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/address_limiter.hpp"

namespace happy {

enum class transport_kind { http, websocket, sse, stream, poll, publisher };
inline constexpr std::size_t transport_kind_count = 6;
std::string_view transport_name(transport_kind kind);

class tracked_connection {
 public:
  virtual ~tracked_connection() = default;
  // Server is going away: end the connection politely (WebSocket 1001).
  virtual void shut_down() = 0;
  // Called every few seconds: keep-alive pings, overdue closes.
  virtual void tick() {}

  // The client address's count (limits.max_connections_per_ip), handed on
  // from the HTTP connection to what it is upgraded to.
  void hold_address_slot(address_slot slot) { address_slot_ = std::move(slot); }
  address_slot take_address_slot() { return std::move(address_slot_); }

 private:
  address_slot address_slot_;
};

class connection_tracker {
 public:
  void add(const std::shared_ptr<tracked_connection>& connection, transport_kind kind);
  void remove(const tracked_connection* connection);
  // Ends every connection except plain HTTP request/response ones.
  void shut_down_subscribers();
  void shut_down_all();
  // Calls tick() on every open connection of `kind`.
  void tick(transport_kind kind);

  std::size_t size() const { return total_.load(std::memory_order_relaxed); }
  std::size_t open(transport_kind kind) const;
  std::size_t opened_total(transport_kind kind) const;
  std::size_t long_lived() const { return size() - open(transport_kind::http); }

 private:
  struct entry {
    std::weak_ptr<tracked_connection> connection;
    transport_kind kind;
  };
  std::vector<std::shared_ptr<tracked_connection>> alive_where(
      const std::function<bool(transport_kind)>& wanted);

  mutable std::mutex mutex_;  // guards only this map; no actor state
  std::unordered_map<const tracked_connection*, entry> connections_;
  std::atomic<std::size_t> total_{0};
  std::array<std::atomic<std::size_t>, transport_kind_count> open_{};
  std::array<std::atomic<std::size_t>, transport_kind_count> opened_total_{};
};

}  // namespace happy
