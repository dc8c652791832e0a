#include "net/stream_connection.hpp"

#include <boost/asio/write.hpp>
#include <string_view>

#include "log/log.hpp"
#include "net/peer_address.hpp"
#include "wire/envelope.hpp"
#include "net/refusal_answer.hpp"
#include "net/token_expiry.hpp"

namespace happy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

constexpr auto sse_heartbeat = std::chrono::seconds(15);

std::string_view content_type_of(stream_format kind) {
  switch (kind) {
    case stream_format::sse:
      return "text/event-stream";
    case stream_format::ndjson_as_text:
      return "text/plain; charset=utf-8";
    default:
      return "application/x-ndjson";
  }
}

}  // namespace

template <class Stream>
stream_connection<Stream>::stream_connection(Stream&& stream, http_request request, format kind,
                                             std::chrono::seconds poll_timeout, server_context& context)
    : stream_(std::move(stream)),
      strand_(stream_.get_executor()),
      request_(std::move(request)),
      kind_(kind),
      poll_timeout_(poll_timeout),
      context_(context),
      timer_(strand_) {
  peer_ = peer_address(beast::get_lowest_layer(stream_).socket());
}

template <class Stream>
stream_connection<Stream>::~stream_connection() {
  context_.connections.remove(this);
}

template <class Stream>
void stream_connection<Stream>::start(const std::string& topic, replay_request replay,
                              std::int64_t expires_at_ms, std::string reader_token) {
  reader_token_ = std::move(reader_token);
  transport_kind kind = kind_ == format::sse    ? transport_kind::sse
                        : kind_ == format::poll ? transport_kind::poll
                                                : transport_kind::stream;
  context_.connections.add(this->shared_from_this(), kind);
  counters_ = context_.metrics.topic(topic);
  topic_ = topic;
  session_ = context_.actors.open_session(topic, replay, this->shared_from_this());
  // The stream ends when the token does; the page fetches a new one and resumes with since.
  arm_token_expiry(expiry_timer_, strand_, expires_at_ms, this->shared_from_this(),
                   [](stream_connection& self) {
                     log_info("token expired: ending stream topic=" + self.topic_ +
                              " peer=" + self.peer_);
                     self.end_stream();
                   });
}

template <class Stream>
std::string stream_connection<Stream>::allow_origin() const {
  auto it = request_.find(http::field::origin);
  return context_.allowed_origin(it == request_.end() ? std::string{} : std::string(it->value()));
}

template <class Stream>
void stream_connection<Stream>::accept(frame_list replay) {
  asio::post(strand_, [self = this->shared_from_this(), replay = std::move(replay)]() mutable {
    self->do_accept(std::move(replay));
  });
}

template <class Stream>
void stream_connection<Stream>::refuse(subscribe_refusal why) {
  asio::post(strand_, [self = this->shared_from_this(), why = std::move(why)] {
    auto caller = self->context_.access.identify(self->reader_token_, unix_millis_now());
    auto answer = answer_for(why, [&](const std::string& topic) {
      return self->context_.access.may_read(caller, topic);
    });
    if (self->state_ != lifecycle::subscribing) return;
    self->state_ = lifecycle::answering;
    auto res = json_response(self->request_, static_cast<http::status>(answer.status),
                             std::move(answer.json_body), self->allow_origin());
    res.keep_alive(false);
    self->send_whole(std::move(res));
  });
}

template <class Stream>
void stream_connection<Stream>::deliver(frame_batch frames) {
  context_.deliveries.push(this->shared_from_this(), std::move(frames));
}

template <class Stream>
asio::any_io_executor stream_connection<Stream>::executor() {
  return strand_;
}

template <class Stream>
void stream_connection<Stream>::write_queued_frames() {
  if (state_ != lifecycle::open || pending_.empty()) return;
  if (kind_ == format::poll) return answer_poll();  // the next reading ends the wait
  write_queued();
}

template <class Stream>
void stream_connection<Stream>::close(std::uint16_t, std::string) {
  asio::post(strand_, [self = this->shared_from_this()] {
    // Frames the session delivered before this close may still wait in the
    // delivery queue: they go first.
    self->context_.deliveries.drain_here();
    self->end_stream();
  });
}

