#pragma once

// One HTTP connection, plain or TLS (Stream: net/connection_stream.hpp): reads
// requests, answers the JSON endpoints, and hands a topic's WebSocket upgrade,
// stream or publisher to the connection class that serves it.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <functional>
#include <memory>
#include <optional>

#include "net/connection_stream.hpp"
#include "net/connection_tracker.hpp"
#include "net/http_response.hpp"
#include "net/server_context.hpp"

namespace happy {

template <class Stream>
class http_connection : public tracked_connection,
                        public std::enable_shared_from_this<http_connection<Stream>> {
 public:
  http_connection(Stream&& stream, server_context& context);
  ~http_connection() override;

  void run();
  void shut_down() override;

 private:
  void on_handshake(boost::beast::error_code ec);
  void do_read();
  void on_head(boost::beast::error_code ec, std::size_t bytes);
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void handle_request(http_request request);
  void upgrade_to_websocket(http_request request, const struct route& target, std::int64_t expires_at_ms);
  void answer_history(http_request request, const struct route& target);
  void open_publisher(http_request request, const struct route& target);
  void open_stream(http_request request, struct route target, std::int64_t expires_at_ms);
  void answer_ready(const http_request& request, const std::string& allow_origin);
  void answer_metrics(http_request request, const std::string& allow_origin);
  void answer_cluster(http_request request, const std::string& allow_origin);
  void list_topics(http_request request, const std::string& allow_origin, const struct route& target);
  void serve_asset(const http_request& request, const std::string& name);
  void publish(http_request request, const struct route& target);
  bool admit_connection(const http_request& request);
  bool metrics_reader_admitted(const http_request& request) const;
  std::string_view presented_token(const http_request& request, const struct route& target) const;
  // Reading a topic (any transport, history): answers 401/403 itself and
  // returns nullopt; otherwise when the admitting token expires (0: never).
  std::optional<std::int64_t> admit_reader(const http_request& request, const struct route& target);
  std::optional<std::int64_t> admit_publisher(const http_request& request, const struct route& target);
  void refuse_access(const http_request& request, const struct access_decision& decision,
                     const std::string& topic, const char* action);
  void refuse_publish(const http_request& request, const struct reading_check& check);
  void send(http_response response);
  // A callback for the actors: called on an actor thread with a JSON body, it
  // answers `request` with 200 from the connection's strand.
  std::function<void(std::string)> json_answer_later(http_request request,
                                                     std::string allow_origin);
  void on_write(bool keep_alive, boost::beast::error_code ec, std::size_t bytes);
  void do_close();

  Stream stream_;
  boost::asio::any_io_executor strand_;  // copied: stream_ is gone after an upgrade
  bool upgraded_ = false;
  bool over_address_limit_ = false;  // limits.max_connections_per_ip: every request gets 429
  std::string client_address_;
  boost::beast::flat_buffer buffer_;
  server_context& context_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<http_response> pending_response_;  // kept alive until written
};

extern template class http_connection<plain_stream>;
extern template class http_connection<tls_stream>;

}  // namespace happy
