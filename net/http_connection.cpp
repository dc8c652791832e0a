#include "net/http_connection.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <chrono>

#include "wire/envelope.hpp"
#include "auth/constant_time.hpp"
#include "log/log.hpp"
#include "net/auth_info_json.hpp"
#include "net/history_json.hpp"
#include "net/refusal_status.hpp"
#include "wire/number_text.hpp"
#include "net/jetstream_metrics.hpp"
#include "net/jetstream_status_json.hpp"
#include "net/on_strand.hpp"
#include "wire/keyed_publish.hpp"
#include "wire/reading_check.hpp"
#include "net/route.hpp"
#include "net/publisher_connection.hpp"
#include "net/stream_connection.hpp"
#include "net/topic_list_json.hpp"
#include "net/websocket_connection.hpp"

namespace happy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

// The head of a request (or the next one on a kept-alive connection) must
// arrive within this, which also ends slowloris clients trickling headers.
constexpr auto head_timeout = std::chrono::seconds(10);
// A body, up to limits.max_message_bytes, gets longer; so does writing a response.
constexpr auto body_timeout = std::chrono::seconds(30);
constexpr auto write_timeout = std::chrono::seconds(30);
// Room for a token of up to 8 KiB (auth/jwt_verifier.hpp) beside the other
// headers, so an oversized token is a 401 from the verifier, not a 431.
constexpr std::size_t max_header_bytes = 16 * 1024;

std::string origin_of(const http_request& request) {
  auto it = request.find(http::field::origin);
  return it == request.end() ? std::string{} : std::string(it->value());
}

// RFC 9112 §6.1 and §6.3: a body is framed by Content-Length or by chunked as
// the final transfer coding. Beast reads any other Transfer-Encoding as "no
// body", so the body would be taken for the next request (smuggling behind a
// proxy that framed it differently): refuse it and close. Likewise a second
// Origin, Host or Authorization, where one reader could take the first and
// another the last.
std::optional<http_response> refuse_framing(const http_request& head) {
  auto refusal = [&](http::status status, std::string why) {
    http_request closing;
    closing.version(head.version());
    closing.keep_alive(false);
    return json_response(closing, status, error_body(std::move(why)), "");
  };
  for (auto field : {http::field::origin, http::field::host, http::field::authorization})
    if (head.count(field) > 1)
      return refusal(http::status::bad_request,
                     "bad request: more than one " + std::string(http::to_string(field)) + " header");
  auto codings = head.find(http::field::transfer_encoding);
  if (codings == head.end()) return std::nullopt;
  if (head.count(http::field::transfer_encoding) > 1)
    return refusal(http::status::bad_request, "bad request: more than one Transfer-Encoding header");
  std::vector<std::string_view> names;
  for (auto name : http::token_list{codings->value()}) names.push_back(name);
  bool chunked_last = !names.empty() && beast::iequals(names.back(), "chunked");
  if (!chunked_last)
    return refusal(http::status::bad_request,
                   "bad request: Transfer-Encoding must end with chunked (RFC 9112 section 6.3)");
  if (names.size() > 1)
    return refusal(http::status::not_implemented,
                   "transfer codings other than chunked are not supported");
  return std::nullopt;
}

}  // namespace

template <class Stream>
http_connection<Stream>::http_connection(Stream&& stream, server_context& context)
    : stream_(std::move(stream)), strand_(stream_.get_executor()), context_(context) {}

template <class Stream>
http_connection<Stream>::~http_connection() {
  context_.connections.remove(this);
}

