#include <catch2/catch.hpp>

#include "wire/keyed_publish.hpp"
#include "wire/reading_check.hpp"

using namespace happy;

TEST_CASE("a valid body is re-serialized compactly on one line") {
  auto r = check_reading(" {\n \"user\": 12.5,\n \"tags\": [1, 2] }\n");
  CHECK(r.ok());
  CHECK(r.value_json == R"({"user":12.5,"tags":[1,2]})");
  CHECK(check_reading("7.5").value_json == "7.5");
  CHECK(check_reading("\"text\"").value_json == "\"text\"");
}

TEST_CASE("invalid bodies are refused as not JSON, with the offset") {
  auto r = check_reading("{\"a\": }");
  CHECK(r.refusal == reading_refusal::not_json);
  CHECK(r.error == "invalid JSON at offset 6: Invalid value.");
  CHECK(check_reading("").refusal == reading_refusal::not_json);
  CHECK(check_reading("1 2").refusal == reading_refusal::not_json);
  CHECK(check_reading("NaN").refusal == reading_refusal::not_json);
}

TEST_CASE("deep nesting is refused before parsing") {
  CHECK(check_reading(std::string(64, '[') + std::string(64, ']')).ok());
  auto deep = check_reading(std::string(100000, '[') + std::string(100000, ']'));
  CHECK(deep.refusal == reading_refusal::too_deep);
  CHECK_THAT(deep.error, Catch::Contains("nested deeper than 64"));
  // Brackets inside strings do not count.
  CHECK(check_reading("\"" + std::string(1000, '[') + "\"").ok());
}

TEST_CASE("a keyed publisher frame gives its key and its value, compact") {
  auto keyed = read_keyed_publish(R"({"idempotency_key":"order-42","value":{"n":7}})");
  CHECK(keyed.error.empty());
  CHECK(keyed.key == "order-42");
  CHECK(keyed.value_json == R"({"n":7})");
  auto reversed = read_keyed_publish(R"({"value":[1,2],"idempotency_key":"k"})");
  CHECK(reversed.error.empty());
  CHECK(reversed.value_json == "[1,2]");
}

TEST_CASE("a keyed publisher frame of another shape is refused with the shape it needs") {
  for (const char* frame : {"7", R"({"value":1})", R"({"idempotency_key":"k"})",
                            R"({"idempotency_key":"k","value":1,"extra":2})",
                            R"({"idempotency_key":"k","value":1,"value":2})"}) {
    INFO(frame);
    CHECK_THAT(read_keyed_publish(frame).error, Catch::Contains(R"({"idempotency_key":"<key>","value":<JSON>})"));
  }
  for (const char* frame : {R"({"idempotency_key":"","value":1})", R"({"idempotency_key":"a b","value":1})",
                            R"({"idempotency_key":7,"value":1})"}) {
    INFO(frame);
    CHECK_THAT(read_keyed_publish(frame).error, Catch::Contains("1 to 128 printable ASCII"));
  }
  CHECK(read_keyed_publish(R"({"idempotency_key":")" + std::string(128, 'k') + R"(","value":1})").error.empty());
  CHECK_FALSE(read_keyed_publish(R"({"idempotency_key":")" + std::string(129, 'k') + R"(","value":1})").error.empty());
}
