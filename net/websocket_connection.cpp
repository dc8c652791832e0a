#include "net/websocket_connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/write.hpp>
#include <cerrno>
#include <chrono>
#include <utility>

#include "log/log.hpp"
#include "net/peer_address.hpp"
#include "wire/envelope.hpp"
#include "net/refusal_answer.hpp"
#include "net/token_expiry.hpp"

namespace happy {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::beast::bind_front_handler;
using boost::system::error_code;

namespace {

// Subscribers have nothing to say; a client that sends big messages is misbehaving.
constexpr std::size_t max_client_message_bytes = 4096;
// A silent client is pinged after this long and dropped after twice this long
// (checked by the server's housekeeping tick, every few seconds).
constexpr auto keepalive_interval = std::chrono::seconds(30);
// How long a client has to answer our close frame before the socket is cut.
constexpr auto close_timeout = std::chrono::seconds(5);
// Frames per sendmsg call (the iovec array lives on the stack).
constexpr std::size_t max_frames_per_write = 32;
// Reads per readiness event, so one chatty client cannot hog the thread.
constexpr int max_reads_per_wakeup = 4;

// Reads land here and are parsed at once; one buffer per I/O thread instead of one per connection.
thread_local std::array<char, 16384> read_chunk;

}  // namespace

websocket_connection::websocket_connection(plain_stream&& stream, const http_request& upgrade,
                                           std::string early_bytes, server_context& context)
    : websocket_connection(stream.release_socket(), nullptr, upgrade, std::move(early_bytes),
                           context) {}

websocket_connection::websocket_connection(tls_stream&& stream, const http_request& upgrade,
                                           std::string early_bytes, server_context& context)
    : websocket_connection(std::nullopt,
                           std::make_unique<tls_state>(tls_state{std::move(stream), {}, 0, {}}),
                           upgrade, std::move(early_bytes), context) {}

// TLS: socket_ is an unopened socket on the same executor; the bytes go through tls_.
websocket_connection::websocket_connection(std::optional<asio::ip::tcp::socket> plain_socket,
                                           std::unique_ptr<tls_state> tls,
                                           const http_request& upgrade, std::string early_bytes,
                                           server_context& context)
    : socket_(plain_socket ? std::move(*plain_socket)
                           : asio::ip::tcp::socket(tls->stream.get_executor())),
      tls_(std::move(tls)),
      context_(context),
      upgrade_(std::make_unique<upgrade_state>(upgrade_state{
          answer_websocket_upgrade(upgrade), std::string(upgrade[http::field::origin]), {}})),
      reader_(max_client_message_bytes),
      partial_frame_(std::move(early_bytes)) {
  peer_ = peer_address(raw_socket());
  error_code ignored;
  if (!tls_) socket_.non_blocking(true, ignored);  // reads drain the socket until it would block
}

websocket_connection::~websocket_connection() {
  context_.connections.remove(this);
}

void websocket_connection::start(const std::string& topic, replay_request replay,
                                 std::int64_t expires_at_ms, std::string reader_token) {
  context_.connections.add(shared_from_this(), transport_kind::websocket);
  upgrade_->reader_token = std::move(reader_token);
  counters_ = context_.metrics.topic(topic);
  if (!upgrade_->handshake.ok) {
    std::string body = error_body(upgrade_->handshake.error);
    return asio::post(
        socket_.get_executor(),
        [self = shared_from_this(), status = upgrade_->handshake.status,
         body = std::move(body)]() mutable { self->send_refusal(status, std::move(body)); });
  }
  session_ = context_.actors.open_session(topic, replay, shared_from_this());
  arm_token_expiry(expiry_timer_, socket_.get_executor(), expires_at_ms, shared_from_this(),
                   [](websocket_connection& self) {
                     // Still upgrading, or closing anyway.
                     if (self.state_ != lifecycle::open) return;
                     log_info("token expired: closing websocket topic=" + self.counters_->name +
                              " peer=" + self.peer_);
                     self.begin_close(close_code::token_expired, "token expired");
                   });
}

void websocket_connection::accept(frame_list replay) {
  asio::post(socket_.get_executor(),
             [self = shared_from_this(), replay = std::move(replay)]() mutable {
               self->on_accept(std::move(replay));
             });
}

void websocket_connection::refuse(subscribe_refusal why) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), why = std::move(why)] {
    auto caller = self->context_.access.identify(self->upgrade_->reader_token, unix_millis_now());
    auto answer = answer_for(why, [&](const std::string& topic) {
      return self->context_.access.may_read(caller, topic);
    });
    self->send_refusal(answer.status, std::move(answer.json_body));
  });
}

