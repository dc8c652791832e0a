#pragma once

#include <netinet/in.h>

#include "tls_client.hpp"

#include <cstdint>
#include <string>

namespace happy_bench {

// epoll_event.data.u64 = source kind in the high half, connection index in the low half.
enum class source_kind : std::uint32_t { subscriber = 1, publisher = 2 };
inline std::uint64_t epoll_tag(source_kind kind, std::uint32_t index) {
  return (static_cast<std::uint64_t>(kind) << 32) | index;
}

void epoll_add(int epoll_fd, int fd, std::uint32_t events, std::uint64_t tag);
void epoll_modify(int epoll_fd, int fd, std::uint32_t events, std::uint64_t tag);

// Starts a nonblocking connect from `source` (port chosen at connect time, so
// each source address has its own ephemeral port range). Returns the socket,
// or -1 with `error` set.
int start_connect(const sockaddr_in& server, in_addr source, std::string& error);

// Sends `request` and reads the response head; bounded by `timeout_ms`.
// On success `response` holds the head and any bytes that followed it.
// Through `ssl` when it is not null.
bool blocking_exchange(int fd, SSL* ssl, const std::string& request, std::string& response,
                       int timeout_ms, std::string& error);
// wss://: a TLS session on the connected socket, its handshake done (bounded by `timeout_ms`);
// false with `error` set when it fails.
bool open_tls_session(int fd, SSL*& ssl, int timeout_ms, std::string& error);

// A connected nonblocking socket with TCP_NODELAY, or -1 with `error` set.
int connect_publisher_socket(const sockaddr_in& server, int timeout_ms, std::string& error);

std::string errno_text(const char* what);

}  // namespace happy_bench
