#include "net/websocket_handshake.hpp"

#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>

namespace happy {

namespace http = boost::beast::http;

namespace {

websocket_handshake refused(unsigned status, std::string error) {
  websocket_handshake answer;
  answer.status = status;
  answer.error = std::move(error);
  return answer;
}

bool header_lists(const http_request& request, http::field field, const char* token) {
  auto it = request.find(field);
  return it != request.end() && http::token_list{it->value()}.exists(token);
}

}  // namespace

websocket_handshake answer_websocket_upgrade(const http_request& request) {
  using boost::beast::websocket::detail::sec_ws_accept_type;
  using boost::beast::websocket::detail::sec_ws_key_type;
  if (request.version() != 11) return refused(400, "WebSocket needs HTTP/1.1");
  if (request.method() != http::verb::get) return refused(400, "WebSocket upgrade must be a GET");
  if (request.find(http::field::host) == request.end())
    return refused(400, "missing Host header");
  if (!header_lists(request, http::field::connection, "upgrade"))
    return refused(400, "Connection header must list 'upgrade'");
  if (!header_lists(request, http::field::upgrade, "websocket"))
    return refused(400, "Upgrade header must list 'websocket'");
  auto key = request.find(http::field::sec_websocket_key);
  if (key == request.end() || key->value().empty() ||
      key->value().size() > sec_ws_key_type::static_capacity)
    return refused(400, "missing or invalid Sec-WebSocket-Key");
  auto version = request.find(http::field::sec_websocket_version);
  if (version == request.end() || version->value() != "13")
    return refused(426, "Sec-WebSocket-Version must be 13");

  sec_ws_accept_type accept_key;
  boost::beast::websocket::detail::make_sec_ws_accept(accept_key, key->value());
  websocket_handshake answer;
  answer.ok = true;
  answer.response =
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " + std::string(accept_key.data(), accept_key.size()) + "\r\n"
      "Server: happy-dashboard\r\n"
      "\r\n";
  return answer;
}

}  // namespace happy
