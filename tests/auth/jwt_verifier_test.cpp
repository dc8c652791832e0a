#include <catch2/catch.hpp>

#include "auth/jwt_verifier.hpp"
#include "auth/token_segments.hpp"
#include "token_mint.hpp"

using namespace happy;
using namespace happy::test;

namespace {

jwt_config hs256_config() {
  jwt_config c;
  c.algorithm = jwt_algorithm::hs256;
  c.key = test_secret;
  return c;
}

std::int64_t now_ms() { return now_s() * 1000; }

std::string claims(std::int64_t exp_offset_s, const std::string& extra = R"("read":["sales"])") {
  return R"({"exp":)" + std::to_string(now_s() + exp_offset_s) + (extra.empty() ? "" : "," + extra) + "}";
}

}  // namespace

TEST_CASE("a valid HS256 token yields its read and publish patterns and its expiry") {
  jwt_verifier verifier(hs256_config());
  auto token = hs256(claims(60, R"("read":["sales","sensors-*"],"publish":["sensors-a"])"));
  auto verdict = verifier.verify(token, now_ms());
  REQUIRE(verdict.valid());
  CHECK(verdict.grant.read == std::vector<std::string>{"sales", "sensors-*"});
  CHECK(verdict.grant.publish == std::vector<std::string>{"sensors-a"});
  CHECK(verdict.grant.expires_at_ms == (now_s() + 60) * 1000);
}

TEST_CASE("exp is required and honoured, nbf is honoured, leeway widens both") {
  jwt_verifier verifier(hs256_config());
  CHECK(verifier.verify(hs256(R"({"read":["sales"]})"), now_ms()).reason == "no 'exp' claim");
  CHECK(verifier.verify(hs256(claims(-5)), now_ms()).reason == "token expired");
  CHECK(verifier.verify(hs256(R"({"exp":"tomorrow"})"), now_ms()).reason ==
        "'exp' is not a NumericDate");
  auto not_yet = hs256(claims(600, R"("nbf":)" + std::to_string(now_s() + 60)));
  CHECK_FALSE(verifier.verify(not_yet, now_ms()).valid());
  CHECK(verifier.verify(not_yet, now_ms() + 61 * 1000).valid());

  auto lenient = hs256_config();
  lenient.leeway_s = 30;
  CHECK(jwt_verifier(lenient).verify(hs256(claims(-5)), now_ms()).valid());
}

TEST_CASE("aud and iss are checked when configured") {
  auto c = hs256_config();
  c.audience = "dashboards";
  c.issuer = "https://backend.example";
  jwt_verifier verifier(c);
  std::string iss = R"("iss":"https://backend.example")";
  CHECK(verifier.verify(hs256(claims(60, iss + R"(,"aud":"dashboards")")), now_ms()).valid());
  CHECK(verifier.verify(hs256(claims(60, iss + R"(,"aud":["x","dashboards"])")), now_ms()).valid());
  CHECK(verifier.verify(hs256(claims(60, iss + R"(,"aud":"other")")), now_ms()).reason == "wrong audience");
  CHECK(verifier.verify(hs256(claims(60, iss)), now_ms()).reason == "wrong audience");
  CHECK(verifier.verify(hs256(claims(60, R"("aud":"dashboards","iss":"evil")")), now_ms()).reason ==
        "wrong issuer");
}

TEST_CASE("hostile tokens are refused") {
  jwt_verifier verifier(hs256_config());
  SECTION("signed with another secret") {
    auto token = hs256(claims(60), "another-secret-another-secret-another-secret");
    CHECK_FALSE(verifier.verify(token, now_ms()).valid());
  }
  SECTION("alg none") {
    auto token = mint(JWT_ALG_NONE, "", claims(60));
    CHECK_FALSE(verifier.verify(token, now_ms()).valid());
  }
  SECTION("a flipped payload byte") {
    auto token = hs256(claims(60));
    auto dot = token.find('.');
    token[dot + 3] = token[dot + 3] == 'A' ? 'B' : 'A';
    CHECK_FALSE(verifier.verify(token, now_ms()).valid());
  }
  SECTION("not base64url, not three parts, too long") {
    CHECK_FALSE(verifier.verify("abc.d$f.ghi", now_ms()).valid());
    CHECK_FALSE(verifier.verify("only.two", now_ms()).valid());
    CHECK_FALSE(verifier.verify("", now_ms()).valid());
    auto huge = hs256(claims(60, R"("read":["sales"],"pad":")" + std::string(9000, 'x') + "\""));
    CHECK(verifier.verify(huge, now_ms()).reason == "token longer than 8 KiB");
  }
  SECTION("claims that are not topic patterns") {
    CHECK_FALSE(verifier.verify(hs256(claims(60, R"("read":"sales")")), now_ms()).valid());
    CHECK_FALSE(verifier.verify(hs256(claims(60, R"("read":["Sales!"])")), now_ms()).valid());
    CHECK_FALSE(verifier.verify(hs256(claims(60, R"("publish":[1])")), now_ms()).valid());
  }
}