template <class Stream>
void http_connection<Stream>::run() {
  context_.connections.add(this->shared_from_this(), transport_kind::http);
  boost::system::error_code ec;
  auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
  client_address_ = ec ? "unknown" : endpoint.address().to_string();
  address_slot slot;
  over_address_limit_ = !context_.addresses.try_acquire(client_address_, slot);
  hold_address_slot(std::move(slot));
  // Start on the connection's strand: the socket was accepted on another one.
  asio::dispatch(strand_, [self = this->shared_from_this()] {
    if constexpr (!is_tls_stream<Stream>) {
      self->do_read();
    } else {
      // The handshake shares the request head's deadline: a silent client is cut off.
      beast::get_lowest_layer(self->stream_).expires_after(head_timeout);
      self->stream_.async_handshake(asio::ssl::stream_base::server,
                                    beast::bind_front_handler(&http_connection::on_handshake, self));
    }
  });
}

template <class Stream>
void http_connection<Stream>::on_handshake(beast::error_code ec) {
  if (ec) {
    // Scanners, plain HTTP on the TLS port, clients that distrust the certificate.
    context_.metrics.count_tls_handshake_failure();
    log_debug("TLS handshake failed peer=" + client_address_ + ": " + ec.message());
    return close_connection(stream_);
  }
  do_read();
}

template <class Stream>
void http_connection<Stream>::shut_down() {
  asio::post(strand_, [self = this->shared_from_this()] { self->do_close(); });
}

template <class Stream>
void http_connection<Stream>::do_read() {
  parser_.emplace();
  parser_->header_limit(max_header_bytes);
  parser_->body_limit(context_.settings.limits.max_message_bytes);
  beast::get_lowest_layer(stream_).expires_after(head_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&http_connection::on_head, this->shared_from_this()));
}

template <class Stream>
void http_connection<Stream>::on_head(beast::error_code ec, std::size_t bytes) {
  if (!ec) {
    if (auto refusal = refuse_framing(parser_->get()); refusal) return send(std::move(*refusal));
  }
  if (ec || parser_->is_done()) return on_read(ec, bytes);
  beast::get_lowest_layer(stream_).expires_after(body_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_connection::on_read, this->shared_from_this()));
}

// A request arrived (or the peer left, or it was malformed).
template <class Stream>
void http_connection<Stream>::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
      ec == beast::error::timeout || ec == asio::error::connection_reset)
    return do_close();
  if (ec) {
    // Malformed or oversized request: say so, then drop the connection.
    http_request dummy;
    dummy.version(11);
    dummy.keep_alive(false);
    if (ec == http::error::body_limit) context_.metrics.count_rejection(publish_rejection::too_large);
    auto status = ec == http::error::body_limit ? http::status::payload_too_large
                  : ec == http::error::header_limit ? http::status::request_header_fields_too_large
                                                    : http::status::bad_request;
    return send(json_response(dummy, status, error_body("bad request: " + ec.message()), "*"));
  }
  handle_request(parser_->release());
}

