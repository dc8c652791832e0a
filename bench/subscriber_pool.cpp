#include "subscriber_pool.hpp"

#include "http_client_messages.hpp"
#include "loopback_sockets.hpp"

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace happy_bench {

namespace {
// One read() per readable event: large enough for everything a busy socket holds.
constexpr std::size_t read_buffer_bytes = 256 * 1024;
constexpr std::size_t max_handshake_response = 16 * 1024;
}  // namespace

subscriber_pool::subscriber_pool(int epoll_fd, subscriber_pool_settings settings,
                                 latency_histogram& latencies)
    : epoll_fd_(epoll_fd),
      settings_(std::move(settings)),
      latencies_(latencies),
      value_prefix_("{\"" + settings_.topic + "\":{\"t\":"),
      subscribers_(static_cast<std::size_t>(settings_.count)),
      read_buffer_(read_buffer_bytes) {}

subscriber_pool::~subscriber_pool() { stop(); }

void subscriber_pool::begin_connecting(std::int64_t now_ns) {
  connect_start_ns_ = now_ns;
  connect_interval_ns_ = 1e9 / settings_.connect_rate;
}

std::int64_t subscriber_pool::next_start_ns() const {
  if (started_ >= settings_.count || in_flight_ >= settings_.max_handshakes)
    return std::numeric_limits<std::int64_t>::max();
  return connect_start_ns_ + static_cast<std::int64_t>(started_ * connect_interval_ns_);
}

void subscriber_pool::start_due_connections(std::int64_t now_ns) {
  while (!stopped_ && next_start_ns() <= now_ns) start_connection(static_cast<std::uint32_t>(started_++));
}

void subscriber_pool::start_connection(std::uint32_t index) {
  subscriber& s = subscribers_[index];
  in_addr source{};
  source.s_addr = htonl((127u << 24) | (1u + index % static_cast<unsigned>(settings_.source_addresses)));
  std::string error;
  s.fd = start_connect(settings_.server, source, error);
  ++in_flight_;
  if (s.fd < 0) return fail(s, error);
  s.state = subscriber_state::connecting;
  epoll_add(epoll_fd_, s.fd, EPOLLOUT, epoll_tag(source_kind::subscriber, index));
}

void subscriber_pool::abandon_unestablished() {
  for (auto& s : subscribers_)
    if (s.state == subscriber_state::waiting || s.state == subscriber_state::connecting ||
        s.state == subscriber_state::tls_handshaking || s.state == subscriber_state::handshaking) {
      if (s.state == subscriber_state::waiting) ++in_flight_;  // fail() counts it down
      fail(s, "not established within --connect-timeout");
    }
  started_ = settings_.count;
}

void subscriber_pool::on_event(std::uint32_t index, std::uint32_t events, std::int64_t now_ns) {
  if (index >= subscribers_.size()) return;
  subscriber& s = subscribers_[index];
  switch (s.state) {
    case subscriber_state::connecting:
      return on_connected(index);
    case subscriber_state::tls_handshaking:
      return continue_tls_handshake(index);
    case subscriber_state::handshaking:
    case subscriber_state::open:
      if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(index, now_ns);
      return;
    default:
      return;
  }
}

void subscriber_pool::on_connected(std::uint32_t index) {
  subscriber& s = subscribers_[index];
  int so_error = 0;
  socklen_t length = sizeof so_error;
  if (getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &so_error, &length) != 0) so_error = errno;
  if (so_error != 0) return fail(s, std::string("connect: ") + std::strerror(so_error));
  if (tls_enabled()) {
    s.ssl = new_tls_session(s.fd);
    s.state = subscriber_state::tls_handshaking;
    return continue_tls_handshake(index);
  }
  send_upgrade(index);
}

