#include <catch2/catch.hpp>

#include "auth/token_grant.hpp"
#include "auth/topic_pattern.hpp"

using namespace happy;

TEST_CASE("topic patterns: a name, '*', or a prefix ending in '*'") {
  CHECK(is_topic_pattern("happiness"));
  CHECK(is_topic_pattern("*"));
  CHECK(is_topic_pattern("sensors-*"));
  CHECK_FALSE(is_topic_pattern(""));
  CHECK_FALSE(is_topic_pattern("sensors.*"));  // '.' is not in the topic-name alphabet
  CHECK_FALSE(is_topic_pattern("*-room"));     // only a trailing wildcard
  CHECK_FALSE(is_topic_pattern("a**"));
  CHECK_FALSE(is_topic_pattern("Happiness"));
  CHECK_FALSE(is_topic_pattern(std::string(70, 'a')));
}

TEST_CASE("a pattern matches the topic itself, every topic, or names with its prefix") {
  CHECK(topic_pattern_matches("happiness", "happiness"));
  CHECK_FALSE(topic_pattern_matches("happiness", "happiness-2"));
  CHECK(topic_pattern_matches("*", "anything"));
  CHECK(topic_pattern_matches("sensors-*", "sensors-kitchen"));
  CHECK(topic_pattern_matches("sensors-*", "sensors-"));
  CHECK_FALSE(topic_pattern_matches("sensors-*", "sensors"));
  CHECK_FALSE(topic_pattern_matches("sensors-*", "other-sensors-x"));
}

TEST_CASE("a grant reads and publishes only what its own lists cover") {
  token_grant grant{{"sales", "sensors-*"}, {"sensors-kitchen"}, 0};
  CHECK(grant.may_read("sales"));
  CHECK(grant.may_read("sensors-hall"));
  CHECK_FALSE(grant.may_read("salesforce"));
  CHECK(grant.may_publish("sensors-kitchen"));
  CHECK_FALSE(grant.may_publish("sales"));
}