template <class Stream>
void http_connection<Stream>::handle_request(http_request request) {
  std::string allow_origin = context_.allowed_origin(origin_of(request));
  auto answer = [&](http::status status, std::string body) {
    send(json_response(request, status, std::move(body), allow_origin));
  };
  route target = parse_route(request.target());
  auto method = request.method();
  if (over_address_limit_) {
    request.keep_alive(false);
    return answer(http::status::too_many_requests,
                  error_body("too many connections from this address (limits.max_connections_per_ip = " +
                             std::to_string(context_.settings.limits.max_connections_per_ip) + ")"));
  }

  if (method == http::verb::options) {
    http_response res = json_response(request, http::status::no_content, "", allow_origin);
    res.set(http::field::access_control_allow_methods, "GET, HEAD, POST, OPTIONS");
    res.set(http::field::access_control_allow_headers, "Authorization, Content-Type, Last-Event-ID");
    res.set(http::field::access_control_max_age, "86400");
    return send(std::move(res));
  }
  if (target.what == route::kind::not_found) {
    if (method == http::verb::post)
      context_.metrics.count_rejection(publish_rejection::invalid_topic);
    return answer(http::status::not_found,
                  error_body("no such path: " + std::string(request.target().substr(0, 200))));
  }
  bool opens_connection = target.what == route::kind::publisher ||
                          (target.what == route::kind::topic && method != http::verb::post);
  if (context_.draining && (opens_connection || method == http::verb::post))
    return answer(http::status::service_unavailable,
                  error_body("the server is shutting down; reconnect to another instance"));
  bool is_get = method == http::verb::get || method == http::verb::head;
  bool may_post = target.what == route::kind::topic;
  if (!is_get && !(may_post && method == http::verb::post)) {
    http_response res = json_response(
        request, http::status::method_not_allowed,
        error_body("method " + std::string(request.method_string()) + " not allowed on " +
                   std::string(request.target().substr(0, 200))),
        allow_origin);
    res.set(http::field::allow, may_post ? "GET, HEAD, POST, OPTIONS" : "GET, HEAD, OPTIONS");
    return send(std::move(res));
  }
  switch (target.what) {
    case route::kind::bad_request:
      return answer(http::status::bad_request, error_body(target.error));
    case route::kind::health:
      return answer(http::status::ok, R"({"status":"ok"})");
    case route::kind::ready:
      return answer_ready(request, allow_origin);
    case route::kind::metrics:
      return answer_metrics(std::move(request), allow_origin);
    case route::kind::index:
      return serve_asset(request, "index.html");
    case route::kind::asset:
      return serve_asset(request, target.asset);
    case route::kind::not_found:  // answered before the method check
      return;
    case route::kind::topic_list:
      return list_topics(std::move(request), allow_origin, target);
    case route::kind::auth_info:
      return answer(http::status::ok, auth_info_json(context_.settings.auth));
    case route::kind::cluster:
      return answer_cluster(std::move(request), allow_origin);
    case route::kind::publisher:
      return open_publisher(std::move(request), target);
    case route::kind::history:
      if (!admit_reader(request, target)) return;
      return answer_history(std::move(request), target);
    case route::kind::topic: {
      if (method == http::verb::post) return publish(std::move(request), target);
      auto expires_at_ms = admit_reader(request, target);
      if (!expires_at_ms) return;
      if (beast::websocket::is_upgrade(request))
        return upgrade_to_websocket(std::move(request), target, *expires_at_ms);
      return open_stream(std::move(request), target, *expires_at_ms);
    }
  }
}

// GET /readyz: 503 with the reason while this node cannot take publishes.
template <class Stream>
void http_connection<Stream>::answer_ready(const http_request& request, const std::string& allow_origin) {
  auto answer = [&](http::status status, std::string body) {
    send(json_response(request, status, std::move(body), allow_origin));
  };
  if (context_.draining) return answer(http::status::service_unavailable, R"({"status":"draining"})");
  if (auto* nats = context_.actors.jetstream(); nats && !nats->connected())
    return answer(http::status::service_unavailable, status_body("nats unavailable", nats->unavailable_reason()));
  if (auto* nats = context_.actors.jetstream(); nats && !nats->jetstream_answers())
    return answer(http::status::service_unavailable,
                  status_body("jetstream unavailable",
                              "connected to NATS, but JetStream's quorum does not answer (this "
                              "node's servers are cut off from the others?); publishes are refused"));
  if (auto* storage = context_.actors.storage_numbers(); storage && !storage->writable)
    return answer(http::status::service_unavailable,
                  R"({"status":"storage unavailable","reason":"the history file cannot be written (disk full, I/O error, read-only, or locked by another process); publishes are refused"})");
  answer(http::status::ok, R"({"status":"ready"})");
}

// GET /metrics: the Prometheus text, once the hubs have answered.
template <class Stream>
void http_connection<Stream>::answer_metrics(http_request request, const std::string& allow_origin) {
  if (!metrics_reader_admitted(request)) {
    http_response res = json_response(
        request, http::status::unauthorized,
        error_body("/metrics needs 'Authorization: Bearer <token>' with one of metrics.tokens"), allow_origin);
    res.set(http::field::www_authenticate, "Bearer");
    return send(std::move(res));
  }
  auto self = this->shared_from_this();
  auto shared_request = std::make_shared<http_request>(std::move(request));
  context_.actors.collect_stats(on_strand(strand_, [self, shared_request](std::vector<topic_stats> stats) {
    auto& context = self->context_;
    self->send(text_response(
        *shared_request, "text/plain; version=0.0.4; charset=utf-8",
        context.metrics.render(stats, context.connections, context.actors.storage_numbers(),
                               &context.actors.source_numbers()) +
            (context.actors.jetstream() ? jetstream_metrics(*context.actors.jetstream()) : std::string{})));
  }));
}