void subscriber_pool::continue_tls_handshake(std::uint32_t index) {
  subscriber& s = subscribers_[index];
  std::string error;
  switch (tls_handshake(s.ssl, error)) {
    case tls_step::done:
      return send_upgrade(index);
    case tls_step::want_read:
      return epoll_modify(epoll_fd_, s.fd, EPOLLIN, epoll_tag(source_kind::subscriber, index));
    case tls_step::want_write:
      return epoll_modify(epoll_fd_, s.fd, EPOLLOUT, epoll_tag(source_kind::subscriber, index));
    case tls_step::failed:
      return fail(s, error);
  }
}

void subscriber_pool::send_upgrade(std::uint32_t index) {
  subscriber& s = subscribers_[index];
  auto request = websocket_upgrade_request(settings_.host_header, settings_.path,
                                           make_websocket_key(random_));
  // A fresh socket's send buffer takes a ~200-byte request whole; a short write
  // would mean something is badly wrong, so it fails the connection.
  ssize_t sent = stream_write(s.fd, s.ssl, request.data(), request.size());
  if (sent != static_cast<ssize_t>(request.size()))
    return fail(s, sent < 0 ? errno_text("send handshake") : "short handshake write");
  s.state = subscriber_state::handshaking;
  epoll_modify(epoll_fd_, s.fd, EPOLLIN, epoll_tag(source_kind::subscriber, index));
}

void subscriber_pool::on_readable(std::uint32_t index, std::int64_t now_ns) {
  // TLS: a record may leave decrypted bytes in the session that no epoll event announces.
  do {
    read_once(index, now_ns);
  } while (subscribers_[index].fd >= 0 && tls_has_pending(subscribers_[index].ssl));
}

void subscriber_pool::read_once(std::uint32_t index, std::int64_t now_ns) {
  subscriber& s = subscribers_[index];
  ssize_t n = stream_read(s.fd, s.ssl, read_buffer_.data(), read_buffer_.size());
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    std::string reason = n == 0 ? "closed by the server" : errno_text("read");
    if (s.state == subscriber_state::handshaking) return fail(s, "handshake: " + reason);
    return closed_by_server(s, 1006);  // no close frame: abnormal closure
  }
  auto size = static_cast<std::size_t>(n);
  if (s.state == subscriber_state::handshaking) {
    s.pending.append(read_buffer_.data(), size);
    return on_handshake_bytes(index, now_ns);
  }
  if (s.pending.empty()) return consume_frames(s, read_buffer_.data(), size, false, now_ns);
  s.pending.append(read_buffer_.data(), size);
  consume_frames(s, s.pending.data(), s.pending.size(), true, now_ns);
}

void subscriber_pool::on_handshake_bytes(std::uint32_t index, std::int64_t now_ns) {
  subscriber& s = subscribers_[index];
  std::size_t head = http_head_length(s.pending);
  if (head == 0) {
    if (s.pending.size() > max_handshake_response) fail(s, "handshake: response head too large");
    return;
  }
  int status = http_status(std::string_view(s.pending).substr(0, head));
  if (status != 101) return fail(s, "handshake: HTTP status " + std::to_string(status));
  --in_flight_;
  ++established_;
  ++open_;
  s.state = subscriber_state::open;
  s.pending.erase(0, head);
  if (!s.pending.empty()) consume_frames(s, s.pending.data(), s.pending.size(), true, now_ns);
}

void subscriber_pool::consume_frames(subscriber& s, char* data, std::size_t size,
                                     bool data_is_pending, std::int64_t now_ns) {
  std::size_t offset = 0;
  for (;;) {
    frame_view frame;
    std::size_t consumed = 0;
    auto status = decode_frame(data + offset, size - offset, frame, consumed);
    if (status == decode_status::need_more) break;
    if (status == decode_status::too_large) return closed_by_server(s, 1009);
    offset += consumed;
    on_frame(s, frame, now_ns);
    if (s.state != subscriber_state::open) return;  // closed: `data` may be gone
  }
  if (data_is_pending)
    s.pending.erase(0, offset);
  else if (offset < size)
    s.pending.assign(data + offset, size - offset);
}

