#include "sources/http_fetcher.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/version.hpp>
#include <boost/url/parse.hpp>
#include <openssl/ssl.h>
#include <fcntl.h>
#include <unistd.h>

#include <optional>

#include "sources/prometheus_text.hpp"
#include "sources/reading_text.hpp"

namespace happy {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

struct target {
  bool tls = false;
  std::string host;  // without brackets for IPv6 literals
  std::string port;
  std::string host_header;
  std::string path_and_query;
};

std::optional<target> target_of(const std::string& url_text) {
  auto url = boost::urls::parse_uri(url_text);
  if (!url) return std::nullopt;
  target out;
  std::string scheme(url->scheme());
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out.tls = scheme == "https";
  out.host = url->host_address();
  out.port = url->has_port() ? std::string(url->port()) : (out.tls ? "443" : "80");
  out.host_header = std::string(url->encoded_host_and_port());
  out.path_and_query = std::string(url->encoded_path());
  if (out.path_and_query.empty()) out.path_and_query = "/";
  if (url->has_query()) out.path_and_query += "?" + std::string(url->encoded_query());
  return out;
}

// One GET, driven by asynchronous operations on a private io_context so a
// single deadline covers every step; run_for returns at the deadline and the
// socket is closed, which ends whatever was still pending.
class exchange {
 public:
  exchange(asio::ssl::context& tls, const target& where, const http_source& source,
           const stop_signal& stop)
      : where_(where), resolver_(io_), plain_(io_), secure_(io_, tls), stop_(io_) {
    // A copy of the descriptor: the stream_descriptor closes what it holds.
    // Without one (no descriptor left) the run still ends at its timeout.
    int copy = stop.fd() >= 0 ? ::fcntl(stop.fd(), F_DUPFD_CLOEXEC, 0) : -1;
    error_code not_assigned;
    if (copy >= 0) stop_.assign(copy, not_assigned);
    if (not_assigned) ::close(copy);
    request_.method(http::verb::get);
    request_.target(where.path_and_query);
    request_.version(11);
    request_.set(http::field::host, where.host_header);
    request_.set(http::field::user_agent, "happy-dashboard source");
    request_.set(http::field::accept, source.prometheus_metric.empty()
                                          ? "application/json"
                                          : "text/plain;version=0.0.4");
    request_.set(http::field::connection, "close");
    for (const auto& [name, value] : source.headers) request_.set(name, value);
    parser_.body_limit(max_http_source_body_bytes);
    parser_.header_limit(64 * 1024);
  }

  std::variant<std::string, source_outcome> run(std::chrono::milliseconds timeout) {
    if (stop_.is_open())
      stop_.async_wait(asio::posix::descriptor_base::wait_read, [this](error_code ec) {
        if (!ec) fail(source_failure::stopped, "the source stopped", {});
      });
    resolver_.async_resolve(where_.host, where_.port,
                            [this](error_code ec, const tcp::resolver::results_type& found) {
                              if (ec) return fail(source_failure::connection, "cannot resolve", ec);
                              connect(found);
                            });
    io_.run_for(timeout);
    bool stopped = failure_ && failure_->failure == source_failure::stopped;
    if (!done_ || stopped) {
      resolver_.cancel();
      beast::get_lowest_layer(secure_).close();
      plain_.close();
      stop_.close();
      io_.restart();
      io_.run();
      if (stopped) return *failure_;
      return source_outcome::failed(source_failure::timeout,
                                    "no answer within " + std::to_string(timeout.count()) + " ms");
    }
    if (failure_) return *failure_;
    const auto& answer = parser_.get();
    if (answer.result() != http::status::ok)
      return source_outcome::failed(source_failure::http_status,
                                    "answered " + std::to_string(answer.result_int()) + " " +
                                        std::string(answer.reason()));
    return answer.body();
  }

 private:
  void connect(const tcp::resolver::results_type& found) {
    auto& socket = where_.tls ? beast::get_lowest_layer(secure_) : plain_;
    socket.async_connect(found, [this](error_code ec, const tcp::endpoint&) {
      if (ec) return fail(source_failure::connection, "cannot connect", ec);
      if (!where_.tls) return exchange_over(plain_);
      // SNI (for names only: RFC 6066 has no IP literals there) and the name
      // or address the certificate must carry.
      error_code not_an_address;
      asio::ip::make_address(where_.host, not_an_address);
      if (not_an_address) SSL_set_tlsext_host_name(secure_.native_handle(), where_.host.c_str());
      secure_.set_verify_callback(asio::ssl::host_name_verification(where_.host));
      secure_.async_handshake(asio::ssl::stream_base::client, [this](error_code ec) {
        if (ec) return fail(source_failure::connection, "TLS handshake failed", ec);
        exchange_over(secure_);
      });
    });
  }

  template <class Stream>
  void exchange_over(Stream& stream) {
    http::async_write(stream, request_, [this, &stream](error_code ec, std::size_t) {
      if (ec) return fail(source_failure::connection, "cannot send the request", ec);
      http::async_read(stream, buffer_, parser_, [this](error_code ec, std::size_t) {
        if (ec == http::error::body_limit)
          return fail(source_failure::too_large,
                      "the body is over " + std::to_string(max_http_source_body_bytes) + " bytes",
                      {});
        if (ec) return fail(source_failure::connection, "cannot read the answer", ec);
        if (done_) return;
        done_ = true;
        io_.stop();
      });
    });
  }

  void fail(source_failure why, const std::string& what, error_code ec) {
    if (done_) return;  // the stop and an answer both ready in one run
    failure_ = source_outcome::failed(why, ec ? what + ": " + ec.message() : what);
    done_ = true;
    io_.stop();
  }

  const target& where_;
  asio::io_context io_;
  tcp::resolver resolver_;
  beast::tcp_stream plain_;
  beast::ssl_stream<beast::tcp_stream> secure_;
  asio::posix::stream_descriptor stop_;
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  bool done_ = false;
  std::optional<source_outcome> failure_;
};

}  // namespace

http_fetcher::http_fetcher() : tls_(asio::ssl::context::tls_client) {
  tls_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  tls_.set_default_verify_paths();
  tls_.set_verify_mode(asio::ssl::verify_peer);
}

std::variant<std::string, source_outcome> http_fetcher::get(const http_source& source,
                                                            std::chrono::milliseconds timeout,
                                                            const stop_signal& stop) {
  if (stop.raised()) return source_outcome::failed(source_failure::stopped, "the source stopped");
  auto where = target_of(source.url);
  if (!where) return source_outcome::failed(source_failure::start, "cannot parse the URL");
  exchange one(tls_, *where, source, stop);
  return one.run(timeout);
}

source_outcome reading_from_body(const http_source& source, const std::string& body,
                                 std::size_t max_reading_bytes) {
  if (!source.prometheus_metric.empty())
    return prometheus_sample(body, source.prometheus_metric, source.prometheus_labels);
  if (source.json_pointer) return reading_at_pointer(body, *source.json_pointer, max_reading_bytes);
  return reading_from_text(body, max_reading_bytes);
}

}  // namespace happy
