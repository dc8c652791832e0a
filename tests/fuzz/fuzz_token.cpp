// libFuzzer target: the token path. Every client may send a token (header,
// ?token=, cookie), so the verifier must refuse anything unsigned without
// crashing, and read correctly signed but hostile claims.
//
// The first byte picks the mode (its two low bits):
//   0, 2: the rest is the token as sent (bytes never signed with the secret);
//   1:    the rest is a JWT payload, which this harness signs with the
//         verifier's secret (HMAC-SHA256 from OpenSSL) under the header
//         {"alg":"HS256","typ":"JWT"}, so claim parsing (exp, nbf, aud, iss,
//         read, publish) sees arbitrary JSON;
//   3:    the rest is a header, a newline, and a payload, signed as written
//         (odd headers: "alg" in another case, "crit", keys twice).
// Plus: token extraction from header/query/cookie, and topic patterns.
//
// For harness-signed tokens the verdicts are tied to the claims as this
// harness reads them (RapidJSON on the payload as signed, and its own topic
// matcher): a read or publish to topic T is allowed exactly when the token is
// valid and its `read` / `publish` claim lists a pattern covering T, and the
// grant lists what the claim lists. A claim named twice is ambiguous: then
// allowing T only needs one of the two to cover it, so the invariants hold
// whether the verifier takes the first, the last, or refuses the token.
// Likewise a valid token has an unexpired `exp`, the configured audience, and
// "alg": "HS256" in its header, letter case aside (libjwt ignores the case;
// auth/token_segments does not). Bytes never signed publish only when they
// are the configured static publish token.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <rapidjson/document.h>
#include <strings.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

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

