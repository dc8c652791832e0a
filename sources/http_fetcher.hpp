#pragma once

// GETs an http source's URL once (README "Sources"): the configured headers,
// the whole exchange (resolve, connect, TLS, request, answer) bounded by
// `timeout`, the body bounded too. https verifies the server's certificate
// and name against the system's CAs (OpenSSL's default paths, so
// SSL_CERT_FILE names another bundle). Blocks the calling thread until the
// answer, the timeout or `stop`.

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <string>
#include <variant>

#include "config/config.hpp"
#include "sources/source_outcome.hpp"
#include "sources/stop_signal.hpp"

namespace happy {

// Bodies above this are refused as too_large (a reading is much smaller;
// this only bounds what a wrong URL can make the service hold).
inline constexpr std::size_t max_http_source_body_bytes = 4 * 1024 * 1024;

class http_fetcher {
 public:
  http_fetcher();

  // The body of a 200 answer, or why there is none.
  std::variant<std::string, source_outcome> get(const http_source& source,
                                                std::chrono::milliseconds timeout,
                                                const stop_signal& stop);

 private:
  boost::asio::ssl::context tls_;
};

// The reading a fetched body gives by the source's rule: the value at
// json_pointer, the Prometheus sample, or the whole body as one JSON value.
source_outcome reading_from_body(const http_source& source, const std::string& body,
                                 std::size_t max_reading_bytes);

}  // namespace happy
