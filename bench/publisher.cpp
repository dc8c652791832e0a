#include "publisher.hpp"

#include "http_client_messages.hpp"
#include "loopback_sockets.hpp"
#include "monotonic_clock.hpp"
#include "websocket_client_frames.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <vector>

namespace happy_bench {

namespace {

std::string percent_encoded(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// One nonblocking connection with an output queue flushed as the socket allows.
struct connection {
  int fd = -1;
  SSL* ssl = nullptr;  // wss:// / https
  std::string out;
  std::size_t out_sent = 0;
  std::string in;
  bool busy = false;         // http: a request is in flight
  std::int64_t sent_ns = 0;  // http: when it went out
  bool watching_out = false;  // EPOLLOUT is armed because output is stuck

  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { shut(); }

  void shut() {
    free_tls_session(ssl);
    if (fd >= 0) close(fd);
    fd = -1;
  }

  // Connects (and with TLS, shakes hands); false with `error` set.
  bool open(const sockaddr_in& server, int timeout_ms, std::string& error) {
    fd = connect_publisher_socket(server, timeout_ms, error);
    if (fd < 0) return false;
    return !tls_enabled() || open_tls_session(fd, ssl, timeout_ms, error);
  }

  // Sends what the socket takes; returns false when the socket failed.
  bool flush(int epoll_fd, std::uint64_t tag) {
    while (out_sent < out.size()) {
      ssize_t n = stream_write(fd, ssl, out.data() + out_sent, out.size() - out_sent);
      if (n > 0) {
        out_sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        if (!watching_out) epoll_modify(epoll_fd, fd, EPOLLIN | EPOLLOUT, tag);
        watching_out = true;
        return true;
      } else {
        return false;
      }
    }
    out.clear();
    out_sent = 0;
    if (watching_out) epoll_modify(epoll_fd, fd, EPOLLIN, tag);
    watching_out = false;
    return true;
  }

  // Reads what is there; returns false on EOF or error.
  bool fill(std::vector<char>& buffer) {
    for (;;) {
      ssize_t n = stream_read(fd, ssl, buffer.data(), buffer.size());
      if (n > 0) in.append(buffer.data(), static_cast<std::size_t>(n));
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      if (n <= 0) return false;
      // TLS: bytes already decrypted get no epoll event of their own.
      if (!tls_has_pending(ssl)) return true;
    }
  }
};

class websocket_publisher final : public publisher {
 public:
  explicit websocket_publisher(publisher_settings settings)
      : settings_(std::move(settings)), buffer_(64 * 1024) {}

  bool open(int epoll_fd, int timeout_ms, std::string& error) override {
    epoll_fd_ = epoll_fd;
    if (!conn_.open(settings_.server, timeout_ms, error)) return false;
    std::string target = "/topics/" + settings_.topic + "/publish?ack=1&token=" +
                         percent_encoded(settings_.token);
    std::string response;
    if (!blocking_exchange(conn_.fd, conn_.ssl,
                           websocket_upgrade_request(settings_.host_header, target,
                                                     make_websocket_key(random_)),
                           response, timeout_ms, error))
      return false;
    auto head = http_head_length(response);
    int status = http_status(std::string_view(response).substr(0, head));
    if (status != 101) {
      error = "publisher upgrade answered HTTP " + std::to_string(status) + ": " +
              response.substr(head, 200);
      return false;
    }
    conn_.in = response.substr(head);
    epoll_add(epoll_fd_, conn_.fd, EPOLLIN, tag());
    return true;
  }

  bool can_send() const override {
    if (broken()) return false;
    return !settings_.flood || published_ - acked_ < static_cast<std::uint64_t>(settings_.window);
  }

  void send(std::string_view value) override {
    append_masked_frame(conn_.out, opcode::text, value, static_cast<std::uint32_t>(random_.next()));
    ++published_;
    sent_ns_.push_back(monotonic_ns());  // acks come back in send order
    write_out();
  }

  void on_event(std::uint32_t, std::uint32_t events) override {
    if (conn_.fd < 0) return;
    if (events & EPOLLOUT) write_out();
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      bool alive = conn_.fill(buffer_);
      parse_frames();
      if (!alive && !broken()) broken_reason_ = "publisher connection closed by the server";
    }
  }

  void close_all() override { conn_.shut(); }

 private:
  std::uint64_t tag() const { return epoll_tag(source_kind::publisher, 0); }

  void write_out() {
    if (!conn_.flush(epoll_fd_, tag()) && !broken()) broken_reason_ = errno_text("publisher send");
  }

  void parse_frames() {
    std::size_t offset = 0;
    for (;;) {
      frame_view frame;
      std::size_t consumed = 0;
      auto status = decode_frame(conn_.in.data() + offset, conn_.in.size() - offset, frame, consumed);
      if (status == decode_status::too_large) {
        broken_reason_ = "publisher got an oversized frame";
        break;
      }
      if (status == decode_status::need_more) break;
      offset += consumed;
      std::string_view payload(frame.payload, frame.size);
      if (frame.code == opcode::text) {
        if (auto seq = json_seq(payload)) {
          std::int64_t sent = sent_ns_.empty() ? 0 : sent_ns_.front();
          if (!sent_ns_.empty()) sent_ns_.pop_front();
          on_ack(*seq, sent);
        } else {
          ++errors_;
          if (first_error_.empty()) first_error_ = "unexpected reply " + std::string(payload.substr(0, 200));
        }
      } else if (frame.code == opcode::ping) {
        append_masked_frame(conn_.out, opcode::pong, payload, static_cast<std::uint32_t>(random_.next()));
        write_out();
      } else if (frame.code == opcode::close) {
        auto reason = payload.size() > 2 ? std::string(payload.substr(2)) : std::string();
        broken_reason_ = "publisher closed by the server with " +
                         std::to_string(close_code_of(frame)) + " " + reason;
      }
    }
    conn_.in.erase(0, offset);
  }

  publisher_settings settings_;
  int epoll_fd_ = -1;
  connection conn_;
  std::deque<std::int64_t> sent_ns_;  // values awaiting their ack, oldest first
  std::vector<char> buffer_;
  fast_random random_;
};

// --window keep-alive connections, each with at most one request in flight
// (no pipelining: every value waits for its 202 before its connection is reused).
class http_publisher final : public publisher {
 public:
  explicit http_publisher(publisher_settings settings)
      : settings_(std::move(settings)),
        connections_(static_cast<std::size_t>(settings_.window)),
        buffer_(64 * 1024) {
    request_head_ = "POST /topics/" + settings_.topic + " HTTP/1.1\r\nHost: " + settings_.host_header +
                    "\r\nAuthorization: Bearer " + settings_.token +
                    "\r\nContent-Type: application/json\r\nContent-Length: ";
  }

