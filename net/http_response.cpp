#include "net/http_response.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace happy {

namespace http = boost::beast::http;

http_response json_response(const http_request& request, http::status status, std::string body,
                            const std::string& allow_origin) {
  http_response res{status, request.version()};
  res.set(http::field::server, "happy-dashboard");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  if (!allow_origin.empty()) {
    res.set(http::field::access_control_allow_origin, allow_origin);
    res.set(http::field::vary, "Origin");
  }
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string error_body(const std::string& message) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("error");
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return buffer.GetString();
}

}  // namespace happy
