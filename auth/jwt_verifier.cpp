#include "auth/jwt_verifier.hpp"

#include <jwt.h>
#include <rapidjson/document.h>

#include <cmath>
#include <memory>

#include "auth/token_segments.hpp"
#include "auth/topic_pattern.hpp"

namespace happy {

namespace {

struct jwt_free_deleter {
  void operator()(jwt_t* token) const { jwt_free(token); }
};

jwt_alg_t libjwt_algorithm(jwt_algorithm algorithm) {
  switch (algorithm) {
    case jwt_algorithm::hs256: return JWT_ALG_HS256;
    case jwt_algorithm::rs256: return JWT_ALG_RS256;
    case jwt_algorithm::es256: return JWT_ALG_ES256;
  }
  return JWT_ALG_INVAL;
}

const char* algorithm_name(jwt_algorithm algorithm) {
  switch (algorithm) {
    case jwt_algorithm::hs256: return "HS256";
    case jwt_algorithm::rs256: return "RS256";
    case jwt_algorithm::es256: return "ES256";
  }
  return "?";
}

// Three base64url segments: anything else is refused before libjwt sees it.
bool has_jwt_shape(std::string_view token) {
  int dots = 0;
  for (char c : token) {
    if (c == '.') ++dots;
    else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_'))
      return false;
  }
  return dots == 2;
}

token_verdict refused(token_refusal why, std::string reason) { return {why, std::move(reason), {}}; }

// A NumericDate (seconds, possibly fractional) as Unix milliseconds.
bool read_numeric_date(const rapidjson::Value& v, std::int64_t& out_ms) {
  if (!v.IsNumber()) return false;
  double seconds = v.GetDouble();
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e13) return false;
  out_ms = static_cast<std::int64_t>(seconds * 1000.0);
  return true;
}

// `read` / `publish`: an array of topic patterns (absent: none).
bool read_patterns(const rapidjson::Value& claims, const char* name,
                   std::vector<std::string>& out, std::string& problem) {
  auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) return true;
  if (!it->value.IsArray()) {
    problem = std::string("claim '") + name + "' is not an array of topic patterns";
    return false;
  }
  for (const auto& item : it->value.GetArray()) {
    if (!item.IsString() || !is_topic_pattern({item.GetString(), item.GetStringLength()})) {
      problem = std::string("claim '") + name + "' holds something that is not a topic pattern";
      return false;
    }
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return true;
}

bool audience_matches(const rapidjson::Value& aud, const std::string& wanted) {
  if (aud.IsString()) return wanted == aud.GetString();
  if (!aud.IsArray()) return false;
  for (const auto& item : aud.GetArray())
    if (item.IsString() && wanted == item.GetString()) return true;
  return false;
}

}  // namespace

jwt_verifier::jwt_verifier(jwt_config settings) : settings_(std::move(settings)) {}

token_verdict jwt_verifier::verify(std::string_view token, std::int64_t now_ms) const {
  if (token.size() > max_token_bytes) return refused(token_refusal::too_long, "token longer than 8 KiB");
  if (!has_jwt_shape(token)) return refused(token_refusal::malformed, "not a JWT (three base64url parts)");
  // Judged before libjwt: it takes `alg` in any case and ignores `crit`.
  if (auto problem = check_token_header(token, algorithm_name(settings_.algorithm)); !problem.empty())
    return refused(token_refusal::malformed, problem);
  std::string text(token);
  jwt_t* raw = nullptr;
  const auto* key = reinterpret_cast<const unsigned char*>(settings_.key.data());
  int error = jwt_decode(&raw, text.c_str(), key, static_cast<int>(settings_.key.size()));
  std::unique_ptr<jwt_t, jwt_free_deleter> decoded(raw);
  if (error != 0 || !decoded) return refused(token_refusal::bad_signature, "bad signature or malformed token");
  // libjwt verified with the algorithm the token names; only ours is trusted.
  if (jwt_get_alg(decoded.get()) != libjwt_algorithm(settings_.algorithm))
    return refused(token_refusal::wrong_algorithm, std::string("token not signed with ") + algorithm_name(settings_.algorithm));
  // The signed bytes themselves, not libjwt's re-serialization (which keeps
  // only the last of two equal keys).
  rapidjson::Document claims;
  if (std::string problem; !read_token_claims(token, claims, problem)) return refused(token_refusal::malformed, problem);

  std::int64_t leeway_ms = settings_.leeway_s * 1000;
  token_verdict verdict;
  auto exp = claims.FindMember("exp");
  if (exp == claims.MemberEnd()) return refused(token_refusal::bad_claims, "no 'exp' claim");
  std::int64_t exp_ms = 0;
  if (!read_numeric_date(exp->value, exp_ms)) return refused(token_refusal::bad_claims, "'exp' is not a NumericDate");
  verdict.grant.expires_at_ms = exp_ms + leeway_ms;
  if (now_ms >= verdict.grant.expires_at_ms) return refused(token_refusal::expired, "token expired");
  if (auto nbf = claims.FindMember("nbf"); nbf != claims.MemberEnd()) {
    std::int64_t nbf_ms = 0;
    if (!read_numeric_date(nbf->value, nbf_ms)) return refused(token_refusal::bad_claims, "'nbf' is not a NumericDate");
    if (now_ms + leeway_ms < nbf_ms) return refused(token_refusal::not_yet_valid, "token not valid yet (nbf)");
  }
  if (!settings_.audience.empty()) {
    auto aud = claims.FindMember("aud");
    if (aud == claims.MemberEnd() || !audience_matches(aud->value, settings_.audience))
      return refused(token_refusal::wrong_audience, "wrong audience");
  }
  if (!settings_.issuer.empty()) {
    auto iss = claims.FindMember("iss");
    if (iss == claims.MemberEnd() || !iss->value.IsString() || settings_.issuer != iss->value.GetString())
      return refused(token_refusal::wrong_issuer, "wrong issuer");
  }
  std::string problem;
  if (!read_patterns(claims, "read", verdict.grant.read, problem) ||
      !read_patterns(claims, "publish", verdict.grant.publish, problem))
    return refused(token_refusal::bad_claims, problem);
  return verdict;
}

}  // namespace happy