// GET /cluster: this node and its streams (JetStream), or the embedded log.
template <class Stream>
void http_connection<Stream>::answer_cluster(http_request request, const std::string& allow_origin) {
  if (!context_.actors.jetstream())
    return send(json_response(request, http::status::ok, R"({"enabled":false,"engine":"embedded"})", allow_origin));
  auto answer_json = json_answer_later(std::move(request), allow_origin);
  context_.actors.describe_jetstream([answer_json](std::optional<jetstream_status> status) {
    answer_json(status ? jetstream_status_json(*status) : R"({"error":"JetStream did not answer in time"})");
  });
}

// GET /topics: the open topics and the protected ones the caller's token reads.
template <class Stream>
void http_connection<Stream>::list_topics(http_request request, const std::string& allow_origin,
                                  const route& target) {
  auto caller = context_.access.identify(presented_token(request, target), unix_millis_now());
  if (caller.refused()) {
    access_decision refusal{caller.refusal, caller.token, "the token is not valid", caller.reason, 0};
    return refuse_access(request, refusal, "", "list topics");
  }
  auto answer_json = json_answer_later(std::move(request), allow_origin);
  std::int64_t retention_ms =
      context_.actors.has_storage() ? context_.settings.storage.max_age_ms : 0;
  const access_policy& access = context_.access;
  context_.actors.collect_stats([answer_json, retention_ms, caller = std::move(caller),
                                 &access](std::vector<topic_stats> stats) {
    stats.erase(std::remove_if(stats.begin(), stats.end(),
                               [&](const topic_stats& t) { return !access.may_read(caller, t.name); }),
                stats.end());
    answer_json(topic_list_json(stats, retention_ms));
  });
}

template <class Stream>
std::function<void(std::string)> http_connection<Stream>::json_answer_later(http_request request,
                                                                 std::string allow_origin) {
  auto self = this->shared_from_this();
  auto shared_request = std::make_shared<http_request>(std::move(request));
  return on_strand(
      strand_, [self, shared_request, allow_origin = std::move(allow_origin)](std::string json) {
        self->send(json_response(*shared_request, http::status::ok, std::move(json), allow_origin));
      });
}

// Serves the dashboard page and its assets, revalidated by ETag.
template <class Stream>
void http_connection<Stream>::serve_asset(const http_request& request, const std::string& name) {
  send(asset_response(request, context_.assets.find(name), name,
                      context_.allowed_origin(origin_of(request)), context_.content_security_policy));
}