void websocket_connection::deliver(frame_batch frames) {
  context_.deliveries.push(shared_from_this(), std::move(frames));
}

asio::any_io_executor websocket_connection::executor() {
  return socket_.get_executor();
}

void websocket_connection::close(std::uint16_t code, std::string reason) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    // Frames the hub delivered before this close may still wait in the
    // delivery queue: they go first.
    self->context_.deliveries.drain_here();
    self->begin_close(code, reason);
  });
}

void websocket_connection::shut_down() {
  close(close_code::going_away, "going away");
}

void websocket_connection::tick() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->on_tick(); });
}

void websocket_connection::on_accept(frame_list replay) {
  if (state_ != lifecycle::upgrading) return;
  state_ = lifecycle::open;
  control_queue_ = std::move(upgrade_->handshake.response);
  upgrade_.reset();
  last_heard_ = clock::now();
  // History the client asked for is bounded by the topic's history and shared
  // with it, so it is queued whole and not counted against the slow-consumer
  // limit. Live frames may have come through the delivery queue first: replay
  // goes ahead of them (nothing is written before the 101, so queue_head_ is 0).
  replay_frames_left_ = replay.size();
  replay.insert(replay.end(), std::make_move_iterator(queue_.begin()),
                std::make_move_iterator(queue_.end()));
  queue_ = std::move(replay);
  log_info("connect websocket topic=" + counters_->name + " peer=" + peer_);
  write_pending();
  if (!partial_frame_.empty()) consume({});  // frames the client sent before our 101
  if (state_ == lifecycle::closed) return;
  wait_readable();
}

void websocket_connection::send_refusal(unsigned http_status, std::string json_body) {
  if (state_ != lifecycle::upgrading) return;
  state_ = lifecycle::refusing;
  http_request request;
  request.version(11);
  request.keep_alive(false);
  auto& refusal = upgrade_->refusal;
  refusal = std::make_shared<http_response>(
      json_response(request, static_cast<http::status>(http_status), std::move(json_body),
                    context_.allowed_origin(upgrade_->origin)));
  if (http_status == 426) refusal->set(http::field::sec_websocket_version, "13");
  auto then_finish = [self = shared_from_this(), refusal](error_code, std::size_t) { self->finish(); };
  if (tls_) http::async_write(tls_->stream, *refusal, std::move(then_finish));
  else http::async_write(socket_, *refusal, std::move(then_finish));
}

void websocket_connection::queue_frame(const frame& f) {
  // Frames before the 101 wait for it; after a close, nothing more is sent.
  if (state_ != lifecycle::upgrading && state_ != lifecycle::open) return;
  std::size_t size = f.json->size();
  // One frame always goes out, however big: only a backlog makes a client slow.
  if (queue_head_ < queue_.size() &&
      queued_bytes_ + size > context_.settings.limits.max_queued_bytes_per_client) {
    // The client cannot keep up: stop buffering for it. It resumes with ?since=.
    ++counters_->dropped;
    context_.metrics.count_slow_consumer();
    return begin_close(close_code::slow_consumer, "slow consumer");
  }
  queued_bytes_ += size;
  queue_.push_back(f);
}

// Writes control bytes and queued frames with non-blocking sendmsg calls
// (up to a batch of frames per call, straight from the shared envelope text)
// until the queue is empty or the socket is full; then waits for it to drain.
void websocket_connection::write_pending() {
  while (!writing_ && upgraded()) {
    // Control frames go out only between whole frames.
    if (control_out_.empty() && offset_ == 0 && !control_queue_.empty())
      control_out_.swap(control_queue_);
    if (pong_payload_ && control_out_.empty() && offset_ == 0) {
      control_queue_ += ws::control_frame(ws::opcode::pong, *pong_payload_);
      pong_payload_.reset();
      continue;
    }
    if (control_out_.empty() && queue_head_ == queue_.size()) return;
    // Control bytes wait for a frame boundary: finish the partly written frame alone.
    bool control_waiting = !control_queue_.empty() || pong_payload_;

    std::array<iovec, 1 + 2 * max_frames_per_write> iov;
    std::array<ws::frame_header, max_frames_per_write> headers;
    std::size_t count = 0;
    std::size_t skip = offset_;  // already written of the first piece(s)
    auto add = [&](const void* data, std::size_t size) {
      if (skip >= size) {
        skip -= size;
        return;
      }
      iov[count++] = {const_cast<char*>(static_cast<const char*>(data)) + skip, size - skip};
      skip = 0;
    };
    if (!control_out_.empty()) add(control_out_.data(), control_out_.size());
    std::size_t frames = std::min(queue_.size() - queue_head_, max_frames_per_write);
    if (control_waiting && control_out_.empty() && offset_ > 0) frames = 1;
    for (std::size_t i = 0; i < frames; ++i) {
      const std::string& json = *queue_[queue_head_ + i].json;
      add(headers[i].data(), ws::write_header(ws::opcode::text, json.size(), headers[i]));
      add(json.data(), json.size());
    }
    if (tls_) return write_tls(iov.data(), count, frames);
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = count;
    ssize_t written = ::sendmsg(socket_.native_handle(), &message, MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        writing_ = true;
        socket_.async_wait(asio::ip::tcp::socket::wait_write,
                           bind_front_handler(&websocket_connection::on_writable, shared_from_this()));
        return;
      }
      return finish();  // the client is gone
    }
    if (!consume_written(static_cast<std::size_t>(written))) return;
  }
}