void subscriber_pool::on_frame(subscriber& s, const frame_view& frame, std::int64_t now_ns) {
  std::string_view payload(frame.payload, frame.size);
  switch (frame.code) {
    case opcode::text:
    case opcode::binary:
      if (frame.fin) {
        if (frame.code == opcode::text) on_envelope(s, payload, now_ns);
      } else {
        s.message.assign(payload);
        s.in_fragmented_message = frame.code == opcode::text;
      }
      return;
    case opcode::continuation:
      if (!s.in_fragmented_message) return;
      s.message.append(payload);
      if (frame.fin) {
        s.in_fragmented_message = false;
        on_envelope(s, s.message, now_ns);
        std::string().swap(s.message);
      }
      return;
    case opcode::ping:
      return send_pong(s, payload);
    case opcode::close:
      return closed_by_server(s, close_code_of(frame));
    default:
      return;
  }
}

void subscriber_pool::on_envelope(subscriber& s, std::string_view text, std::int64_t now_ns) {
  auto seq = json_seq(text);
  if (!seq) {
    ++unparsed_;
    return;
  }
  if (s.last_seq != 0) {
    if (*seq > s.last_seq + 1) ++gaps_;
    else if (*seq <= s.last_seq) ++out_of_order_;
  }
  if (*seq > s.last_seq) s.last_seq = *seq;
  if (*seq > max_seq_seen_) max_seq_seen_ = *seq;
  if (!counting_ || *seq < first_counted_seq_ || *seq > last_counted_seq_) return;
  ++s.received;
  ++delivered_;
  if (*seq < min_counted_seq_) min_counted_seq_ = *seq;
  last_delivery_ns_ = now_ns;
  if (text.compare(0, value_prefix_.size(), value_prefix_) == 0)
    if (auto sent_ns = leading_number(text.substr(value_prefix_.size())))
      latencies_.record(now_ns - static_cast<std::int64_t>(*sent_ns));
}

void subscriber_pool::send_pong(subscriber& s, std::string_view payload) {
  std::string frame;
  append_masked_frame(frame, opcode::pong, payload.substr(0, 125),
                      static_cast<std::uint32_t>(random_.next()));
  // Best effort: a pong that does not fit the send buffer now is not worth queueing.
  if (stream_write(s.fd, s.ssl, frame.data(), frame.size()) > 0) ++pings_answered_;
}

void subscriber_pool::fail(subscriber& s, const std::string& reason) {
  --in_flight_;
  ++failed_;
  ++failures_[reason];
  release(s, subscriber_state::failed);
}

void subscriber_pool::closed_by_server(subscriber& s, int close_code) {
  --open_;
  ++closed_early_;
  ++close_codes_[close_code];
  release(s, subscriber_state::closed);
}

void subscriber_pool::release(subscriber& s, subscriber_state state) {
  free_tls_session(s.ssl);
  if (s.fd >= 0) close(s.fd);  // also leaves the epoll set
  s.fd = -1;
  s.state = state;
  std::string().swap(s.pending);
  std::string().swap(s.message);
}

void subscriber_pool::count_from(std::uint64_t first_seq) {
  counting_ = true;
  first_counted_seq_ = first_seq;
}

void subscriber_pool::mark_survivors() {
  survivors_ = 0;
  for (auto& s : subscribers_) {
    s.survivor = s.state == subscriber_state::open;
    survivors_ += s.survivor ? 1 : 0;
  }
}

bool subscriber_pool::survivors_complete(std::uint64_t per_subscriber) const {
  for (const auto& s : subscribers_)
    if (s.survivor && s.state == subscriber_state::open && s.received < per_subscriber) return false;
  return true;
}

std::uint64_t subscriber_pool::missing_at_survivors(std::uint64_t per_subscriber) const {
  std::uint64_t missing = 0;
  for (const auto& s : subscribers_)
    if (s.survivor && s.received < per_subscriber) missing += per_subscriber - s.received;
  return missing;
}

void subscriber_pool::stop() {
  stopped_ = true;
  for (auto& s : subscribers_) {
    free_tls_session(s.ssl);
    if (s.fd >= 0) {
      close(s.fd);
      s.fd = -1;
    }
  }
}

}  // namespace happy_bench