// POST /topics/<name>: check token and body here, let the actors assign the seq.
template <class Stream>
void http_connection<Stream>::publish(http_request request, const route& target) {
  std::string allow_origin = context_.allowed_origin(origin_of(request));
  if (!admit_publisher(request, target)) return;
  auto check = check_reading(request.body());
  if (!check.ok()) return refuse_publish(request, check);
  std::string key;
  if (auto field = request.find("Idempotency-Key"); field != request.end()) {
    key = std::string(field->value());
    if (!is_valid_idempotency_key(key))
      return send(json_response(request, http::status::bad_request,
                                error_body("Idempotency-Key must be 1 to 128 printable ASCII characters "
                                           "without spaces"),
                                allow_origin));
  }
  auto self = this->shared_from_this();
  auto shared_request = std::make_shared<http_request>(std::move(request));
  std::string topic = target.topic;
  context_.actors.publish(
      topic, std::move(check.value_json),
      on_strand(strand_, [self, shared_request, allow_origin, topic](publish_result result) {
        using outcome = publish_result::outcome;
        if (result.status == outcome::accepted)
          return self->send(json_response(
              *shared_request, http::status::accepted,
              R"({"topic":")" + topic + R"(","seq":)" + std::to_string(result.seq) + "}",
              allow_origin));
        if (result.status == outcome::topic_limit) {
          self->context_.metrics.count_rejection(publish_rejection::topic_limit);
          return self->send(json_response(
              *shared_request, http::status::too_many_requests,
              error_body("topic '" + topic + "' cannot be created: limits.max_topics = " +
                         std::to_string(self->context_.settings.limits.max_topics) + " reached"),
              allow_origin));
        }
        if (result.status == outcome::quorum_unavailable) {
          auto* nats = self->context_.actors.jetstream();
          std::string why = nats && !nats->connected()
                                ? "NATS is unavailable (" + nats->unavailable_reason() + ")"
                                : "no JetStream quorum answered within nats.publish_timeout_ms (NATS "
                                  "servers down or electing a leader)";
          return self->send(json_response(
              *shared_request, http::status::service_unavailable,
              error_body("the reading was not stored: " + why +
                         "; try again, with the same Idempotency-Key to be stored at most once"),
              allow_origin));
        }
        if (result.status == outcome::storage_unavailable)
          return self->send(json_response(
              *shared_request, http::status::service_unavailable,
              error_body("the reading was not stored: the history file cannot be written (disk "
                         "full or I/O error); try again later"),
              allow_origin));
        self->send(json_response(
            *shared_request, http::status::service_unavailable,
            error_body("the reading was not accepted in time (the service is overloaded); try again"),
            allow_origin));
      }),
      std::move(key));
}

// GET /topics/<name>/history: buckets computed by the history reader.
template <class Stream>
void http_connection<Stream>::answer_history(http_request request, const route& target) {
  std::string allow_origin = context_.allowed_origin(origin_of(request));
  if (!context_.actors.has_storage())
    return send(json_response(
        request, http::status::not_found,
        error_body("no stored history: this server keeps history in memory only "
                   "(set storage.path, README \"Storage\")"),
        allow_origin));
  std::int64_t to = target.to_ms ? target.to_ms : unix_millis_now();
  std::int64_t from = target.from_ms ? target.from_ms : to - 3600 * 1000;
  if (from >= to)
    return send(json_response(request, http::status::bad_request,
                              error_body("'from' must be before 'to'"), allow_origin));
  auto self = this->shared_from_this();
  auto shared_request = std::make_shared<http_request>(std::move(request));
  context_.actors.history(
      target.topic, from, to, target.points,
      on_strand(strand_, [self, shared_request, allow_origin](std::optional<history_series> series) {
        if (!series)
          return self->send(json_response(*shared_request, http::status::service_unavailable,
                                          error_body("the history file did not answer in time; try again"),
                                          allow_origin));
        self->send(json_response(*shared_request, http::status::ok, history_json(*series),
                                 allow_origin));
      }));
}

// GET /topics/<name>/publish: token and Origin are checked before the upgrade.
template <class Stream>
void http_connection<Stream>::open_publisher(http_request request, const route& target) {
  if (!admit_connection(request)) return;
  if (!beast::websocket::is_upgrade(request))
    return send(json_response(request, http::status::upgrade_required,
                              error_body("a publisher connects with a WebSocket upgrade; "
                                         "to publish one value, POST /topics/" + target.topic),
                              context_.allowed_origin(origin_of(request))));
  auto expires_at_ms = admit_publisher(request, target);
  if (!expires_at_ms) return;
  upgraded_ = true;
  context_.connections.remove(this);
  auto publisher = std::make_shared<publisher_connection<Stream>>(std::move(stream_), std::move(request),
                                                       target.topic, target.ack, target.keyed,
                                                       context_);
  publisher->hold_address_slot(take_address_slot());
  publisher->run(*expires_at_ms);
}