// Forgets what the socket took; false once our close frame is out.
bool websocket_connection::consume_written(std::size_t bytes) {
  std::size_t done = offset_ + bytes;
  offset_ = 0;
  if (!control_out_.empty()) {
    if (done < control_out_.size()) {
      offset_ = done;
      return true;
    }
    done -= control_out_.size();
    std::string().swap(control_out_);  // control frames are rare: keep no buffer for them
    // Nothing is queued after our close frame, so when it was in what just
    // went out, no control bytes are left.
    if (close_queued() && control_queue_.empty()) {
      after_close_written();
      return false;
    }
  }
  std::size_t delivered = 0;
  while (queue_head_ < queue_.size()) {
    auto& f = queue_[queue_head_];
    std::size_t wire_bytes = ws::header_size(f.json->size()) + f.json->size();
    if (done < wire_bytes) break;
    done -= wire_bytes;
    if (replay_frames_left_ > 0)
      --replay_frames_left_;
    else
      queued_bytes_ -= f.json->size();
    f.json.reset();
    ++queue_head_;
    ++delivered;
  }
  offset_ = done;  // of the frame at queue_head_
  if (counters_ && delivered) counters_->delivered += delivered;
  compact_queue();
  return true;
}

void websocket_connection::write_tls(const iovec* pieces, std::size_t count, std::size_t frames) {
  tls_->out_frames = frames;
  std::string& out = tls_->out;
  out.clear();
  for (std::size_t i = 0; i < count; ++i)
    out.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
  writing_ = true;
  asio::async_write(tls_->stream, asio::buffer(out),
                    [self = shared_from_this()](error_code ec, std::size_t written) {
                      self->writing_ = false;
                      self->tls_->out_frames = 0;
                      if (ec || self->state_ == lifecycle::closed) return self->finish();
                      if (self->tls_->out.capacity() > 256 * 1024) std::string().swap(self->tls_->out);
                      if (!self->consume_written(written)) return;
                      self->write_pending();
                    });
}

void websocket_connection::on_writable(error_code ec) {
  writing_ = false;
  if (ec) return finish();
  last_heard_ = clock::now();  // the client read what was stuck: it is alive
  write_pending();
}

void websocket_connection::after_close_written() {
  if (state_ == lifecycle::answering_close) return finish();  // both close frames are sent
  // Our close is out: stop sending and wait (bounded by close_deadline_) for the client's.
  // (Under TLS the TCP side stays open: a half-closed TLS stream looks truncated.)
  if (tls_) return;
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

// Drops written slots from the front of the queue now and then, not per frame.
void websocket_connection::compact_queue() {
  if (queue_head_ == queue_.size()) {
    queue_.clear();
    queue_head_ = 0;
    if (queue_.capacity() > max_frames_per_write) std::vector<frame>().swap(queue_);
  } else if (queue_head_ >= max_frames_per_write && queue_head_ * 2 >= queue_.size()) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
    queue_head_ = 0;
  }
}

void websocket_connection::wait_readable() {
  if (tls_)
    return tls_->stream.async_read_some(
        asio::buffer(tls_->read),
        bind_front_handler(&websocket_connection::on_tls_read, shared_from_this()));
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     bind_front_handler(&websocket_connection::on_readable, shared_from_this()));
}

void websocket_connection::on_readable(error_code ec) {
  if (state_ == lifecycle::closed) return;
  if (ec) return finish();
  for (int i = 0; i < max_reads_per_wakeup; ++i) {
    error_code read_error;
    std::size_t n = socket_.read_some(asio::buffer(read_chunk), read_error);
    if (read_error == asio::error::would_block || read_error == asio::error::try_again) break;
    if (read_error) return finish();  // gone, or done after the close handshake
    last_heard_ = clock::now();
    ping_outstanding_ = false;
    consume(std::string_view(read_chunk.data(), n));
    if (state_ == lifecycle::closed) return;
  }
  wait_readable();
}

