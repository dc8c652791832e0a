#pragma once

// A WebSocket publisher (GET /topics/<name>/publish): every text frame is one
// JSON value published to the topic, in order. With ?ack=1 each value is
// answered with {"seq":n}. With ?keyed=1 each frame is
// {"idempotency_key":…,"value":…} (wire/keyed_publish.hpp). Bad input closes
// the connection with a reason: 1007 invalid JSON or frame, 1009 too big,
// 1003 binary frame, 1008 topic limit. It reads through Beast's
// websocket::stream, unlike subscribers (why: net/websocket_connection.hpp).

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "actors/service.hpp"
#include "net/connection_stream.hpp"
#include "net/connection_tracker.hpp"
#include "net/http_response.hpp"
#include "net/server_context.hpp"

namespace happy {

// Stream: plain or TLS (net/connection_stream.hpp).
template <class Stream>
class publisher_connection : public tracked_connection,
                             public std::enable_shared_from_this<publisher_connection<Stream>> {
 public:
  publisher_connection(Stream&& stream, http_request upgrade, std::string topic, bool ack,
                       bool keyed, server_context& context);
  ~publisher_connection() override;

  // `expires_at_ms`: the admitting JWT's exp (0: none); closed with 4001 then.
  void run(std::int64_t expires_at_ms = 0);
  void shut_down() override;

 private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void on_published(publish_result result);
  void send_text(std::string text);
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void refuse(std::uint16_t code, std::string reason);
  void close_if_settled();
  void close_with(std::uint16_t code, std::string reason);

  boost::beast::websocket::stream<Stream> ws_;
  boost::asio::any_io_executor strand_;
  http_request upgrade_;
  std::string topic_;
  bool ack_;
  bool keyed_;
  server_context& context_;
  publisher_handle publisher_;
  std::string peer_;
  std::unique_ptr<boost::asio::steady_timer> expiry_timer_;  // a JWT's exp, if any
  bool accepted_ = false;
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> outgoing_;
  std::size_t in_flight_ = 0;  // values handed to the actors, not yet answered
  bool writing_ = false;
  bool closing_ = false;
  // A refused frame closes the connection only after the values before it
  // were answered, so the client knows exactly which were accepted.
  std::optional<boost::beast::websocket::close_reason> close_when_settled_;
};

extern template class publisher_connection<plain_stream>;
extern template class publisher_connection<tls_stream>;

}  // namespace happy