// A plain GET on a topic: SSE, long-poll or the NDJSON stream, by Accept and ?poll.
template <class Stream>
void http_connection<Stream>::open_stream(http_request request, route target, std::int64_t expires_at_ms) {
  if (!admit_connection(request)) return;
  auto accept_header = request.find(http::field::accept);
  std::string_view accepts =
      accept_header == request.end() ? std::string_view{} : std::string_view(accept_header->value());
  auto kind = stream_format::ndjson;
  if (target.poll)
    kind = stream_format::poll;
  else if (accepts.find("text/event-stream") != std::string_view::npos)
    kind = stream_format::sse;
  else if (accepts.find("text/html") != std::string_view::npos)
    kind = stream_format::ndjson_as_text;
  // EventSource reconnects with Last-Event-ID: resume after it unless the URL says otherwise.
  auto last_event_id = request.find("Last-Event-ID");
  if (kind == stream_format::sse && target.replay.kind == replay_request::mode::none &&
      last_event_id != request.end())
    if (auto last_seen = parse_unsigned(last_event_id->value())) target.replay = replay_request::since(*last_seen);
  std::string reader_token(presented_token(request, target));
  upgraded_ = true;
  context_.connections.remove(this);
  auto stream = std::make_shared<stream_connection<Stream>>(std::move(stream_), std::move(request), kind,
                                                 std::chrono::seconds(target.poll_timeout_s),
                                                 context_);
  stream->hold_address_slot(take_address_slot());
  stream->start(target.topic, target.replay, expires_at_ms, std::move(reader_token));
}

template <class Stream>
void http_connection<Stream>::upgrade_to_websocket(http_request request, const route& target,
                                           std::int64_t expires_at_ms) {
  if (!admit_connection(request)) return;
  // The WebSocket connection takes over the socket; this object ends here.
  upgraded_ = true;
  context_.connections.remove(this);
  // Bytes the client sent right behind its request belong to the WebSocket.
  std::string early_bytes = beast::buffers_to_string(buffer_.data());
  auto ws = std::make_shared<websocket_connection>(std::move(stream_), request,
                                                std::move(early_bytes), context_);
  ws->hold_address_slot(take_address_slot());
  ws->start(target.topic, target.replay, expires_at_ms,
            std::string(presented_token(request, target)));
}

// Origin and max_connections, checked before any upgrade or stream; answers
// the refusal itself and returns false.
template <class Stream>
bool http_connection<Stream>::admit_connection(const http_request& request) {
  std::string origin = origin_of(request);
  auto host = request.find(http::field::host);
  if (!context_.origin_allowed(origin, host == request.end() ? std::string_view{}
                                                             : std::string_view(host->value()))) {
    send(json_response(request, http::status::forbidden,
                       error_body("origin '" + origin + "' is not allowed"), ""));
    return false;
  }
  if (context_.connections.size() > context_.settings.limits.max_connections) {
    send(json_response(request, http::status::service_unavailable,
                       error_body("too many connections"), context_.allowed_origin(origin)));
    return false;
  }
  return true;
}

// metrics.tokens set: the scraper must present one (Prometheus: `authorization`).
template <class Stream>
bool http_connection<Stream>::metrics_reader_admitted(const http_request& request) const {
  const auto& tokens = context_.settings.metrics_tokens;
  if (tokens.empty()) return true;
  auto authorization = request.find(http::field::authorization);
  auto token = find_presented_token(
      authorization == request.end() ? std::string_view{} : std::string_view(authorization->value()),
      {}, {}, {});
  bool match = false;
  for (const auto& candidate : tokens) match |= !token.empty() && equal_in_constant_time(token, candidate);
  return match;
}

