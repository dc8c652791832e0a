#pragma once

// Small builders for the responses the handlers send.

#include <boost/beast/http.hpp>

#include <optional>
#include <string>

#include "net/web_assets.hpp"

namespace happy {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// A complete response with a JSON body, the request's keep-alive and CORS.
http_response json_response(const http_request& request, boost::beast::http::status status,
                            std::string body, const std::string& allow_origin);

// A complete, uncached response of another type (e.g. Prometheus text).
http_response text_response(const http_request& request, const std::string& content_type,
                            std::string body);

// The page or one of its assets (404 JSON when `asset` is empty): ETag with
// Cache-Control: no-cache, 304 on a matching If-None-Match, no body for HEAD;
// with the security headers (CSP, nosniff, Referrer-Policy).
http_response asset_response(const http_request& request, const std::optional<web_asset>& asset,
                             const std::string& name, const std::string& allow_origin,
                             const std::string& content_security_policy);

// {"error": message} as JSON text.
std::string error_body(const std::string& message);
// {"status":…,"reason":…}, as /readyz answers when not ready.
std::string status_body(const std::string& status, const std::string& reason);

}  // namespace happy
