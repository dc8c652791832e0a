// libFuzzer target: the token path. Every client may send a token (header,
// ?token=, cookie), so the verifier must refuse anything unsigned without
// crashing, and read correctly signed but hostile claims.
//
// The first byte picks the mode:
//   even: the rest is the token as sent (bytes never signed with the secret);
//   odd:  the rest is a JWT payload, which this harness signs with the
//         verifier's secret (HMAC-SHA256 from OpenSSL), so claim parsing
//         (exp, nbf, aud, iss, read, publish) sees arbitrary JSON.
// Plus: token extraction from header/query/cookie, and topic patterns.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "auth/access_policy.hpp"
#include "auth/jwt_verifier.hpp"
#include "auth/topic_pattern.hpp"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

const std::string secret = "fuzzing-secret-0123456789abcdef-0123456789";

std::string base64url(std::string_view data) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += alphabet[(v >> shift) & 63];
  }
  if (i < data.size()) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (i + 1 < data.size()) out += alphabet[(v >> 6) & 63];
  }
  return out;
}

std::string signed_token(std::string_view payload) {
  std::string input = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + base64url(std::string_view(reinterpret_cast<char*>(mac), length));
}

happy::config protected_config() {
  happy::config c;
  happy::jwt_config jwt;
  jwt.key = secret;
  jwt.audience = "dashboards";
  c.auth.jwt = jwt;
  c.auth.default_access = happy::topic_access::token;
  c.auth.cookie = "happy_token";
  c.publish_tokens = {"static-publish-token"};
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const happy::config settings = protected_config();
  static const happy::access_policy policy(settings);
  static const happy::jwt_verifier verifier(*settings.auth.jwt);
  const std::int64_t now_ms = 1'800'000'000'000;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  bool signed_mode = data[0] & 1;
  std::string token = signed_mode ? signed_token(rest) : std::string(rest);
  auto verdict = verifier.verify(token, now_ms);
  if (!signed_mode) require(!verdict.valid, "an unsigned token is never valid");
  if (token.size() > happy::max_token_bytes) require(!verdict.valid, "tokens over 8 KiB are refused");
  if (verdict.valid) {
    require(verdict.grant.expires_at_ms > now_ms, "a valid token has not expired");
    for (const auto& p : verdict.grant.read) require(happy::is_topic_pattern(p), "read holds patterns only");
    for (const auto& p : verdict.grant.publish) require(happy::is_topic_pattern(p), "publish holds patterns only");
  }
  auto read = policy.check_read("sales", token, now_ms);
  require(read.status == 0 || read.status == 401 || read.status == 403, "read: 0, 401 or 403");
  require(read.allowed() == (verdict.valid && verdict.grant.may_read("sales")), "read follows the verdict");
  // (Checked for JWT-shaped tokens: plain words may occur in the fixed wording,
  // which has no '.', e.g. "Bearer".)
  if (token.find('.') != std::string::npos)
    require(read.answer.find(token) == std::string::npos, "the answer never repeats the token");
  auto publish = policy.check_publish("sales", token, now_ms);
  require(publish.status == 0 || publish.status == 401 || publish.status == 403, "publish: 0, 401 or 403");

  // Extraction: whatever is found is part of what was sent.
  std::size_t third = rest.size() / 3;
  std::string_view header = rest.substr(0, third), query = rest.substr(third, third),
                   cookie = rest.substr(2 * third);
  auto found = happy::find_presented_token(header, query, cookie, "happy_token");
  if (!found.empty()) {
    auto inside = [&](std::string_view whole) {
      return found.data() >= whole.data() && found.data() + found.size() <= whole.data() + whole.size();
    };
    require(inside(header) || inside(query) || inside(cookie), "the token is a slice of the request");
  }

  // Patterns: without a wildcard a pattern matches only its own name.
  if (happy::is_topic_pattern(header) && !header.empty() && header.back() != '*')
    require(happy::topic_pattern_matches(header, query) == (header == query), "exact patterns match exactly");
  return 0;
}
