#pragma once

// TLS for wss:// runs (OpenSSL on the tool's own nonblocking sockets): one
// client context, and read/write/handshake helpers that behave like the
// socket calls they replace (EAGAIN when the session must wait). The tool
// loads loopback servers with test certificates, so it verifies nothing.

#include <openssl/ssl.h>

#include <string>
#include <sys/types.h>

namespace happy_bench {

// Creates the process's client context; call once before any session.
void enable_tls();
bool tls_enabled();

// A session on a connected nonblocking socket (nullptr when TLS is off).
SSL* new_tls_session(int fd);
void free_tls_session(SSL*& ssl);

enum class tls_step { done, want_read, want_write, failed };
tls_step tls_handshake(SSL* ssl, std::string& error);

// Like read(2)/send(2) on `fd`, through `ssl` when it is not null:
// > 0 bytes, 0 end of stream, -1 with errno (EAGAIN: try again later).
ssize_t stream_read(int fd, SSL* ssl, void* buffer, std::size_t size);
ssize_t stream_write(int fd, SSL* ssl, const void* data, std::size_t size);
// Decrypted bytes already inside the session, which no epoll event will announce.
bool tls_has_pending(SSL* ssl);

}  // namespace happy_bench
