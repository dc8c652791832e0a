#include "net/listener.hpp"

#include <boost/asio/strand.hpp>

#include "log/log.hpp"
#include "net/http_connection.hpp"

namespace happy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto accept_error_backoff = std::chrono::milliseconds(100);
}

listener::listener(asio::io_context& ioc, tcp::endpoint endpoint, server_context& context)
    : ioc_(ioc), acceptor_(asio::make_strand(ioc)), backoff_(acceptor_.get_executor()),
      context_(context) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);  // throws with the address in use, reported by main
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

void listener::run() {
  asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    self->stopped_ = true;
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->backoff_.cancel();
  });
}

void listener::do_accept() {
  if (stopped_) return;
  // With several I/O threads each connection gets its own strand so its
  // handlers never run concurrently; one thread needs none.
  auto executor = context_.settings.server.io_threads > 1 ? asio::any_io_executor(asio::make_strand(ioc_))
                                                           : asio::any_io_executor(ioc_.get_executor());
  acceptor_.async_accept(executor,
                         [self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
                           self->on_accept(ec, std::move(s));
                         });
}

void listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // E.g. EMFILE: retrying at once would spin; wait for descriptors to free up.
    log_warning("accept failed: " + ec.message() + "; retrying in 100 ms");
    backoff_.expires_after(accept_error_backoff);
    backoff_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
      if (!wait_ec) self->do_accept();
    });
    return;
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  // Plain or TLS is decided here, once for the connection's life.
  if (context_.tls)
    std::make_shared<http_connection<tls_stream>>(
        tls_stream(boost::beast::tcp_stream(std::move(socket)), context_.tls->current()), context_)
        ->run();
  else
    std::make_shared<http_connection<plain_stream>>(plain_stream(std::move(socket)), context_)->run();
  do_accept();
}

}  // namespace happy
