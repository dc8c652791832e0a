#pragma once

// Accepts TCP connections and starts an http_connection for each.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

#include "net/server_context.hpp"

namespace happy {

class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(boost::asio::io_context& ioc, boost::asio::ip::tcp::endpoint endpoint,
           server_context& context);

  void run();
  void stop();
  std::uint16_t port() const { return port_; }

 private:
  void do_accept();
  void on_accept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  server_context& context_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace happy
