#include "actors/topic_history.hpp"

#include <algorithm>

namespace happy {

void topic_history::push(frame f) {
  if (capacity_ == 0) return;
  if (frames_.size() == capacity_) frames_.pop_front();
  frames_.push_back(std::move(f));
}

void topic_history::set_capacity(std::size_t capacity) {
  capacity_ = capacity;
  while (frames_.size() > capacity_) frames_.pop_front();
}

frame_list topic_history::replay(const replay_request& request, std::uint64_t current_seq) const {
  using mode = replay_request::mode;
  auto first = frames_.end();
  switch (request.kind) {
    case mode::none:
      break;
    case mode::last:
      first = frames_.end() - static_cast<std::ptrdiff_t>(
                                  std::min<std::uint64_t>(request.value, frames_.size()));
      break;
    case mode::since:
      if (request.value > current_seq) {
        first = frames_.begin();
      } else {
        // Held seqs are sorted (with gaps where a failover lost readings).
        first = std::partition_point(frames_.begin(), frames_.end(),
                                     [&](const frame& f) { return f.seq <= request.value; });
      }
      break;
  }
  return frame_list(first, frames_.end());
}

}  // namespace happy