std::string signed_token(std::string_view header, std::string_view payload) {
  std::string input = base64url(header) + "." + base64url(payload);
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

const char* const topics[] = {"sales", "secret", "sensors-7"};
constexpr std::int64_t now_ms = 1'800'000'000'000;

// The topic-pattern rule, written out again: "*", the name itself, or a
// prefix followed by '*'.
bool covers(std::string_view pattern, std::string_view topic) {
  if (pattern == "*" || pattern == topic) return true;
  return pattern.size() >= 2 && pattern.back() == '*' &&
         topic.substr(0, pattern.size() - 1) == pattern.substr(0, pattern.size() - 1);
}

std::string_view text_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// Every member of `object` named `name` (a JSON object may repeat a name).
std::vector<const rapidjson::Value*> all_named(const rapidjson::Value& object,
                                               std::string_view name) {
  std::vector<const rapidjson::Value*> out;
  for (const auto& member : object.GetObject())
    if (text_of(member.name) == name) out.push_back(&member.value);
  return out;
}

// One `read` / `publish` claim: does it list a pattern covering `topic`?
bool claim_covers(const rapidjson::Value& claim, std::string_view topic) {
  if (!claim.IsArray()) return false;
  for (const auto& item : claim.GetArray())
    if (item.IsString() && covers(text_of(item), topic)) return true;
  return false;
}

// One claim, as the list of strings a grant would hold.
bool same_list(const rapidjson::Value& claim, const std::vector<std::string>& granted) {
  if (!claim.IsArray() || claim.Size() != granted.size()) return false;
  for (rapidjson::SizeType k = 0; k < claim.Size(); ++k)
    if (!claim[k].IsString() || text_of(claim[k]) != granted[k]) return false;
  return true;
}

// The decision for `topic` against the claims named `name` (read or publish).
void check_claim(const rapidjson::Value& claims, const char* name,
                 const std::vector<std::string>& granted, bool valid, std::string_view topic,
                 const happy::access_decision& decision) {
  auto claimed = all_named(claims, name);
  bool some_covers = false;
  for (const auto* claim : claimed) some_covers |= claim_covers(*claim, topic);
  if (decision.allowed())
    require(valid && some_covers, "allowed only by a valid token whose claim covers the topic");
  if (!valid) require(decision.refusal == happy::access_refusal::token_invalid, "an invalid token is refused as invalid");
  if (!valid || claimed.size() > 1) return;
  // One claim or none: the decision is exactly what it says.
  require(decision.allowed() == some_covers,
          "a valid token is allowed exactly where its claim covers");
  if (!some_covers)
    require(decision.refusal == happy::access_refusal::not_for_this_topic, "a valid token outside its claim is not for this topic");
  if (claimed.empty())
    require(granted.empty(), "no claim, nothing granted");
  else
    require(same_list(*claimed.front(), granted), "the grant lists what the claim lists");
}

bool some_member(const rapidjson::Value& object, std::string_view name,
                 bool (*good)(const rapidjson::Value&)) {
  for (const auto* v : all_named(object, name))
    if (good(*v)) return true;
  return false;
}

// What the harness knows of a payload it signed, checked against the verdict
// and the access decisions for it.
void check_signed(std::string_view header_json, std::string_view payload,
                  const happy::token_verdict& verdict, const happy::access_policy& policy,
                  const std::string& token) {
  rapidjson::Document claims;
  claims.Parse<rapidjson::kParseIterativeFlag>(payload.data(), payload.size());
  bool known = !claims.HasParseError() && claims.IsObject();
  for (const char* topic : topics) {
    auto read = policy.check_read(topic, token, now_ms);
    auto publish = policy.check_publish(topic, token, now_ms);
    // (A harness-signed token is never the static publish token: it has dots.)
    require(!publish.allowed() || verdict.valid(), "publish: only a valid token");
    require(!read.allowed() || verdict.valid(), "read: only a valid token");
    if (!known) continue;
    check_claim(claims, "read", verdict.grant.read, verdict.valid(), topic, read);
    check_claim(claims, "publish", verdict.grant.publish, verdict.valid(), topic, publish);
  }
  if (!verdict.valid()) return;
  if (known) {
    require(some_member(claims, "exp",
                        [](const rapidjson::Value& v) {
                          return v.IsNumber() &&
                                 v.GetDouble() * 1000.0 > static_cast<double>(now_ms);
                        }),
            "a valid token has an unexpired exp claim");
    require(some_member(claims, "aud",
                        [](const rapidjson::Value& v) {
                          if (v.IsString()) return text_of(v) == "dashboards";
                          if (!v.IsArray()) return false;
                          for (const auto& item : v.GetArray())
                            if (item.IsString() && text_of(item) == "dashboards") return true;
                          return false;
                        }),
            "a valid token names the audience");
  }
  rapidjson::Document header;
  header.Parse<rapidjson::kParseIterativeFlag>(header_json.data(), header_json.size());
  require(!header.HasParseError() && header.IsObject(),
          "a valid token has a JSON object for a header");
  require(some_member(header, "alg",
                      [](const rapidjson::Value& v) {
                        return v.IsString() && v.GetStringLength() == 5 &&
                               strcasecmp(v.GetString(), "HS256") == 0;
                      }),
          "a valid token's header says HS256");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const happy::config settings = protected_config();
  static const happy::access_policy policy(settings);
  static const happy::jwt_verifier verifier(*settings.auth.jwt);
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  bool signed_mode = data[0] & 1;
  std::string_view header_json = R"({"alg":"HS256","typ":"JWT"})", payload = rest;
  if ((data[0] & 3) == 3) {
    auto newline = rest.find('\n');
    header_json = rest.substr(0, newline);
    payload = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
  }
  std::string token = signed_mode ? signed_token(header_json, payload) : std::string(rest);
  auto verdict = verifier.verify(token, now_ms);
  if (!signed_mode) require(!verdict.valid(), "an unsigned token is never valid");
  if (token.size() > happy::max_token_bytes) require(!verdict.valid(), "tokens over 8 KiB are refused");
  if (verdict.valid()) {
    require(verdict.grant.expires_at_ms > now_ms, "a valid token has not expired");
    for (const auto& p : verdict.grant.read) require(happy::is_topic_pattern(p), "read holds patterns only");
    for (const auto& p : verdict.grant.publish) require(happy::is_topic_pattern(p), "publish holds patterns only");
  }
  auto read = policy.check_read("sales", token, now_ms);
  require(read.allowed() == (read.refusal == happy::access_refusal::none), "read: allowed exactly when nothing refused");
  require((read.refusal == happy::access_refusal::token_invalid) == (read.token != happy::token_refusal::none),
          "read: a token reason exactly for an invalid token");
  require(read.allowed() == (verdict.valid() && verdict.grant.may_read("sales")), "read follows the verdict");
  // (Checked for JWT-shaped tokens: plain words may occur in the fixed wording,
  // which has no '.', e.g. "Bearer".)
  if (token.find('.') != std::string::npos)
    require(read.answer.find(token) == std::string::npos, "the answer never repeats the token");
  auto publish = policy.check_publish("sales", token, now_ms);
  require((publish.refusal == happy::access_refusal::token_invalid) == (publish.token != happy::token_refusal::none),
          "publish: a token reason exactly for an invalid token");
  if (signed_mode)
    check_signed(header_json, payload, verdict, policy, token);
  else
    require(publish.allowed() == (token == "static-publish-token"),
            "unsigned: only the static publish token publishes");

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
