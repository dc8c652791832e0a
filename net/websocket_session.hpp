#pragma once

// A subscriber on a WebSocket: the transport of one session actor. Frames from
// the actor are queued on the connection's strand and written one at a time.

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "actors/service.hpp"
#include "actors/transport.hpp"
#include "net/connection_tracker.hpp"
#include "net/http_response.hpp"
#include "net/server_context.hpp"

namespace happy {

class websocket_session : public transport,
                          public tracked_connection,
                          public std::enable_shared_from_this<websocket_session> {
 public:
  websocket_session(boost::beast::tcp_stream&& stream, http_request upgrade,
                    server_context& context);
  ~websocket_session() override;

  // Spawns the session actor, which will call accept(replay) or reject().
  void start(const std::string& topic, replay_request replay);

  // transport
  void accept(frame_list replay) override;
  void reject(unsigned http_status, std::string json_body) override;
  void deliver(frame f) override;
  void close(std::uint16_t code, std::string reason) override;
  // tracked_connection
  void shut_down() override;

 private:
  void do_accept(frame_list replay);
  void on_accept(boost::beast::error_code ec);
  void do_reject(unsigned http_status, std::string json_body);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void enqueue(frame f);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void do_close(boost::beast::websocket::close_reason reason);
  void start_close_handshake();
  void drop_queue();
  void notify_closed();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::asio::any_io_executor strand_;
  http_request upgrade_;
  server_context& context_;
  session_link session_;
  std::string topic_;
  std::string peer_;
  std::shared_ptr<topic_counters> counters_;
  boost::beast::flat_buffer read_buffer_;
  std::shared_ptr<http_response> rejection_;

  std::deque<frame> queue_;
  std::size_t queued_bytes_ = 0;
  bool accepted_ = false;
  bool writing_ = false;
  bool closing_ = false;   // no more frames are queued or written
  bool notified_ = false;  // the session actor knows the client is gone
  std::optional<boost::beast::websocket::close_reason> close_after_write_;
};

}  // namespace happy
