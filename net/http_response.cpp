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
  res.set("X-Content-Type-Options", "nosniff");
  if (!allow_origin.empty()) {
    res.set(http::field::access_control_allow_origin, allow_origin);
    res.set(http::field::vary, "Origin");
  }
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http_response text_response(const http_request& request, const std::string& content_type,
                            std::string body) {
  http_response res{http::status::ok, request.version()};
  res.set(http::field::server, "happy-dashboard");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http_response asset_response(const http_request& request, const std::optional<web_asset>& asset,
                             const std::string& name, const std::string& allow_origin,
                             const std::string& content_security_policy) {
  if (!asset)
    return json_response(request, http::status::not_found,
                         error_body("no such asset: " + name.substr(0, 100)), allow_origin);
  http_response res{http::status::ok, request.version()};
  res.set(http::field::server, "happy-dashboard");
  res.set(http::field::etag, asset->etag);
  // File names carry no content hash, so browsers must revalidate (cheap: 304).
  res.set(http::field::cache_control, "no-cache");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Content-Security-Policy", content_security_policy);
  // Page URLs may carry ?token=: never hand them on to other sites.
  res.set("Referrer-Policy", "no-referrer");
  if (!allow_origin.empty()) res.set(http::field::access_control_allow_origin, allow_origin);
  res.keep_alive(request.keep_alive());
  auto if_none_match = request.find(http::field::if_none_match);
  if (if_none_match != request.end() && if_none_match->value() == asset->etag) {
    res.result(http::status::not_modified);
    return res;
  }
  res.set(http::field::content_type, asset->content_type);
  res.body() = *asset->body;
  res.prepare_payload();
  if (request.method() == http::verb::head) res.body().clear();  // length stays announced
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

std::string status_body(const std::string& status, const std::string& reason) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("status");
  w.String(status.c_str(), static_cast<rapidjson::SizeType>(status.size()));
  w.Key("reason");
  w.String(reason.c_str(), static_cast<rapidjson::SizeType>(reason.size()));
  w.EndObject();
  return buffer.GetString();
}

}  // namespace happy
