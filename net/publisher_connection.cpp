#include "net/publisher_connection.hpp"

#include "log/log.hpp"
#include "net/on_strand.hpp"
#include "net/peer_address.hpp"
#include "wire/keyed_publish.hpp"
#include "wire/reading_check.hpp"
#include "net/token_expiry.hpp"

namespace happy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {
constexpr std::size_t max_reason_bytes = 120;  // a close reason must fit in 123 bytes
}  // namespace

template <class Stream>
publisher_connection<Stream>::publisher_connection(Stream&& stream, http_request upgrade,
                                                   std::string topic, bool ack, bool keyed,
                                                   server_context& context)
    : ws_(std::move(stream)),
      strand_(ws_.get_executor()),
      upgrade_(std::move(upgrade)),
      topic_(std::move(topic)),
      ack_(ack),
      keyed_(keyed),
      context_(context),
      peer_(peer_address(beast::get_lowest_layer(ws_).socket())) {}

template <class Stream>
publisher_connection<Stream>::~publisher_connection() {
  if (accepted_) log_info("disconnect publisher topic=" + topic_ + " peer=" + peer_);
  context_.connections.remove(this);
  publisher_.close();
}

template <class Stream>
void publisher_connection<Stream>::run(std::int64_t expires_at_ms) {
  context_.connections.add(this->shared_from_this(), transport_kind::publisher);
  arm_token_expiry(expiry_timer_, strand_, expires_at_ms, this->shared_from_this(),
                   [](publisher_connection& self) {
                     log_info("token expired: closing publisher topic=" + self.topic_ +
                              " peer=" + self.peer_);
                     self.close_with(close_code::token_expired, "token expired");
                   });
  publisher_ = context_.actors.open_publisher(topic_);
  beast::get_lowest_layer(ws_).expires_never();
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(http::field::server, "happy-dashboard");
  }));
  // Messages are read piecewise and measured here (see on_read), so an
  // oversized one is refused with a reason instead of Beast's bare 1009.
  ws_.read_message_max(0);
  ws_.async_accept(upgrade_,
                   beast::bind_front_handler(&publisher_connection::on_accept, this->shared_from_this()));
}

template <class Stream>
void publisher_connection<Stream>::shut_down() {
  asio::post(strand_, [self = this->shared_from_this()] {
    self->close_with(close_code::going_away, "going away");
  });
}

template <class Stream>
void publisher_connection<Stream>::on_accept(beast::error_code ec) {
  if (ec) return;
  upgrade_ = {};
  accepted_ = true;
  log_info("connect publisher topic=" + topic_ + " peer=" + peer_);
  do_read();
}

template <class Stream>
void publisher_connection<Stream>::do_read() {
  // At most one byte past the limit is ever buffered.
  std::size_t room = context_.settings.limits.max_message_bytes + 1 - buffer_.size();
  ws_.async_read_some(buffer_, room,
                      beast::bind_front_handler(&publisher_connection::on_read, this->shared_from_this()));
}

// Part of a value arrived: once whole, validate it and publish it through the
// connection's actor, which keeps the order.
template <class Stream>
void publisher_connection<Stream>::on_read(beast::error_code ec, std::size_t) {
  if (ec || closing_ || close_when_settled_) return;  // closed by the peer or by us
  auto limit = context_.settings.limits.max_message_bytes;
  if (buffer_.size() > limit)
    return refuse(close_code::message_too_big,
                  "message exceeds limits.max_message_bytes (" + std::to_string(limit) + ")");
  if (!ws_.is_message_done()) return do_read();
  if (!ws_.got_text())
    return refuse(close_code::unsupported_data, "binary frames are not accepted: send JSON as text");
  auto check = check_reading(beast::buffers_to_string(buffer_.data()));
  buffer_.consume(buffer_.size());
  if (!check.ok()) return refuse(close_code::invalid_payload, check.error);
  std::string key;
  if (keyed_) {
    auto keyed = read_keyed_publish(check.value_json);
    if (!keyed.error.empty()) return refuse(close_code::invalid_payload, keyed.error);
    check.value_json = std::move(keyed.value_json);
    key = std::move(keyed.key);
  }
  ++in_flight_;
  auto self = this->shared_from_this();
  publisher_.publish(std::move(check.value_json),
                     on_strand(strand_, [self](publish_result result) { self->on_published(result); }),
                     std::move(key));
  do_read();
}

template <class Stream>
void publisher_connection<Stream>::on_published(publish_result result) {
  using outcome = publish_result::outcome;
  --in_flight_;
  if (result.status == outcome::topic_limit)
    refuse(close_code::policy_violation, "topic limit reached (limits.max_topics)");
  else if (result.status == outcome::storage_unavailable)
    refuse(close_code::try_again_later, "history storage cannot write (disk full?); try again later");
  else if (result.status == outcome::unavailable)
    refuse(close_code::try_again_later,
           "reading not accepted in time (the service is overloaded); try again");
  else if (result.status == outcome::quorum_unavailable)
    refuse(close_code::try_again_later, "no JetStream quorum stored the reading in time; try again");
  else if (ack_)
    send_text(R"({"seq":)" + std::to_string(result.seq) + "}");
  close_if_settled();
}

// Stop reading; close once every earlier value is answered.
template <class Stream>
void publisher_connection<Stream>::refuse(std::uint16_t code, std::string reason) {
  buffer_.consume(buffer_.size());
  if (close_when_settled_ || closing_) return;
  if (code == close_code::invalid_payload || code == close_code::unsupported_data)
    context_.metrics.count_rejection(publish_rejection::invalid_json);
  else if (code == close_code::message_too_big)
    context_.metrics.count_rejection(publish_rejection::too_large);
  else if (code == close_code::policy_violation)
    context_.metrics.count_rejection(publish_rejection::topic_limit);
  if (reason.size() > max_reason_bytes) reason.resize(max_reason_bytes);
  close_when_settled_ =
      websocket::close_reason(static_cast<websocket::close_code>(code), reason);
  close_if_settled();
}

template <class Stream>
void publisher_connection<Stream>::close_if_settled() {
  if (!close_when_settled_ || in_flight_ > 0 || writing_ || !outgoing_.empty()) return;
  auto reason = *close_when_settled_;
  close_with(reason.code, std::string(reason.reason.data(), reason.reason.size()));
}

template <class Stream>
void publisher_connection<Stream>::send_text(std::string text) {
  if (closing_) return;
  outgoing_.push_back(std::move(text));
  if (writing_) return;
  writing_ = true;
  ws_.text(true);
  ws_.async_write(asio::buffer(outgoing_.front()),
                  beast::bind_front_handler(&publisher_connection::on_write, this->shared_from_this()));
}

template <class Stream>
void publisher_connection<Stream>::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  outgoing_.pop_front();
  if (ec || closing_) return;
  if (!outgoing_.empty()) {
    writing_ = true;
    ws_.async_write(asio::buffer(outgoing_.front()),
                    beast::bind_front_handler(&publisher_connection::on_write, this->shared_from_this()));
    return;
  }
  close_if_settled();
}

template <class Stream>
void publisher_connection<Stream>::close_with(std::uint16_t code, std::string reason) {
  if (closing_) return;
  closing_ = true;
  if (reason.size() > max_reason_bytes) reason.resize(max_reason_bytes);
  ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                  [self = this->shared_from_this()](beast::error_code) {});
}

template class publisher_connection<plain_stream>;
template class publisher_connection<tls_stream>;

}  // namespace happy
