#pragma once

// The newest envelopes of one topic, so reconnecting clients can catch up.

#include <cstddef>
#include <deque>

#include "actors/messages.hpp"

namespace happy {

class topic_history {
 public:
  explicit topic_history(std::size_t capacity) : capacity_(capacity) {}

  // Appends the newest frame (its seq above every held one).
  void push(frame f);

  // Forgets every frame (JetStream: a history file that belongs to another stream).
  void clear() { frames_.clear(); }

  // The frames a subscriber asking for `request` must see before live ones,
  // oldest first. `current_seq` is the topic's latest seq: a `since` beyond it
  // means the server restarted, so everything held is replayed.
  frame_list replay(const replay_request& request, std::uint64_t current_seq) const;

  void set_capacity(std::size_t capacity);
  std::size_t capacity() const { return capacity_; }
  std::size_t size() const { return frames_.size(); }
  std::uint64_t oldest_seq() const { return frames_.empty() ? 0 : frames_.front().seq; }
  std::uint64_t newest_seq() const { return frames_.empty() ? 0 : frames_.back().seq; }
  const std::deque<frame>& frames() const { return frames_; }

 private:
  std::size_t capacity_;
  std::deque<frame> frames_;
};

}  // namespace happy
