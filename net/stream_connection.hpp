#pragma once

// A subscriber over plain HTTP, the transport of one session actor (batches
// reach it through the server's delivery queue, as for WebSocket):
//   sse     Server-Sent Events (id: <seq>, data: <envelope>), heartbeat comments
//   ndjson  chunked response, one envelope per line (the original's stream)
//   poll    long-poll: one JSON array of envelopes, then the response ends

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "actors/service.hpp"
#include "actors/transport.hpp"
#include "net/connection_stream.hpp"
#include "net/connection_tracker.hpp"
#include "net/http_response.hpp"
#include "net/server_context.hpp"

namespace happy {

enum class stream_format { sse, ndjson, ndjson_as_text, poll };

// Stream: plain or TLS (net/connection_stream.hpp).
template <class Stream>
class stream_connection : public transport,
                          public tracked_connection,
                          public frame_sink,
                          public std::enable_shared_from_this<stream_connection<Stream>> {
 public:
  using format = stream_format;

  stream_connection(Stream&& stream, http_request request, format kind,
                    std::chrono::seconds poll_timeout, server_context& context);
  ~stream_connection() override;

  // `expires_at_ms`: the admitting token's exp (0: none); the stream ends then.
  // `reader_token`: what admitted the reader, so a refusal lists only the topics it reads.
  void start(const std::string& topic, replay_request replay, std::int64_t expires_at_ms = 0,
             std::string reader_token = {});

  void accept(frame_list replay) override;
  void refuse(subscribe_refusal why) override;
  void deliver(frame_batch frames) override;
  void close(std::uint16_t code, std::string reason) override;
  void shut_down() override;
  // frame_sink (on the connection's strand)
  boost::asio::any_io_executor executor() override;

 private:
  void do_accept(frame_list replay);
  void on_header(boost::beast::error_code ec, std::size_t bytes);
  void watch_peer();
  void queue_frame(const frame& f) override;
  void write_queued_frames() override;
  void write_queued();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void end_stream();
  void end_stream_now();
  void schedule_heartbeat();
  void answer_poll();
  void send_whole(http_response response);
  void close_socket();
  std::string allow_origin() const;

  Stream stream_;
  boost::asio::any_io_executor strand_;
  http_request request_;
  format kind_;
  std::chrono::seconds poll_timeout_;
  server_context& context_;
  session_handle session_;
  std::string topic_;
  std::string reader_token_;
  std::string peer_;
  std::shared_ptr<topic_counters> counters_;
  boost::asio::steady_timer timer_;  // SSE heartbeat or long-poll timeout
  std::unique_ptr<boost::asio::steady_timer> expiry_timer_;  // the token's exp, if any

  std::shared_ptr<boost::beast::http::response<boost::beast::http::empty_body>> head_;
  std::shared_ptr<boost::beast::http::response_serializer<boost::beast::http::empty_body>>
      head_writer_;
  std::shared_ptr<http_response> whole_;
  std::vector<frame> pending_;    // frames not yet written (or, for poll, not yet answered)
  std::vector<frame> in_flight_;  // frames of the chunk being written: their text is sent as is
  std::vector<std::string>
      writing_;  // the chunk's own bytes (SSE prefixes, heartbeats), kept alive
  std::vector<boost::asio::const_buffer> buffers_;
  std::size_t pending_bytes_ = 0;
  char peer_byte_ = 0;

  // Where the response is in its life; every path checks this one value.
  enum class lifecycle : std::uint8_t {
    subscribing,   // waiting for the session actor's accept or refusal
    sending_head,  // SSE/NDJSON: the response's head is being written
    open,          // readings flow (a long-poll: waits for one)
    ending,        // the last chunk goes out once the write in flight is done
    answering,     // one whole response (a refusal, a long-poll's answer), then the socket closes
    closed,        // the socket is closed and the session told
  };
  lifecycle state_ = lifecycle::subscribing;
  bool finishing() const {
    return state_ == lifecycle::ending || state_ == lifecycle::answering ||
           state_ == lifecycle::closed;
  }
  bool writing_now_ = false;  // a write (head, chunk, heartbeat, last chunk) is in flight
};

extern template class stream_connection<plain_stream>;
extern template class stream_connection<tls_stream>;

}  // namespace happy