  bool open(int epoll_fd, int timeout_ms, std::string& error) override {
    epoll_fd_ = epoll_fd;
    for (std::uint32_t i = 0; i < connections_.size(); ++i) {
      if (!connections_[i].open(settings_.server, timeout_ms, error)) return false;
      epoll_add(epoll_fd_, connections_[i].fd, EPOLLIN, epoll_tag(source_kind::publisher, i));
      idle_.push_back(i);
    }
    return true;
  }

  bool can_send() const override { return !broken() && !idle_.empty(); }

  void send(std::string_view value) override {
    std::uint32_t index = idle_.back();
    idle_.pop_back();
    connection& c = connections_[index];
    c.busy = true;
    c.sent_ns = monotonic_ns();
    c.out.append(request_head_).append(std::to_string(value.size())).append("\r\n\r\n").append(value);
    ++published_;
    write_out(index);
  }

  void on_event(std::uint32_t index, std::uint32_t events) override {
    if (index >= connections_.size() || connections_[index].fd < 0) return;
    connection& c = connections_[index];
    if (events & EPOLLOUT) write_out(index);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      bool alive = c.fill(buffer_);
      parse_responses(index);
      if (!alive) lose(index, "publisher connection closed by the server");
    }
  }

  void close_all() override {
    for (auto& c : connections_) c.shut();
  }

 private:
  void write_out(std::uint32_t index) {
    if (!connections_[index].flush(epoll_fd_, epoll_tag(source_kind::publisher, index)))
      lose(index, errno_text("publisher send"));
  }

  void parse_responses(std::uint32_t index) {
    connection& c = connections_[index];
    for (;;) {
      std::size_t head = http_head_length(c.in);
      if (head == 0) return;
      std::string_view head_text = std::string_view(c.in).substr(0, head);
      std::size_t body = http_content_length(head_text);
      if (c.in.size() < head + body) return;
      int status = http_status(head_text);
      if (status == 202) {
        if (auto seq = json_seq(std::string_view(c.in).substr(head, body))) on_ack(*seq, c.sent_ns);
        else ++errors_;
      } else {
        ++errors_;
        if (first_error_.empty())
          first_error_ = "HTTP " + std::to_string(status) + " " + c.in.substr(head, std::min<std::size_t>(body, 200));
      }
      c.in.erase(0, head + body);
      if (c.busy) {
        c.busy = false;
        idle_.push_back(index);
      }
    }
  }

  void lose(std::uint32_t index, const std::string& reason) {
    connection& c = connections_[index];
    c.shut();
    c.busy = true;  // never reused
    idle_.erase(std::remove(idle_.begin(), idle_.end(), index), idle_.end());
    if (++lost_connections_ == connections_.size()) broken_reason_ = reason;
  }

  publisher_settings settings_;
  std::vector<connection> connections_;
  std::vector<std::uint32_t> idle_;
  std::vector<char> buffer_;
  std::string request_head_;
  std::size_t lost_connections_ = 0;
  int epoll_fd_ = -1;
};

}  // namespace

std::string timestamped_value(std::size_t bytes, std::int64_t t_ns) {
  std::string value = "{\"t\":" + std::to_string(t_ns) + ",\"p\":\"";
  std::size_t padding = bytes > value.size() + 2 ? bytes - value.size() - 2 : 0;
  value.append(padding, 'x');
  value += "\"}";
  return value;
}

void publisher::on_ack(std::uint64_t seq, std::int64_t sent_ns) {
  // Several HTTP connections may answer out of order: keep the smallest.
  if (acked_++ == 0 || seq < first_seq_) first_seq_ = seq;
  if (sent_ns > 0) ack_latencies_.record(monotonic_ns() - sent_ns);
}

std::unique_ptr<publisher> make_publisher(publish_mode mode, publisher_settings settings) {
  if (mode == publish_mode::http) return std::make_unique<http_publisher>(std::move(settings));
  return std::make_unique<websocket_publisher>(std::move(settings));
}

}  // namespace happy_bench
