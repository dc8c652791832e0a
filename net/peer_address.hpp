#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace happy {

// "address:port" of the socket's peer, for log lines; "unknown" once it is gone.
inline std::string peer_address(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace happy
