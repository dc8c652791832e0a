#include <catch2/catch.hpp>

#include "auth/access_policy.hpp"
#include "token_mint.hpp"

using namespace happy;
using namespace happy::test;

namespace {

config protected_config() {
  config c;
  c.publish_tokens = {"static-publish-token"};
  jwt_config jwt;
  jwt.key = test_secret;
  c.auth.jwt = jwt;
  c.auth.cookie = "happy_token";
  c.topics["happiness"] = topic_config{};
  topic_config sales;
  sales.access = topic_access::token;
  c.topics["sales"] = sales;
  return c;
}

std::int64_t now_ms() { return now_s() * 1000; }

std::string token_for(const std::string& grants) {
  return hs256(R"({"exp":)" + std::to_string(now_s() + 60) + "," + grants + "}");
}

}  // namespace

TEST_CASE("the token comes from the Authorization header, then ?token=, then the cookie") {
  CHECK(find_presented_token("Bearer abc", "def", "happy_token=ghi", "happy_token") == "abc");
  CHECK(find_presented_token("bearer  abc ", "", "", "") == "abc");
  CHECK(find_presented_token("Basic xyz", "def", "", "") == "def");
  CHECK(find_presented_token("", "", "a=1; happy_token=ghi; b=2", "happy_token") == "ghi");
  CHECK(find_presented_token("", "", "a=1; happy_token=\"ghi\"", "happy_token") == "ghi");
  CHECK(find_presented_token("", "", "xhappy_token=ghi", "happy_token").empty());
  CHECK(find_presented_token("", "", "happy_token=ghi", "").empty());  // no cookie configured
}

TEST_CASE("open topics need no token; protected ones say which: no token, a bad one, or one for another topic") {
  access_policy policy(protected_config());
  CHECK_FALSE(policy.is_protected("happiness"));
  CHECK(policy.is_protected("sales"));
  CHECK(policy.check_read("happiness", "", now_ms()).allowed());
  CHECK(policy.check_read("happiness", "garbage", now_ms()).allowed());  // ignored on open topics

  auto missing = policy.check_read("sales", "", now_ms());
  CHECK(missing.refusal == access_refusal::token_missing);
  auto bad = policy.check_read("sales", "a.b.c", now_ms());
  CHECK(bad.refusal == access_refusal::token_invalid);
  CHECK(bad.token == token_refusal::malformed);
  CHECK(bad.answer.find("a.b.c") == std::string::npos);
  auto other = policy.check_read("sales", token_for(R"("read":["marketing"])"), now_ms());
  CHECK(other.refusal == access_refusal::not_for_this_topic);
  auto good = policy.check_read("sales", token_for(R"("read":["sal*"])"), now_ms());
  CHECK(good.allowed());
  CHECK(good.expires_at_ms == (now_s() + 60) * 1000);
}

TEST_CASE("default_access token protects every topic not marked open, including new ones") {
  auto c = protected_config();
  c.auth.default_access = topic_access::token;
  c.topics["happiness"].access = topic_access::open;
  access_policy policy(c);
  CHECK_FALSE(policy.is_protected("happiness"));
  CHECK(policy.is_protected("created-by-publishing"));
}

TEST_CASE("a reload changes which topics are protected") {
  auto c = protected_config();
  access_policy policy(c);
  CHECK_FALSE(policy.is_protected("happiness"));
  c.topics["happiness"].access = topic_access::token;
  c.topics.erase("sales");
  policy.update_topics(c);
  CHECK(policy.is_protected("happiness"));
  CHECK_FALSE(policy.is_protected("sales"));
}

TEST_CASE("publishing takes a publish.tokens entry or a JWT whose publish claim covers the topic") {
  access_policy policy(protected_config());
  CHECK(policy.check_publish("sales", "static-publish-token", now_ms()).allowed());
  CHECK(policy.check_publish("sales", "", now_ms()).refusal == access_refusal::token_missing);
  CHECK(policy.check_publish("sales", "wrong-static-token", now_ms()).refusal ==
        access_refusal::wrong_publish_token);
  CHECK(policy.check_publish("sales", token_for(R"("publish":["sales"])"), now_ms()).allowed());
  CHECK(policy.check_publish("sales", token_for(R"("read":["sales"])"), now_ms()).refusal ==
        access_refusal::not_for_this_topic);
  auto expired = policy.check_publish("sales", hs256(R"({"exp":1,"publish":["*"]})"), now_ms());
  CHECK(expired.refusal == access_refusal::token_invalid);
  CHECK(expired.token == token_refusal::expired);

  config nothing;  // neither static tokens nor JWT: publishing is off, with a how-to
  auto off = access_policy(nothing).check_publish("happiness", "anything", now_ms());
  CHECK(off.refusal == access_refusal::publishing_disabled);
  CHECK_THAT(off.answer, Catch::Contains("publish.tokens"));
}

TEST_CASE("a caller sees open topics and the protected ones its token reads") {
  access_policy policy(protected_config());
  auto anonymous = policy.identify("", now_ms());
  CHECK_FALSE(anonymous.refused());
  CHECK(policy.may_read(anonymous, "happiness"));
  CHECK_FALSE(policy.may_read(anonymous, "sales"));
  auto reader = policy.identify(token_for(R"("read":["sales"])"), now_ms());
  CHECK(policy.may_read(reader, "sales"));
  CHECK(policy.identify("not-a-token", now_ms()).refusal == access_refusal::token_invalid);
}
