#include "sources/stop_signal.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace happy {

stop_signal::stop_signal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

stop_signal::~stop_signal() {
  if (fd_ >= 0) ::close(fd_);
}

void stop_signal::raise() {
  if (raised_.exchange(true, std::memory_order_acq_rel)) return;
  if (fd_ < 0) return;
  // Never read back: the counter stays non-zero, so every later poll sees it too.
  std::uint64_t one = 1;
  ssize_t written = ::write(fd_, &one, sizeof one);
  (void)written;  // adding 1 to a fresh eventfd cannot fail
}

}  // namespace happy