void websocket_connection::on_tls_read(error_code ec, std::size_t bytes) {
  if (state_ == lifecycle::closed) return;
  if (ec) return finish();
  last_heard_ = clock::now();
  ping_outstanding_ = false;
  consume(std::string_view(tls_->read.data(), bytes));
  if (state_ == lifecycle::closed) return;
  wait_readable();
}

void websocket_connection::consume(std::string_view bytes) {
  if (reader_.finished()) return;  // after a close: the rest is ignored
  std::string_view data = bytes;
  if (!partial_frame_.empty()) {
    partial_frame_.append(bytes);
    data = partial_frame_;
  }
  std::vector<ws::client_event> events;
  std::size_t used = reader_.read(data, events);
  if (partial_frame_.empty())
    partial_frame_.assign(data.substr(used));
  else
    partial_frame_.erase(0, used);
  // What remains is at most one frame (the reader refuses bigger ones early);
  // do not keep a whole read's worth of capacity for it.
  if (partial_frame_.capacity() > 2 * partial_frame_.size() + 256) partial_frame_.shrink_to_fit();
  for (auto& event : events) handle(event);
}

void websocket_connection::handle(ws::client_event& event) {
  using kind = ws::client_event::kind;
  switch (event.what) {
    case kind::message:  // subscribers have nothing to say; ignore it
    case kind::pong:
      break;
    case kind::ping:
      // Only the latest ping is answered (RFC 6455 §5.5.3): a client pinging
      // faster than it reads cannot make pongs pile up.
      if (state_ != lifecycle::open) break;
      pong_payload_ = std::make_unique<std::string>(std::move(event.payload));
      write_pending();
      break;
    case kind::close:
      if (close_queued()) return finish();  // it answers ours: done
      begin_close(event.code == close_code::no_status ? close_code::normal : event.code, "",
                  lifecycle::answering_close);
      break;
    case kind::violation:
      log_info("websocket protocol error topic=" + counters_->name + " peer=" + peer_ + ": " +
               event.payload);
      begin_close(event.code, event.payload);
      break;
  }
}

// Sends a close frame after what is being written and leaves the hub at once.
void websocket_connection::begin_close(std::uint16_t code, std::string_view reason,
                                       lifecycle next) {
  // Not upgraded yet: there is no WebSocket to close, so answer the upgrade request.
  if (state_ == lifecycle::upgrading) return send_refusal(503, error_body(std::string(reason)));
  if (state_ != lifecycle::open) return;
  state_ = next;
  drop_queue();
  control_queue_ += ws::close_frame(code, reason);
  notify_closed();
  close_deadline_ = clock::now() + close_timeout;  // a client that never answers is cut off
  write_pending();
}

void websocket_connection::on_tick() {
  if (!upgraded()) return;
  auto now = clock::now();
  if (close_queued()) {
    if (now >= close_deadline_) finish();  // no answer to our close frame
    return;
  }
  auto silent_for = now - last_heard_;
  if (silent_for >= 2 * keepalive_interval) return finish();  // no pong to our ping: dead
  if (silent_for >= keepalive_interval && !ping_outstanding_) {
    ping_outstanding_ = true;
    control_queue_ += ws::control_frame(ws::opcode::ping, {});
    write_pending();
  }
}

void websocket_connection::finish() {
  if (state_ == lifecycle::closed) return;
  state_ = lifecycle::closed;
  error_code ignored;
  raw_socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  raw_socket().close(ignored);
  drop_queue();
  notify_closed();
}

// Forgets queued frames, except one the socket has taken part of: the client
// must get it whole before anything else (such as a close frame).
void websocket_connection::drop_queue() {
  std::size_t keep = queue_head_ + (offset_ > 0 && control_out_.empty() ? 1 : 0);
  // TLS: the batch being written is on its way whole; the close frame follows it.
  if (tls_ && writing_) keep = queue_head_ + tls_->out_frames;
  if (state_ == lifecycle::closed) keep = queue_head_;
  keep = std::min(keep, queue_.size());
  for (std::size_t i = keep; i < queue_.size(); ++i)
    if (i - queue_head_ >= replay_frames_left_) queued_bytes_ -= queue_[i].json->size();
  replay_frames_left_ = std::min(replay_frames_left_, keep - queue_head_);
  if (counters_) counters_->dropped += queue_.size() - keep;
  queue_.resize(keep);
  compact_queue();
}

void websocket_connection::notify_closed() {
  if (!session_) return;  // told already, or it never had one
  if (!upgrade_) log_info("disconnect websocket topic=" + counters_->name + " peer=" + peer_);
  std::exchange(session_, session_handle{}).transport_closed();
}

}  // namespace happy
