#include "tls_client.hpp"

#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace happy_bench {

namespace {
SSL_CTX* client_context = nullptr;
}  // namespace

void enable_tls() {
  if (client_context) return;
  client_context = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(client_context, TLS1_2_VERSION);
  SSL_CTX_set_verify(client_context, SSL_VERIFY_NONE, nullptr);
  // Writes behave like send(2): partial, and retried from a moved buffer.
  SSL_CTX_set_mode(client_context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                       SSL_MODE_RELEASE_BUFFERS);
}

bool tls_enabled() { return client_context != nullptr; }

SSL* new_tls_session(int fd) {
  if (!client_context) return nullptr;
  SSL* ssl = SSL_new(client_context);
  SSL_set_fd(ssl, fd);
  SSL_set_connect_state(ssl);
  return ssl;
}

void free_tls_session(SSL*& ssl) {
  if (ssl) SSL_free(ssl);
  ssl = nullptr;
}

tls_step tls_handshake(SSL* ssl, std::string& error) {
  int rc = SSL_do_handshake(ssl);
  if (rc == 1) return tls_step::done;
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ: return tls_step::want_read;
    case SSL_ERROR_WANT_WRITE: return tls_step::want_write;
    default: {
      char text[256];
      ERR_error_string_n(ERR_get_error(), text, sizeof text);
      ERR_clear_error();
      error = std::string("TLS handshake: ") + text;
      return tls_step::failed;
    }
  }
}

namespace {

ssize_t as_socket_result(SSL* ssl, int rc) {
  if (rc > 0) return rc;
  int code = SSL_get_error(ssl, rc);
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
    errno = EAGAIN;
    return -1;
  }
  if (code == SSL_ERROR_ZERO_RETURN) return 0;
  ERR_clear_error();
  if (code != SSL_ERROR_SYSCALL || errno == 0) errno = ECONNRESET;
  return -1;
}

}  // namespace

ssize_t stream_read(int fd, SSL* ssl, void* buffer, std::size_t size) {
  if (!ssl) return ::read(fd, buffer, size);
  return as_socket_result(ssl, SSL_read(ssl, buffer, static_cast<int>(size)));
}

ssize_t stream_write(int fd, SSL* ssl, const void* data, std::size_t size) {
  if (!ssl) return ::send(fd, data, size, MSG_NOSIGNAL);
  return as_socket_result(ssl, SSL_write(ssl, data, static_cast<int>(size)));
}

bool tls_has_pending(SSL* ssl) { return ssl && SSL_pending(ssl) > 0; }

}  // namespace happy_bench
