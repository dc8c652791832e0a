#pragma once

// A topic's log in this process alone (README "Storage"): the hub assigns
// the next seq at once. Without a history file the seq is the answer; with
// one, the reading reaches the store with the hub's next flush and the
// publish is answered once the store reports it committed. Publishes wait
// while the store is max_uncommitted_seqs behind, and are refused while the
// file cannot be written.

#include <deque>

#include "actors/topic_log.hpp"

namespace happy {

class embedded_log final : public topic_log {
 public:
  // `stored_seq`: the file's last seq at start (committed already).
  explicit embedded_log(std::uint64_t stored_seq) : committed_seq_(stored_seq) {}

  void start(hub_state&) override {}
  bool ready(const hub_state& hub) const override;
  void append(hub_state& hub, log_entry entry) override;
  bool shared() const override { return false; }
  void on_stored(hub_state& hub, std::uint64_t seq, bool committed) override;

 private:
  // Publishes answered once the store has committed their seq, oldest first.
  struct uncommitted {
    std::uint64_t seq;
    caf::typed_response_promise<std::uint64_t> promise;
  };
  std::deque<uncommitted> uncommitted_;
  std::uint64_t committed_seq_;  // the store has reported up to here
};

}  // namespace happy