template <class Stream>
std::string_view http_connection<Stream>::presented_token(const http_request& request,
                                                  const route& target) const {
  auto field = [&](http::field name) {
    auto it = request.find(name);
    return it == request.end() ? std::string_view{} : std::string_view(it->value());
  };
  bool cookie_counts = context_.cookie_origin_trusted(origin_of(request), field(http::field::host));
  return find_presented_token(field(http::field::authorization), target.token,
                              cookie_counts ? field(http::field::cookie) : std::string_view{},
                              context_.access.cookie_name());
}

template <class Stream>
std::optional<std::int64_t> http_connection<Stream>::admit_reader(const http_request& request,
                                                          const route& target) {
  auto decision = context_.access.check_read(target.topic, presented_token(request, target),
                                             unix_millis_now());
  if (!decision.allowed()) {
    refuse_access(request, decision, target.topic, "read");
    return std::nullopt;
  }
  return decision.expires_at_ms;
}

template <class Stream>
std::optional<std::int64_t> http_connection<Stream>::admit_publisher(const http_request& request,
                                                             const route& target) {
  // Publishers send tokens in the header or the query, never by cookie: a
  // cookie would let any page the browser visits publish in its name.
  auto authorization = request.find(http::field::authorization);
  auto token = find_presented_token(
      authorization == request.end() ? std::string_view{} : std::string_view(authorization->value()),
      target.token, {}, {});
  auto decision = context_.access.check_publish(target.topic, token, unix_millis_now());
  if (!decision.allowed()) {
    context_.metrics.count_rejection(rejection_of(decision.refusal));
    refuse_access(request, decision, target.topic, "publish");
    return std::nullopt;
  }
  return decision.expires_at_ms;
}

// 401/403: the log says why (never the token), the client gets the generic answer.
template <class Stream>
void http_connection<Stream>::refuse_access(const http_request& request, const access_decision& decision,
                                    const std::string& topic, const char* action) {
  auto status = http_status_of(decision.refusal);
  log_info(std::string("refused ") + action + (topic.empty() ? "" : " topic=" + topic) +
           " peer=" + client_address_ + " reason=" + name_of(decision.refusal) +
           (decision.token != token_refusal::none ? std::string("/") + name_of(decision.token) : std::string()) +
           " status=" + std::to_string(static_cast<unsigned>(status)) + ": " + decision.reason);
  http_response res = json_response(request, status, error_body(decision.answer),
                                    context_.allowed_origin(origin_of(request)));
  if (status == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer");
  send(std::move(res));
}

template <class Stream>
void http_connection<Stream>::refuse_publish(const http_request& request, const reading_check& check) {
  context_.metrics.count_rejection(rejection_of(check.refusal));
  send(json_response(request, http_status_of(check.refusal), error_body(check.error),
                     context_.allowed_origin(origin_of(request))));
}

template <class Stream>
void http_connection<Stream>::send(http_response response) {
  if (context_.draining) response.keep_alive(false);  // let clients move elsewhere
  if (!context_.strict_transport_security.empty())
    response.set(http::field::strict_transport_security, context_.strict_transport_security);
  pending_response_ = std::make_shared<http_response>(std::move(response));
  bool keep_alive = pending_response_->keep_alive();
  // The head's deadline may be nearly used up (answers from actors take a moment).
  beast::get_lowest_layer(stream_).expires_after(write_timeout);
  http::async_write(stream_, *pending_response_,
                    beast::bind_front_handler(&http_connection::on_write, this->shared_from_this(),
                                              keep_alive));
}

template <class Stream>
void http_connection<Stream>::on_write(bool keep_alive, beast::error_code ec, std::size_t) {
  pending_response_.reset();
  if (ec || !keep_alive) return do_close();
  do_read();
}

template <class Stream>
void http_connection<Stream>::do_close() {
  if (upgraded_) return;
  if constexpr (is_tls_stream<Stream>) {
    // close_notify first, so clients see a clean end rather than a truncation;
    // bounded, since the peer may never answer it.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
      close_connection(self->stream_);
    });
  } else {
    beast::error_code ec;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    stream_.close();
  }
}

template class http_connection<plain_stream>;
template class http_connection<tls_stream>;

}  // namespace happy
