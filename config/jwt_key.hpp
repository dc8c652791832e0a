#pragma once

// Fetches what verifies tokens (auth.jwt): the HS256 secret from the config
// or the environment, or the PEM public key file for RS256/ES256, and checks
// that it fits the algorithm, so a wrong key is a start-up error rather than
// every token refused later.

#include <optional>
#include <string>

#include "config/config.hpp"

namespace happy {

struct jwt_key_problem {
  std::string pointer;  // e.g. /auth/jwt/public_key_file
  std::string problem;
};

// Fills jwt.key; returns what is wrong instead when it cannot.
std::optional<jwt_key_problem> load_jwt_key(jwt_config& jwt);

// HS256 secrets shorter than this are refused (RFC 7518 section 3.2: the key
// must be at least as long as the hash output, 256 bits).
inline constexpr std::size_t min_hs256_secret_bytes = 32;

}  // namespace happy
