#include "auth/refusal.hpp"

namespace happy {

const char* name_of(token_refusal why) {
  switch (why) {
    case token_refusal::none: return "none";
    case token_refusal::too_long: return "too_long";
    case token_refusal::malformed: return "malformed";
    case token_refusal::bad_signature: return "bad_signature";
    case token_refusal::wrong_algorithm: return "wrong_algorithm";
    case token_refusal::bad_claims: return "bad_claims";
    case token_refusal::expired: return "expired";
    case token_refusal::not_yet_valid: return "not_yet_valid";
    case token_refusal::wrong_audience: return "wrong_audience";
    case token_refusal::wrong_issuer: return "wrong_issuer";
  }
  return "unknown";
}

const char* name_of(access_refusal why) {
  switch (why) {
    case access_refusal::none: return "none";
    case access_refusal::no_verifier: return "no_verifier";
    case access_refusal::token_missing: return "token_missing";
    case access_refusal::token_invalid: return "token_invalid";
    case access_refusal::not_for_this_topic: return "not_for_this_topic";
    case access_refusal::publishing_disabled: return "publishing_disabled";
    case access_refusal::wrong_publish_token: return "wrong_publish_token";
  }
  return "unknown";
}

}  // namespace happy
