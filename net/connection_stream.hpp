#pragma once

// A client's byte stream: plain TCP, or TLS over it when server.tls is set.
// It is an Asio AsyncReadStream/AsyncWriteStream, so Beast's HTTP and
// WebSocket operations run on it unchanged; tcp() is the socket layer below
// (timeouts, addresses, closing).

#include <boost/asio/async_result.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <memory>
#include <utility>

namespace happy {

class connection_stream {
 public:
  using executor_type = boost::beast::tcp_stream::executor_type;
  using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  explicit connection_stream(boost::beast::tcp_stream&& plain) : plain_(std::move(plain)) {}
  // TLS: `context` holds the certificate this connection's handshake uses;
  // it stays alive with the connection after a reload replaced it.
  connection_stream(boost::beast::tcp_stream&& plain, std::shared_ptr<boost::asio::ssl::context> context)
      : plain_(plain.get_executor()),
        context_(std::move(context)),
        tls_(std::make_unique<tls_stream>(std::move(plain), *context_)) {}

  connection_stream(connection_stream&&) = default;
  connection_stream& operator=(connection_stream&&) = delete;

  executor_type get_executor() noexcept { return tcp().get_executor(); }
  boost::beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : plain_; }
  bool is_tls() const { return tls_ != nullptr; }
  tls_stream& tls() { return *tls_; }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return boost::asio::async_initiate<Handler, void(boost::system::error_code, std::size_t)>(
        [this](auto&& h, const MutableBuffers& b) {
          if (tls_) tls_->async_read_some(b, std::forward<decltype(h)>(h));
          else plain_.async_read_some(b, std::forward<decltype(h)>(h));
        },
        handler, buffers);
  }

  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return boost::asio::async_initiate<Handler, void(boost::system::error_code, std::size_t)>(
        [this](auto&& h, const ConstBuffers& b) {
          if (tls_) tls_->async_write_some(b, std::forward<decltype(h)>(h));
          else plain_.async_write_some(b, std::forward<decltype(h)>(h));
        },
        handler, buffers);
  }

  // Closes the TCP connection at once (no TLS close_notify: the protocols on
  // top end their messages themselves).
  void close() {
    boost::system::error_code ignored;
    tcp().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    tcp().close();
  }

 private:
  boost::beast::tcp_stream plain_;  // unused (never opened) under TLS
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::unique_ptr<tls_stream> tls_;
};

// For Beast's WebSocket stream (publisher connections): how to end the
// transport after the closing handshake.
template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, connection_stream& stream, TeardownHandler&& handler) {
  if (stream.is_tls())
    boost::beast::async_teardown(role, stream.tls(), std::forward<TeardownHandler>(handler));
  else
    boost::beast::async_teardown(role, stream.tcp(), std::forward<TeardownHandler>(handler));
}

inline void teardown(boost::beast::role_type role, connection_stream& stream, boost::system::error_code& ec) {
  if (stream.is_tls()) boost::beast::teardown(role, stream.tls(), ec);
  else boost::beast::teardown(role, stream.tcp(), ec);
}

// For Beast's WebSocket stream: closing the transport after an error.
inline void beast_close_socket(connection_stream& stream) { stream.close(); }

}  // namespace happy
