#pragma once

// Until when this node is sure it holds each topic's lease (Unix ms): the
// lease keeper writes it at every renewal, a hub reads it before it sends a
// reading of this node's generator or source. A node that was paused past
// that moment drops such readings as it wakes, whatever its mailboxes hold;
// ExpectLastSeq (actors/jetstream_log.hpp) fences what slips through before.
// Shared between the keeper's thread and the hubs', so it guards itself.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace happy {

class lease_validity {
 public:
  void hold_until(const std::string& topic, std::int64_t until_ms) {
    std::lock_guard lock(mutex_);
    until_[topic] = until_ms;
  }
  void lose(const std::string& topic) {
    std::lock_guard lock(mutex_);
    until_.erase(topic);
  }
  bool holds(const std::string& topic, std::int64_t now_ms) const {
    std::lock_guard lock(mutex_);
    auto it = until_.find(topic);
    return it != until_.end() && now_ms < it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::int64_t> until_;
};

}  // namespace happy
