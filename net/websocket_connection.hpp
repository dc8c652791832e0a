#pragma once

// A subscriber on a WebSocket: the transport of one session actor.
//
// After the upgrade the connection speaks RFC 6455 itself (net/websocket_frames)
// instead of through Beast's stream, for two reasons that dominate fan-out:
// everything queued for the client goes out in one writev (frame headers
// next to the hub's shared envelope text, nothing copied), and an idle
// connection holds no read or write buffer of its own.
//
// Publishers (net/publisher_connection) keep Beast's websocket::stream: one
// client, frames in and small acks out, where the fan-out writer's gains do
// not apply and Beast's handshake, fragmentation and control-frame handling
// are worth more. This is the one place that says why there are two paths.
//
// Threads: deliver() and the other transport calls come from the session
// actor; each batch the session got from its hub travels through the
// server's delivery queue to the I/O thread (the connection's strand), where
// all socket work happens.

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/service.hpp"
#include "actors/transport.hpp"
#include "net/connection_tracker.hpp"
#include "net/http_response.hpp"
#include "net/server_context.hpp"
#include "net/connection_stream.hpp"
#include "net/websocket_frames.hpp"
#include "net/websocket_handshake.hpp"

namespace happy {

class websocket_connection : public transport,
                          public tracked_connection,
                          public frame_sink,
                          public std::enable_shared_from_this<websocket_connection> {
 public:
  // `early_bytes`: whatever the client sent after the upgrade request that
  // was already read with it. Plain: the connection takes the socket itself.
  websocket_connection(plain_stream&& stream, const http_request& upgrade,
                       std::string early_bytes, server_context& context);
  websocket_connection(tls_stream&& stream, const http_request& upgrade,
                       std::string early_bytes, server_context& context);
  ~websocket_connection() override;

  // Spawns the session actor, which will call accept(replay) or refuse(why); a
  // malformed upgrade request is refused here without one.
  // `expires_at_ms`: the admitting token's exp (0: none); the connection is
  // closed with 4001 "token expired" then.
  void start(const std::string& topic, replay_request replay, std::int64_t expires_at_ms = 0,
             std::string reader_token = {});

  // transport
  void accept(frame_list replay) override;
  void refuse(subscribe_refusal why) override;
  void deliver(frame_batch frames) override;
  void close(std::uint16_t code, std::string reason) override;
  // tracked_connection
  void shut_down() override;
  void tick() override;
  // frame_sink (on the I/O thread)
  boost::asio::any_io_executor executor() override;

 private:
  // Where the connection is in its life; every path checks this one value.
  enum class lifecycle : std::uint8_t {
    upgrading,        // waiting for the session actor's accept or refusal
    refusing,         // an HTTP error answers the upgrade, then the socket closes
    open,             // the 101 is (being) written; frames flow
    closing,          // our close frame is queued: nothing else is sent
    answering_close,  // the client closed first; our answering close frame is queued
    closed,           // the socket is closed
  };

  // Everything below runs on the connection's strand.
  void on_accept(frame_list replay);
  void send_refusal(unsigned http_status, std::string json_body);
  void queue_frame(const frame& f) override;
  void write_queued_frames() override { write_pending(); }
  void write_pending();
  bool consume_written(std::size_t bytes);
  void on_writable(boost::system::error_code ec);
  void after_close_written();
  void compact_queue();
  void wait_readable();
  void on_readable(boost::system::error_code ec);
  // TLS: the batch the plain path hands to sendmsg goes out as one SSL write.
  void write_tls(const struct iovec* pieces, std::size_t count, std::size_t frames);
  void on_tls_read(boost::system::error_code ec, std::size_t bytes);
  boost::asio::ip::tcp::socket& raw_socket() {
    return tls_ ? boost::beast::get_lowest_layer(tls_->stream).socket() : socket_;
  }
  void consume(std::string_view bytes);
  void handle(ws::client_event& event);
  void begin_close(std::uint16_t code, std::string_view reason,
                   lifecycle next = lifecycle::closing);
  void on_tick();
  void finish();
  void drop_queue();
  void notify_closed();

  // What only matters until the 101 response is on its way.
  struct upgrade_state {
    websocket_handshake handshake;
    std::string origin;  // for the CORS header of a refusal
    std::shared_ptr<http_response> refusal;
    std::string reader_token = {};  // a refusal lists only the topics it reads
  };
  using clock = std::chrono::steady_clock;

  // Plain: the socket itself, written with sendmsg. TLS: an unopened socket
  // on the same executor; the bytes go through tls_.
  boost::asio::ip::tcp::socket socket_;
  struct tls_state {
    tls_stream stream;
    std::string out;              // the batch being written
    std::size_t out_frames = 0;   // queued frames in it: they go out whole, even after a close
    std::array<char, 2048> read;  // what the client sent
  };
  std::unique_ptr<tls_state> tls_;  // null on plain connections: they pay one pointer
  // Exactly one of the two is given.
  websocket_connection(std::optional<boost::asio::ip::tcp::socket> plain_socket,
                       std::unique_ptr<tls_state> tls, const http_request& upgrade,
                       std::string early_bytes, server_context& context);
  server_context& context_;
  session_handle session_;
  std::string peer_;
  std::shared_ptr<topic_counters> counters_;
  std::unique_ptr<upgrade_state> upgrade_;

  std::vector<frame> queue_;  // frames from queue_head_ on are not fully written
  std::size_t queue_head_ = 0;
  std::string control_queue_;     // handshake response, pongs, pings, the close frame
  std::string control_out_;       // control bytes being written, ahead of the frames
  std::size_t offset_ = 0;        // bytes written of control_out_, else of the frame at queue_head_
  std::size_t queued_bytes_ = 0;  // live envelope bytes not yet written
  std::size_t replay_frames_left_ = 0;  // the first ones from queue_head_ are replay
  // The answer to the latest ping, due at the next frame boundary; null: none due.
  std::unique_ptr<std::string> pong_payload_;

  ws::client_frame_reader reader_;
  std::string partial_frame_;  // an incomplete client frame's bytes so far
  clock::time_point last_heard_;
  clock::time_point close_deadline_;
  std::unique_ptr<boost::asio::steady_timer> expiry_timer_;  // the token's exp, if any

  lifecycle state_ = lifecycle::upgrading;
  bool upgraded() const {
    return state_ == lifecycle::open || state_ == lifecycle::closing ||
           state_ == lifecycle::answering_close;
  }
  bool close_queued() const {
    return state_ == lifecycle::closing || state_ == lifecycle::answering_close;
  }

  bool writing_ = false;  // waiting for the socket to take more
  bool ping_outstanding_ = false;
};

}  // namespace happy
