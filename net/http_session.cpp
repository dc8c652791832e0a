#include "net/http_session.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <chrono>

#include "log/log.hpp"
#include "net/route.hpp"
#include "net/websocket_session.hpp"

namespace happy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

constexpr auto request_timeout = std::chrono::seconds(30);
constexpr std::size_t max_header_bytes = 8 * 1024;

std::string origin_of(const http_request& request) {
  auto it = request.find(http::field::origin);
  return it == request.end() ? std::string{} : std::string(it->value());
}

}  // namespace

http_session::http_session(asio::ip::tcp::socket&& socket, server_context& context)
    : stream_(std::move(socket)), strand_(stream_.get_executor()), context_(context) {}

http_session::~http_session() { context_.connections.remove(this); }

void http_session::run() {
  context_.connections.add(shared_from_this());
  // Start on the connection's strand: the socket was accepted on another one.
  asio::dispatch(strand_,
                 beast::bind_front_handler(&http_session::do_read, shared_from_this()));
}

void http_session::shut_down() {
  asio::post(strand_, [self = shared_from_this()] { self->do_close(); });
}

void http_session::do_read() {
  parser_.emplace();
  parser_->header_limit(max_header_bytes);
  parser_->body_limit(context_.settings.limits.max_message_bytes);
  stream_.expires_after(request_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

// A request arrived (or the peer left, or it was malformed).
void http_session::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
      ec == beast::error::timeout || ec == asio::error::connection_reset)
    return do_close();
  if (ec) {
    // Malformed or oversized request: say so, then drop the connection.
    http_request dummy;
    dummy.version(11);
    dummy.keep_alive(false);
    auto status = ec == http::error::body_limit ? http::status::payload_too_large
                  : ec == http::error::header_limit ? http::status::request_header_fields_too_large
                                                    : http::status::bad_request;
    return send(json_response(dummy, status, error_body("bad request: " + ec.message()), "*"));
  }
  handle_request(parser_->release());
}

void http_session::handle_request(http_request request) {
  std::string allow_origin = context_.allowed_origin(origin_of(request));
  auto answer = [&](http::status status, std::string body) {
    send(json_response(request, status, std::move(body), allow_origin));
  };
  route target = parse_route(request.target());

  if (request.method() == http::verb::options) {
    http_response res = json_response(request, http::status::no_content, "", allow_origin);
    res.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
    res.set(http::field::access_control_allow_headers, "Authorization, Content-Type, Last-Event-ID");
    res.set(http::field::access_control_max_age, "86400");
    return send(std::move(res));
  }
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    http_response res = json_response(
        request, http::status::method_not_allowed,
        error_body("method " + std::string(request.method_string()) + " not allowed here"),
        allow_origin);
    res.set(http::field::allow, "GET, HEAD, OPTIONS");
    return send(std::move(res));
  }
  switch (target.what) {
    case route::kind::bad_request:
      return answer(http::status::bad_request, error_body(target.error));
    case route::kind::health:
      return answer(http::status::ok, R"({"status":"ok"})");
    case route::kind::index:
      return answer(http::status::ok,
                    R"({"service":"happy-dashboard","topics":"/topics","subscribe":"/topics/<name>"})");
    case route::kind::not_found:
      return answer(http::status::not_found,
                    error_body("no such path: " + std::string(request.target().substr(0, 200))));
    case route::kind::topic_list: {
      auto self = shared_from_this();
      auto shared_request = std::make_shared<http_request>(std::move(request));
      context_.actors.list_topics([self, shared_request, allow_origin](std::string json) {
        // Called on an actor thread: hop back onto the connection's strand.
        asio::post(self->strand_, [self, shared_request, allow_origin,
                                                  json = std::move(json)]() mutable {
          self->send(json_response(*shared_request, http::status::ok, std::move(json),
                                   allow_origin));
        });
      });
      return;
    }
    case route::kind::topic_stream:
      if (beast::websocket::is_upgrade(request)) return upgrade_to_websocket(std::move(request), target);
      return answer(http::status::upgrade_required,
                    error_body("GET /topics/" + target.topic +
                               " needs a WebSocket upgrade (new WebSocket(\"ws://HOST/" +
                               target.topic + "\"))"));
  }
}

void http_session::upgrade_to_websocket(http_request request, const route& target) {
  std::string origin = origin_of(request);
  std::string allow_origin = context_.allowed_origin(origin);
  if (allow_origin.empty()) {
    return send(json_response(request, http::status::forbidden,
                              error_body("origin '" + origin + "' is not allowed"), ""));
  }
  if (context_.connections.size() > context_.settings.limits.max_connections) {
    return send(json_response(request, http::status::service_unavailable,
                              error_body("too many connections"), allow_origin));
  }
  // The WebSocket session takes over the socket; this object ends here.
  upgraded_ = true;
  context_.connections.remove(this);
  auto ws = std::make_shared<websocket_session>(std::move(stream_), std::move(request), context_);
  ws->start(target.topic, target.replay);
}

void http_session::send(http_response response) {
  pending_response_ = std::make_shared<http_response>(std::move(response));
  bool keep_alive = pending_response_->keep_alive();
  http::async_write(stream_, *pending_response_,
                    beast::bind_front_handler(&http_session::on_write, shared_from_this(),
                                              keep_alive));
}

void http_session::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  pending_response_.reset();
  if (ec || !keep_alive) return do_close();
  do_read();
}

void http_session::do_close() {
  if (upgraded_) return;
  beast::error_code ec;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  stream_.close();
}

}  // namespace happy
