#pragma once

// Verifies JSON Web Tokens (RFC 7519) minted by the application's backend:
// the signature with libjwt (only the configured algorithm is accepted, so
// neither "alg": "none" nor HS256 signed with an RSA public key gets
// through), then the claims: exp (required), nbf, aud, iss, and the topic
// patterns in `read` and `publish`.

#include <cstdint>
#include <string>
#include <string_view>

#include "auth/refusal.hpp"
#include "auth/token_grant.hpp"
#include "config/config.hpp"

namespace happy {

// Longer tokens are refused before any decoding.
inline constexpr std::size_t max_token_bytes = 8 * 1024;

// A token is valid exactly when nothing refused it: one field says both.
struct token_verdict {
  token_refusal refusal = token_refusal::none;  // why not (none: valid)
  std::string reason;  // why not, in words, for the log (never contains the token)
  token_grant grant;
  bool valid() const { return refusal == token_refusal::none; }
};

class jwt_verifier {
 public:
  // `settings.key` holds the secret or the PEM public key (config/jwt_key.hpp).
  explicit jwt_verifier(jwt_config settings);

  // `now_ms`: Unix time in milliseconds. Safe to call from any thread.
  token_verdict verify(std::string_view token, std::int64_t now_ms) const;

 private:
  jwt_config settings_;
};

}  // namespace happy
