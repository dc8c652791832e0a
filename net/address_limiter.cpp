#include "net/address_limiter.hpp"

#include <utility>

namespace happy {

address_slot::address_slot(address_slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), address_(std::move(other.address_)) {}

address_slot& address_slot::operator=(address_slot&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    address_ = std::move(other.address_);
  }
  return *this;
}

address_slot::~address_slot() { release(); }

void address_slot::release() {
  if (owner_) std::exchange(owner_, nullptr)->release(address_);
}

bool address_limiter::try_acquire(const std::string& address, address_slot& slot) {
  if (limit_ == 0) return true;
  std::lock_guard lock(mutex_);
  auto& open = open_[address];
  if (open >= limit_) return false;
  ++open;
  slot = address_slot(this, address);
  return true;
}

void address_limiter::release(const std::string& address) {
  std::lock_guard lock(mutex_);
  auto it = open_.find(address);
  if (it != open_.end() && --it->second == 0) open_.erase(it);
}

}  // namespace happy
