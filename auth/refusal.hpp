#pragma once

// Why auth/ refused a token or a request, as reasons, not HTTP statuses:
// net/refusal_status turns each into its status (401, 403) in one place,
// and /metrics counts refused publishes by these reasons.

#include <cstdint>

namespace happy {

// Why a JWT was not accepted (auth/jwt_verifier).
enum class token_refusal : std::uint8_t {
  none,
  too_long,         // over 8 KiB
  malformed,        // not three base64url parts, or its JSON is not claims
  bad_signature,    // the signature does not verify (or the token cannot be decoded)
  wrong_algorithm,  // signed with another algorithm than auth.jwt.algorithm
  bad_claims,       // exp missing or not a NumericDate, nbf not one, claims of the wrong shape
  expired,          // exp has passed
  not_yet_valid,    // nbf is still ahead
  wrong_audience,
  wrong_issuer,
};

// Why a read or a publish was not allowed (auth/access_policy).
enum class access_refusal : std::uint8_t {
  none,
  no_verifier,          // the topic is protected but no auth.jwt verifies tokens
  token_missing,        // the topic is protected and no token came with the request
  token_invalid,        // a JWT that did not verify (see token_refusal)
  not_for_this_topic,   // a valid JWT whose claim does not cover the topic
  publishing_disabled,  // no publish.tokens and no auth.jwt: nobody may publish
  wrong_publish_token,  // not one of publish.tokens (and no verifier to try)
};

const char* name_of(token_refusal why);
const char* name_of(access_refusal why);

}  // namespace happy