template <class Stream>
void stream_connection<Stream>::shut_down() {
  close(close_code::going_away, "going away");
}

template <class Stream>
void stream_connection<Stream>::do_accept(frame_list replay) {
  if (state_ != lifecycle::subscribing) return;
  // Replay goes ahead of anything live that was queued before the accept.
  for (auto& f : pending_) replay.push_back(std::move(f));
  pending_ = std::move(replay);
  pending_bytes_ = 0;
  for (const auto& f : pending_) pending_bytes_ += f.json->size();
  state_ = kind_ == format::poll ? lifecycle::open : lifecycle::sending_head;
  if (kind_ != format::poll)  // a long-poll is one request, not a connection worth a line
    log_info("connect " +
             std::string(transport_name(kind_ == format::sse ? transport_kind::sse
                                                             : transport_kind::stream)) +
             " topic=" + topic_ + " peer=" + peer_);
  beast::get_lowest_layer(stream_).expires_never();  // a live stream may be quiet for a long time
  watch_peer();
  if (kind_ == format::poll) {
    // History answers at once and in full; otherwise wait for the next reading.
    if (!pending_.empty()) return answer_poll();
    timer_.expires_after(poll_timeout_);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) self->answer_poll();
    });
    return;
  }
  // Headers go out at once, so clients see the stream open before any reading.
  head_ = std::make_shared<http::response<http::empty_body>>(http::status::ok, request_.version());
  head_->set(http::field::server, "happy-dashboard");
  head_->set(http::field::content_type, content_type_of(kind_));
  head_->set(http::field::cache_control, "no-store");
  head_->set("X-Accel-Buffering", "no");  // ask reverse proxies not to buffer the stream
  if (!context_.strict_transport_security.empty())
    head_->set(http::field::strict_transport_security, context_.strict_transport_security);
  if (auto origin = allow_origin(); !origin.empty())
    head_->set(http::field::access_control_allow_origin, origin);
  head_->chunked(true);
  head_->keep_alive(false);
  head_writer_ = std::make_shared<http::response_serializer<http::empty_body>>(*head_);
  writing_now_ = true;
  http::async_write_header(
      stream_, *head_writer_,
      beast::bind_front_handler(&stream_connection::on_header, this->shared_from_this()));
}

template <class Stream>
void stream_connection<Stream>::on_header(beast::error_code ec, std::size_t) {
  writing_now_ = false;
  if (ec) return close_socket();
  if (state_ == lifecycle::ending) return end_stream_now();
  if (state_ != lifecycle::sending_head) return;
  state_ = lifecycle::open;
  if (kind_ == format::sse) schedule_heartbeat();
  write_queued();
}

// Nothing is expected from the client; a read completing means it left.
template <class Stream>
void stream_connection<Stream>::watch_peer() {
  stream_.async_read_some(
      asio::buffer(&peer_byte_, 1), [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return self->close_socket();
        self->watch_peer();  // a pipelined request or stray byte: keep watching
      });
}

template <class Stream>
void stream_connection<Stream>::queue_frame(const frame& f) {
  if (finishing()) return;
  pending_bytes_ += f.json->size();
  // One frame always fits, however big: only a backlog makes a client slow.
  if (!pending_.empty() && pending_bytes_ > context_.settings.limits.max_queued_bytes_per_client) {
    // Slow consumer: end the stream; the client resumes with since/Last-Event-ID.
    counters_->dropped += pending_.size() + 1;
    context_.metrics.count_slow_consumer();
    pending_.clear();
    pending_bytes_ = 0;
    return end_stream();
  }
  pending_.push_back(f);
}

