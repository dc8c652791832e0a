#include "net/publisher_session.hpp"

#include "net/publish_request.hpp"

namespace happy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {
constexpr std::uint16_t unsupported_data = 1003;
constexpr std::uint16_t invalid_payload = 1007;
constexpr std::uint16_t policy_violation = 1008;
constexpr std::size_t max_reason_bytes = 120;  // a close reason must fit in 123 bytes
}  // namespace

publisher_session::publisher_session(beast::tcp_stream&& stream, http_request upgrade,
                                     std::string topic, bool ack, server_context& context)
    : ws_(std::move(stream)),
      strand_(ws_.get_executor()),
      upgrade_(std::move(upgrade)),
      topic_(std::move(topic)),
      ack_(ack),
      context_(context) {}

publisher_session::~publisher_session() {
  context_.connections.remove(this);
  publisher_.close();
}

void publisher_session::run() {
  context_.connections.add(shared_from_this());
  publisher_ = context_.actors.open_publisher(topic_);
  beast::get_lowest_layer(ws_).expires_never();
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(http::field::server, "happy-dashboard");
  }));
  // Beast closes with 1009 itself when a message exceeds this.
  ws_.read_message_max(context_.settings.limits.max_message_bytes);
  ws_.async_accept(upgrade_,
                   beast::bind_front_handler(&publisher_session::on_accept, shared_from_this()));
}

void publisher_session::shut_down() {
  asio::post(strand_, [self = shared_from_this()] {
    self->close_with(static_cast<std::uint16_t>(websocket::close_code::going_away), "going away");
  });
}

void publisher_session::on_accept(beast::error_code ec) {
  if (ec) return;
  upgrade_ = {};
  do_read();
}

void publisher_session::do_read() {
  ws_.async_read(buffer_,
                 beast::bind_front_handler(&publisher_session::on_read, shared_from_this()));
}

// One value arrived: validate it here, publish through the connection's actor.
void publisher_session::on_read(beast::error_code ec, std::size_t) {
  if (ec) return;  // closed (by the peer, by Beast for 1009, or by us)
  if (closing_) return;
  if (!ws_.got_text()) {
    buffer_.consume(buffer_.size());
    return close_with(unsupported_data, "binary frames are not accepted: send JSON as text");
  }
  auto check = check_publish_body(beast::buffers_to_string(buffer_.data()));
  buffer_.consume(buffer_.size());
  if (check.status != 0) return close_with(invalid_payload, check.error);
  auto self = shared_from_this();
  publisher_.publish(std::move(check.value_json), [self](publish_result result) {
    asio::post(self->strand_, [self, result] { self->on_published(result); });
  });
  do_read();
}

void publisher_session::on_published(publish_result result) {
  using outcome = publish_result::outcome;
  if (result.status == outcome::topic_limit)
    return close_with(policy_violation, "topic limit reached (limits.max_topics)");
  if (result.status == outcome::unavailable)
    return close_with(static_cast<std::uint16_t>(websocket::close_code::try_again_later),
                      "service unavailable");
  if (ack_) send_text(R"({"seq":)" + std::to_string(result.seq) + "}");
}

void publisher_session::send_text(std::string text) {
  if (closing_) return;
  outgoing_.push_back(std::move(text));
  if (writing_) return;
  writing_ = true;
  ws_.text(true);
  ws_.async_write(asio::buffer(outgoing_.front()),
                  beast::bind_front_handler(&publisher_session::on_write, shared_from_this()));
}

void publisher_session::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  outgoing_.pop_front();
  if (ec || closing_) return;
  if (!outgoing_.empty()) {
    writing_ = true;
    ws_.async_write(asio::buffer(outgoing_.front()),
                    beast::bind_front_handler(&publisher_session::on_write, shared_from_this()));
  }
}

void publisher_session::close_with(std::uint16_t code, std::string reason) {
  if (closing_) return;
  closing_ = true;
  if (reason.size() > max_reason_bytes) reason.resize(max_reason_bytes);
  ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                  [self = shared_from_this()](beast::error_code) {});
}

}  // namespace happy
