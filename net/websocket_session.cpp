#include "net/websocket_session.hpp"

#include <chrono>

#include "log/log.hpp"
#include "net/peer_address.hpp"

namespace happy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {
// Subscribers have nothing to say; a client that sends big frames is misbehaving.
constexpr std::size_t max_client_message_bytes = 4096;
}  // namespace

websocket_session::websocket_session(beast::tcp_stream&& stream, http_request upgrade,
                                     server_context& context)
    : ws_(std::move(stream)),
      strand_(ws_.get_executor()),
      upgrade_(std::move(upgrade)),
      context_(context),
      peer_(peer_address(ws_.next_layer().socket())) {}

websocket_session::~websocket_session() { context_.connections.remove(this); }

void websocket_session::start(const std::string& topic, replay_request replay) {
  context_.connections.add(shared_from_this(), transport_kind::websocket);
  counters_ = context_.metrics.topic(topic);
  topic_ = topic;
  session_ = context_.actors.open_session(topic, replay, shared_from_this());
}

void websocket_session::accept(frame_list replay) {
  asio::post(strand_, [self = shared_from_this(), replay = std::move(replay)]() mutable {
    self->do_accept(std::move(replay));
  });
}

void websocket_session::reject(unsigned http_status, std::string json_body) {
  asio::post(strand_, [self = shared_from_this(), http_status, body = std::move(json_body)]() mutable {
    self->do_reject(http_status, std::move(body));
  });
}

void websocket_session::deliver(frame f) {
  asio::post(strand_, [self = shared_from_this(), f = std::move(f)]() mutable {
    self->enqueue(std::move(f));
  });
}

void websocket_session::close(std::uint16_t code, std::string reason) {
  asio::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)] {
    self->do_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason));
  });
}

void websocket_session::shut_down() { close(close_code::going_away, "going away"); }

void websocket_session::do_accept(frame_list replay) {
  if (closing_) return;
  for (auto& f : replay) enqueue(std::move(f));  // written once the handshake completes
  if (closing_ || close_after_write_) return;  // the replay alone was too much for the client
  // The WebSocket layer has its own timeouts; the TCP one would cut idle clients.
  beast::get_lowest_layer(ws_).expires_never();
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(http::field::server, "happy-dashboard");
  }));
  ws_.read_message_max(max_client_message_bytes);
  ws_.async_accept(upgrade_,
                   beast::bind_front_handler(&websocket_session::on_accept, shared_from_this()));
}

// The handshake is done: start watching the client and flush what queued up.
void websocket_session::on_accept(beast::error_code ec) {
  if (ec) {
    closing_ = true;
    notify_closed();
    return;
  }
  accepted_ = true;
  upgrade_ = {};  // the request is no longer needed
  log_info("connect websocket topic=" + topic_ + " peer=" + peer_);
  do_read();
  if (close_after_write_) return start_close_handshake();
  do_write();
}

void websocket_session::do_reject(unsigned http_status, std::string json_body) {
  closing_ = true;
  rejection_ = std::make_shared<http_response>(json_response(
      upgrade_, static_cast<http::status>(http_status), std::move(json_body),
      context_.allowed_origin(std::string(upgrade_[http::field::origin]))));
  rejection_->keep_alive(false);
  http::async_write(ws_.next_layer(), *rejection_,
                    [self = shared_from_this()](beast::error_code, std::size_t) {
                      beast::error_code ignored;
                      self->ws_.next_layer().socket().shutdown(asio::ip::tcp::socket::shutdown_both,
                                                               ignored);
                      self->ws_.next_layer().close();
                      self->notify_closed();
                    });
}

void websocket_session::do_read() {
  ws_.async_read(read_buffer_,
                 beast::bind_front_handler(&websocket_session::on_read, shared_from_this()));
}

// Anything the client sends is ignored; an error here means it is gone.
void websocket_session::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    closing_ = true;
    drop_queue();
    notify_closed();
    return;
  }
  read_buffer_.consume(read_buffer_.size());
  do_read();
}

void websocket_session::enqueue(frame f) {
  if (closing_ || close_after_write_) return;
  queued_bytes_ += f.json->size();
  // One frame always fits, however big: only a backlog makes a client slow.
  if (queue_.size() > (writing_ ? 1u : 0u) &&
      queued_bytes_ > context_.settings.limits.max_queued_bytes_per_client) {
    // The client cannot keep up: stop buffering for it. It resumes with ?since=.
    queued_bytes_ -= f.json->size();
    ++counters_->dropped;
    context_.metrics.count_slow_consumer();
    return do_close(websocket::close_reason(static_cast<websocket::close_code>(close_code::slow_consumer), "slow consumer"));
  }
  queue_.push_back(std::move(f));
  if (accepted_ && !writing_) do_write();
}

void websocket_session::do_write() {
  if (queue_.empty() || writing_ || closing_) return;
  writing_ = true;
  ws_.text(true);
  ws_.async_write(asio::buffer(*queue_.front().json),
                  beast::bind_front_handler(&websocket_session::on_write, shared_from_this()));
}

void websocket_session::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (!queue_.empty()) {
    queued_bytes_ -= queue_.front().json->size();
    queue_.pop_front();
    if (!ec) ++counters_->delivered;
  }
  if (ec) {
    closing_ = true;
    return;  // the pending read reports the failure to the session actor
  }
  if (close_after_write_) return start_close_handshake();
  do_write();
}

void websocket_session::do_close(websocket::close_reason reason) {
  if (closing_ || close_after_write_) return;
  if (!accepted_) {
    // Not upgraded yet: there is no WebSocket to close politely.
    closing_ = true;
    beast::error_code ignored;
    ws_.next_layer().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    ws_.next_layer().close();
    notify_closed();
    return;
  }
  drop_queue();
  close_after_write_ = reason;
  notify_closed();  // leave the hub now, not when the peer answers the close
  // One write at a time: a close frame waits for the frame being written.
  if (!writing_) start_close_handshake();
}

void websocket_session::start_close_handshake() {
  auto reason = *close_after_write_;
  closing_ = true;
  ws_.async_close(reason, [self = shared_from_this()](beast::error_code) {
    // The pending read completes too and notifies the session actor.
  });
}

// Forget queued frames, except the one being written: its buffer is in use.
void websocket_session::drop_queue() {
  while (queue_.size() > (writing_ ? 1u : 0u)) {
    queued_bytes_ -= queue_.back().json->size();
    queue_.pop_back();
    if (counters_) ++counters_->dropped;
  }
}

void websocket_session::notify_closed() {
  if (notified_) return;
  notified_ = true;
  if (accepted_) log_info("disconnect websocket topic=" + topic_ + " peer=" + peer_);
  session_.transport_closed();
}

}  // namespace happy
