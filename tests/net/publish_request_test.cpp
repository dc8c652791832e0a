#include <catch2/catch.hpp>

#include "wire/publish_body.hpp"

using namespace happy;

TEST_CASE("a valid body is re-serialized compactly on one line") {
  auto r = check_publish_body(" {\n \"user\": 12.5,\n \"tags\": [1, 2] }\n");
  CHECK(r.status == 0);
  CHECK(r.value_json == R"({"user":12.5,"tags":[1,2]})");
  CHECK(check_publish_body("7.5").value_json == "7.5");
  CHECK(check_publish_body("\"text\"").value_json == "\"text\"");
}

TEST_CASE("invalid bodies are 400 with the offset") {
  auto r = check_publish_body("{\"a\": }");
  CHECK(r.status == 400);
  CHECK(r.error == "invalid JSON at offset 6: Invalid value.");
  CHECK(check_publish_body("").status == 400);
  CHECK(check_publish_body("1 2").status == 400);
  CHECK(check_publish_body("NaN").status == 400);
}

TEST_CASE("deep nesting is refused before parsing") {
  CHECK(check_publish_body(std::string(64, '[') + std::string(64, ']')).status == 0);
  auto deep = check_publish_body(std::string(100000, '[') + std::string(100000, ']'));
  CHECK(deep.status == 400);
  CHECK_THAT(deep.error, Catch::Contains("nested deeper than 64"));
  // Brackets inside strings do not count.
  CHECK(check_publish_body("\"" + std::string(1000, '[') + "\"").status == 0);
}
