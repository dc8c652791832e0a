#pragma once

// Tells a run in flight that its source is gone (reload or shutdown), so the
// program is killed or the request dropped at once instead of running on to
// its timeout. Set once, from any thread; a thread blocked in poll() or an
// io_context waits on fd() beside its other work.

#include <atomic>

namespace happy {

class stop_signal {
 public:
  stop_signal();
  ~stop_signal();
  stop_signal(const stop_signal&) = delete;
  stop_signal& operator=(const stop_signal&) = delete;

  void raise();
  bool raised() const { return raised_.load(std::memory_order_acquire); }
  // Readable (POLLIN) once raised, and from then on; -1 if the kernel gave no
  // descriptor, in which case waiters only see raised() between their waits.
  int fd() const { return fd_; }

 private:
  int fd_;
  std::atomic<bool> raised_{false};
};

}  // namespace happy
