#include "loopback_sockets.hpp"

#include "http_client_messages.hpp"
#include "monotonic_clock.hpp"

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace happy_bench {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

void epoll_add(int epoll_fd, int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = tag;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

void epoll_modify(int epoll_fd, int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = tag;
  epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event);
}

int start_connect(const sockaddr_in& server, in_addr source, std::string& error) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_text("socket");
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = source;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    error = errno_text("bind");
    close(fd);
    return -1;
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 &&
      errno != EINPROGRESS) {
    error = errno_text("connect");
    close(fd);
    return -1;
  }
  return fd;
}

namespace {
bool wait_for(int fd, short events, std::int64_t deadline_ns, std::string& error) {
  for (;;) {
    auto left_ms = (deadline_ns - monotonic_ns()) / 1'000'000;
    if (left_ms <= 0) {
      error = "timed out";
      return false;
    }
    pollfd entry{fd, events, 0};
    int ready = poll(&entry, 1, static_cast<int>(left_ms));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) {
      error = errno_text("poll");
      return false;
    }
  }
}
}  // namespace

int connect_publisher_socket(const sockaddr_in& server, int timeout_ms, std::string& error) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno_text("socket");
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto deadline = monotonic_ns() + std::int64_t{timeout_ms} * 1'000'000;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) {
    if (errno != EINPROGRESS) {
      error = errno_text("connect");
      close(fd);
      return -1;
    }
    int so_error = 0;
    socklen_t length = sizeof so_error;
    if (!wait_for(fd, POLLOUT, deadline, error) ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length) != 0 || so_error != 0) {
      if (so_error != 0) error = std::string("connect: ") + std::strerror(so_error);
      close(fd);
      return -1;
    }
  }
  return fd;
}

bool open_tls_session(int fd, SSL*& ssl, int timeout_ms, std::string& error) {
  auto deadline = monotonic_ns() + std::int64_t{timeout_ms} * 1'000'000;
  ssl = new_tls_session(fd);
  for (;;) {
    switch (tls_handshake(ssl, error)) {
      case tls_step::done: return true;
      case tls_step::want_read:
        if (!wait_for(fd, POLLIN, deadline, error)) return false;
        break;
      case tls_step::want_write:
        if (!wait_for(fd, POLLOUT, deadline, error)) return false;
        break;
      case tls_step::failed: return false;
    }
  }
}

bool blocking_exchange(int fd, SSL* ssl, const std::string& request, std::string& response,
                       int timeout_ms, std::string& error) {
  auto deadline = monotonic_ns() + std::int64_t{timeout_ms} * 1'000'000;
  std::size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = stream_write(fd, ssl, request.data() + sent, request.size() - sent);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline, error)) return false;
    } else {
      error = errno_text("send");
      return false;
    }
  }
  char buffer[4096];
  while (http_head_length(response) == 0) {
    ssize_t n = stream_read(fd, ssl, buffer, sizeof buffer);
    if (n > 0) {
      response.append(buffer, static_cast<std::size_t>(n));
      if (response.size() > 65536) {
        error = "response head over 64 KiB";
        return false;
      }
    } else if (n == 0) {
      error = "connection closed before a response";
      return false;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(fd, POLLIN, deadline, error)) return false;
    } else {
      error = errno_text("read");
      return false;
    }
  }
  return true;
}

}  // namespace happy_bench
