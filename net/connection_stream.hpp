#pragma once

// A client's byte stream: plain TCP, or TLS over it when server.tls is set.
// Which one is decided once, when the listener accepts the connection: the
// connection classes (http_connection, stream_connection, publisher_connection)
// are templates over the stream type, instantiated for both in their .cpp
// files, so no call asks which it is and no connection carries the other's
// members. Beast's HTTP and WebSocket operations run on either unchanged;
// boost::beast::get_lowest_layer(stream) is the TCP layer (timeouts, closing).

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace happy {

using plain_stream = boost::beast::tcp_stream;

namespace detail {
// Constructed before the TLS stream that refers to it (a base class is).
struct tls_context_holder {
  std::shared_ptr<boost::asio::ssl::context> context;
};
}  // namespace detail

// TLS over TCP. It keeps the context (the certificate) its handshake used
// alive after a reload replaced it.
class tls_stream : private detail::tls_context_holder,
                   public boost::beast::ssl_stream<boost::beast::tcp_stream> {
 public:
  using base_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  tls_stream(boost::beast::tcp_stream&& tcp, std::shared_ptr<boost::asio::ssl::context> context)
      : detail::tls_context_holder{std::move(context)},
        base_stream(std::move(tcp), *this->context) {}
  tls_stream(tls_stream&&) = default;
  tls_stream& operator=(tls_stream&&) = delete;
};

template <class Stream>
inline constexpr bool is_tls_stream = std::is_same_v<Stream, tls_stream>;

// Closes the TCP connection at once (no TLS close_notify: the protocols on
// top end their messages themselves).
template <class Stream>
void close_connection(Stream& stream) {
  auto& tcp = boost::beast::get_lowest_layer(stream);
  boost::system::error_code ignored;
  tcp.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  tcp.close();
}

// For Beast's WebSocket stream over TLS (publisher connections): how to end
// the transport after the closing handshake, as for Beast's own ssl_stream.
template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, tls_stream& stream, TeardownHandler&& handler) {
  boost::beast::async_teardown(role, static_cast<tls_stream::base_stream&>(stream),
                               std::forward<TeardownHandler>(handler));
}

inline void teardown(boost::beast::role_type role, tls_stream& stream, boost::system::error_code& ec) {
  boost::beast::teardown(role, static_cast<tls_stream::base_stream&>(stream), ec);
}

}  // namespace happy
