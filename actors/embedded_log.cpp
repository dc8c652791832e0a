#include "actors/embedded_log.hpp"

#include <algorithm>

#include "actors/happy_error.hpp"
#include "actors/hub.hpp"

namespace happy {

bool embedded_log::ready(const hub_state& hub) const {
  return !hub.store || hub.seq < committed_seq_ + max_uncommitted_seqs;
}

void embedded_log::append(hub_state& hub, log_entry entry) {
  if (!hub.store) {
    entry.promise.deliver(hub.accept_reading(entry.value_json, entry.accepted_ms));
    return;
  }
  if (!hub.storage->writable) {
    entry.promise.deliver(make_error(happy_errc::storage_unavailable));
    return;
  }
  uncommitted_.push_back({hub.accept_reading(entry.value_json, entry.accepted_ms), std::move(entry.promise)});
}

void embedded_log::on_stored(hub_state& hub, std::uint64_t seq, bool committed) {
  committed_seq_ = std::max(committed_seq_, seq);
  while (!uncommitted_.empty() && uncommitted_.front().seq <= seq) {
    auto& p = uncommitted_.front();
    if (committed)
      p.promise.deliver(p.seq);
    else
      p.promise.deliver(make_error(happy_errc::storage_unavailable));
    uncommitted_.pop_front();
  }
  hub.release_held();
}

}  // namespace happy