TEST_CASE("header and claims are read strictly, from the signed bytes") {
  jwt_verifier verifier(hs256_config());
  const std::string header = R"({"alg":"HS256","typ":"JWT"})";
  SECTION("the hand-signed control token is valid") {
    CHECK(verifier.verify(hs256_raw(header, claims(60, R"("read":["a"])")), now_ms()).valid());
  }
  SECTION("alg in another case") {
    auto verdict = verifier.verify(hs256_raw(R"({"alg":"hs256","typ":"JWT"})", claims(60)), now_ms());
    CHECK_FALSE(verdict.valid());
    CHECK(verdict.reason == "header 'alg' is not HS256");
  }
  SECTION("a crit header names an extension nobody here understands") {
    for (const char* crit : {R"(["exp"])", R"(["x-unknown"])", "[]"}) {
      auto token = hs256_raw(std::string(R"({"alg":"HS256","crit":)") + crit + R"(,"x-unknown":1})",
                             claims(60));
      CHECK(verifier.verify(token, now_ms()).reason ==
            "header has 'crit': no extension is understood here");
    }
  }
  SECTION("a key twice in the claims, or in the header") {
    auto twice = hs256_raw(header, claims(60, R"("read":["a"],"read":["secret"])"));
    CHECK(verifier.verify(twice, now_ms()).reason == "claims: a key appears twice");
    auto nested = hs256_raw(header, claims(60, R"("x":{"k":1,"k":2})"));
    CHECK(verifier.verify(nested, now_ms()).reason == "claims: a key appears twice");
    auto header_twice = hs256_raw(R"({"alg":"none","alg":"HS256"})", claims(60));
    CHECK(verifier.verify(header_twice, now_ms()).reason == "header: a key appears twice");
  }
  SECTION("claims that are not an object") {
    CHECK(verifier.verify(hs256_raw(header, "[1]"), now_ms()).reason == "claims: not a JSON object");
  }
}

TEST_CASE("base64url segments decode exactly") {
  std::string out;
  CHECK(decode_base64url("", out));
  CHECK(out.empty());
  CHECK(decode_base64url("YQ", out));
  CHECK(out == "a");
  CHECK(decode_base64url("YWI", out));
  CHECK(out == "ab");
  CHECK(decode_base64url("-_8", out));
  CHECK(out == "\xfb\xff");
  CHECK_FALSE(decode_base64url("YQ==", out));  // padding is not base64url
  CHECK_FALSE(decode_base64url("Y", out));
  CHECK_FALSE(decode_base64url("a+b/", out));
}

TEST_CASE("RS256 and ES256 verify with the public key; HS256 signed with that key is refused") {
  for (bool rsa : {true, false}) {
    auto pair = make_key(rsa);
    jwt_config c;
    c.algorithm = rsa ? jwt_algorithm::rs256 : jwt_algorithm::es256;
    c.key = pair.public_pem;
    jwt_verifier verifier(c);
    auto good = mint(rsa ? JWT_ALG_RS256 : JWT_ALG_ES256, pair.private_pem, claims(60));
    CHECK(verifier.verify(good, now_ms()).valid());
    // Algorithm confusion: the public key (which is public) used as an HMAC secret.
    auto confused = mint(JWT_ALG_HS256, pair.public_pem, claims(60));
    auto verdict = verifier.verify(confused, now_ms());
    CHECK_FALSE(verdict.valid());
    // Another key pair's signature.
    auto other = make_key(rsa);
    CHECK_FALSE(verifier.verify(mint(rsa ? JWT_ALG_RS256 : JWT_ALG_ES256, other.private_pem, claims(60)),
                                now_ms())
                    .valid());
  }
}
