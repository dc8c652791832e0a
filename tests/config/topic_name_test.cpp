#include <catch2/catch.hpp>

#include "config/topic_name.hpp"

using namespace happy;

TEST_CASE("valid topic names") {
  for (auto name : {"happiness", "a", "0", "cpu_load-2"}) CHECK(is_valid_topic_name(name));
  CHECK(is_valid_topic_name(std::string(64, 'x')));
}

TEST_CASE("invalid and reserved topic names say why") {
  CHECK(topic_name_problem("") == "topic name is empty");
  CHECK(topic_name_problem(std::string(65, 'x')) == "topic name is longer than 64 characters");
  CHECK_FALSE(is_valid_topic_name("_x"));
  CHECK_FALSE(is_valid_topic_name("-x"));
  CHECK_FALSE(is_valid_topic_name("Happy"));
  CHECK_FALSE(is_valid_topic_name("a b"));
  CHECK_FALSE(is_valid_topic_name("a.b"));
  for (auto reserved : {"topics", "api", "healthz", "readyz", "metrics", "assets", "index.html",
                        "seq", "ts", "topic", "type"})
    CHECK_FALSE(is_valid_topic_name(reserved));
  CHECK(topic_name_problem("metrics") == "'metrics' is a reserved name");
}
