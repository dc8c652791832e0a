#pragma once

// Small builders for the JSON responses every handler sends.

#include <boost/beast/http.hpp>

#include <string>

namespace happy {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// A complete response with a JSON body, the request's keep-alive and CORS.
http_response json_response(const http_request& request, boost::beast::http::status status,
                            std::string body, const std::string& allow_origin);

// {"error": message} as JSON text.
std::string error_body(const std::string& message);

}  // namespace happy