// Everything queued goes out as one chunk in one write. The hub's shared
// envelope text is written in place, not copied per client.
template <class Stream>
void stream_connection<Stream>::write_queued() {
  if (state_ != lifecycle::open || writing_now_ || pending_.empty()) return;
  static constexpr std::string_view line_end = "\n", event_end = "\n\n";
  in_flight_ = std::move(pending_);
  pending_.clear();
  pending_bytes_ = 0;
  writing_.clear();
  buffers_.clear();
  if (kind_ == format::sse) {
    // Reserved up front: the buffers point into these strings.
    writing_.reserve(in_flight_.size());
    for (const auto& f : in_flight_)
      writing_.push_back("id: " + std::to_string(f.seq) + "\ndata: ");
  }
  for (std::size_t i = 0; i < in_flight_.size(); ++i) {
    if (kind_ == format::sse) buffers_.push_back(asio::buffer(writing_[i]));
    buffers_.push_back(asio::buffer(*in_flight_[i].json));
    buffers_.push_back(asio::buffer(kind_ == format::sse ? event_end : line_end));
  }
  writing_now_ = true;
  asio::async_write(stream_, http::make_chunk(buffers_),
                    beast::bind_front_handler(&stream_connection::on_write, this->shared_from_this()));
}

template <class Stream>
void stream_connection<Stream>::on_write(beast::error_code ec, std::size_t) {
  writing_now_ = false;
  if (!ec) counters_->delivered += in_flight_.size();
  in_flight_.clear();
  if (ec) return close_socket();
  if (state_ == lifecycle::ending) return end_stream_now();
  write_queued();
}

template <class Stream>
void stream_connection<Stream>::schedule_heartbeat() {
  timer_.expires_after(sse_heartbeat);
  timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
    if (ec || self->state_ != lifecycle::open) return;
    // A comment line keeps proxies and the browser from timing the stream out.
    if (!self->writing_now_) {
      self->writing_.assign(1, ": heartbeat\n\n");
      self->buffers_.assign(1, asio::buffer(self->writing_.front()));
      self->writing_now_ = true;
      asio::async_write(self->stream_, http::make_chunk(self->buffers_),
                        beast::bind_front_handler(&stream_connection::on_write, self));
    }
    self->schedule_heartbeat();
  });
}

template <class Stream>
void stream_connection<Stream>::end_stream() {
  if (finishing()) return;
  if (state_ == lifecycle::subscribing) return close_socket();
  if (kind_ == format::poll) return answer_poll();
  state_ = lifecycle::ending;
  if (writing_now_) return;  // on_header/on_write see `ending` and finish
  end_stream_now();
}

template <class Stream>
void stream_connection<Stream>::end_stream_now() {
  timer_.cancel();
  writing_now_ = true;
  asio::async_write(stream_, http::make_chunk_last(),
                    [self = this->shared_from_this()](beast::error_code, std::size_t) {
                      self->writing_now_ = false;
                      self->close_socket();
                    });
}

template <class Stream>
void stream_connection<Stream>::answer_poll() {
  if (state_ != lifecycle::open) return;  // answered already, or closed
  timer_.cancel();
  std::string body = "[";
  for (const auto& f : pending_) {
    if (body.size() > 1) body += ',';
    body += *f.json;
  }
  body += ']';
  in_flight_ = std::move(pending_);
  pending_.clear();
  pending_bytes_ = 0;
  state_ = lifecycle::answering;
  auto res = json_response(request_, http::status::ok, std::move(body), allow_origin());
  res.keep_alive(false);
  send_whole(std::move(res));
}

template <class Stream>
void stream_connection<Stream>::send_whole(http_response response) {
  if (!context_.strict_transport_security.empty())
    response.set(http::field::strict_transport_security, context_.strict_transport_security);
  whole_ = std::make_shared<http_response>(std::move(response));
  http::async_write(stream_, *whole_,
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      if (!ec && self->counters_)
                        self->counters_->delivered += self->in_flight_.size();
                      self->close_socket();
                    });
}

template <class Stream>
void stream_connection<Stream>::close_socket() {
  if (state_ == lifecycle::closed) return;
  // A stream that was accepted (a refusal's answer never was) had its connect logged.
  bool was_streaming = state_ == lifecycle::sending_head || state_ == lifecycle::open ||
                       state_ == lifecycle::ending;
  state_ = lifecycle::closed;
  timer_.cancel();
  close_connection(stream_);
  if (was_streaming && kind_ != format::poll)
    log_info("disconnect " +
             std::string(transport_name(kind_ == format::sse ? transport_kind::sse
                                                             : transport_kind::stream)) +
             " topic=" + topic_ + " peer=" + peer_);
  session_.transport_closed();
}

template class stream_connection<plain_stream>;
template class stream_connection<tls_stream>;

}  // namespace happy
