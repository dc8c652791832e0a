#include "net/refusal_status.hpp"

namespace happy {

namespace http = boost::beast::http;

http::status http_status_of(access_refusal why) {
  switch (why) {
    case access_refusal::none: return http::status::ok;
    case access_refusal::no_verifier:
    case access_refusal::token_missing:
    case access_refusal::token_invalid: return http::status::unauthorized;
    case access_refusal::not_for_this_topic:
    case access_refusal::publishing_disabled:
    case access_refusal::wrong_publish_token: return http::status::forbidden;
  }
  return http::status::forbidden;
}

http::status http_status_of(reading_refusal why) {
  return why == reading_refusal::none ? http::status::ok : http::status::bad_request;
}

publish_rejection rejection_of(access_refusal why) {
  switch (why) {
    case access_refusal::none:
    case access_refusal::no_verifier:
    case access_refusal::token_missing: return publish_rejection::missing_token;
    case access_refusal::token_invalid: return publish_rejection::invalid_token;
    case access_refusal::not_for_this_topic: return publish_rejection::not_for_this_topic;
    case access_refusal::publishing_disabled: return publish_rejection::publishing_disabled;
    case access_refusal::wrong_publish_token: return publish_rejection::wrong_token;
  }
  return publish_rejection::wrong_token;
}

publish_rejection rejection_of(reading_refusal) { return publish_rejection::invalid_json; }

}  // namespace happy
