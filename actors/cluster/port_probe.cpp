#include "actors/cluster/port_probe.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace happy {

namespace {

bool connects_within(const addrinfo& address, int timeout_ms) {
  int fd = ::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    address.ai_protocol);
  if (fd < 0) return false;
  bool open = false;
  if (::connect(fd, address.ai_addr, address.ai_addrlen) == 0) {
    open = true;
  } else if (errno == EINPROGRESS) {
    pollfd waiting{fd, POLLOUT, 0};
    if (::poll(&waiting, 1, timeout_ms) == 1) {
      int error = 0;
      socklen_t length = sizeof error;
      open = ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
    }
  }
  ::close(fd);
  return open;
}

}  // namespace

bool tcp_port_open(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return false;
  bool open = false;
  for (auto* a = found; a && !open; a = a->ai_next)
    open = connects_within(*a, static_cast<int>(timeout.count()));
  ::freeaddrinfo(found);
  return open;
}

}  // namespace happy
