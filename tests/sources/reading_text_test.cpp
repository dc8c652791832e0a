#include <catch2/catch.hpp>

#include "sources/reading_text.hpp"

using namespace happy;

TEST_CASE("a program's output is one JSON value, written compact") {
  CHECK(reading_from_text("42\n", 100).reading == "42");
  CHECK(reading_from_text("  {\"a\": [1, 2.5],\n \"b\": \"x\"}\n", 100).reading ==
        R"({"a":[1,2.5],"b":"x"})");
  CHECK(reading_from_text("\"text\"", 100).reading == "\"text\"");
}

TEST_CASE("anything else is bad output or too large") {
  for (auto text : {"", "not json", "42 43", "{\"a\":1} trailing", "NaN", "\xff\xfe"}) {
    auto outcome = reading_from_text(text, 100);
    INFO(text);
    CHECK(outcome.failure == source_failure::bad_output);
    CHECK_THAT(outcome.problem, Catch::StartsWith("expected one JSON value"));
  }
  auto big = reading_from_text("\"" + std::string(200, 'x') + "\"", 100);
  CHECK(big.failure == source_failure::too_large);
  CHECK_THAT(big.problem, Catch::Contains("limits.max_message_bytes = 100"));
}

TEST_CASE("a JSON Pointer picks the value, with RFC 6901 escapes") {
  const std::string body = R"({"a":{"b":[1,{"c":2.5}]},"x/y":{"m~n":7},"":{"":"empty"}})";
  CHECK(reading_at_pointer(body, "/a/b/1/c", 100).reading == "2.5");
  CHECK(reading_at_pointer(body, "/a/b", 100).reading == "[1,{\"c\":2.5}]");
  CHECK(reading_at_pointer(body, "/x~1y/m~0n", 100).reading == "7");
  CHECK(reading_at_pointer(body, "//", 100).reading == "\"empty\"");
  CHECK(reading_at_pointer(body, "", 1000).reading == body);
  auto missing = reading_at_pointer(body, "/a/b/5", 100);
  CHECK(missing.failure == source_failure::bad_output);
  CHECK(missing.problem == "the body has no value at JSON Pointer '/a/b/5'");
  CHECK(reading_at_pointer("<html>", "/a", 100).failure == source_failure::bad_output);
}

TEST_CASE("log excerpts are short and printable") {
  CHECK(excerpt("line one\nline two") == "line one line two");
  CHECK(excerpt(std::string(100, 'x'), 10) == "xxxxxxxxxx...");
  CHECK(excerpt("bell\x07") == "bell?");
}

TEST_CASE("readings pass the publish gate: bounded depth, numbers JSON can hold") {
  auto nested = [](int levels) { return std::string(levels, '[') + std::string(levels, ']'); };
  CHECK(reading_from_text(nested(64), 1000).ok());
  auto deep = reading_from_text(nested(65), 1000);
  CHECK(deep.failure == source_failure::bad_output);
  CHECK_THAT(deep.problem, Catch::Contains("nested deeper than 64 levels"));
  CHECK(reading_from_text("1e999", 100).failure == source_failure::bad_output);
  CHECK(reading_from_text("\"\\udc00\"", 100).failure == source_failure::bad_output);

  // A body far deeper than the stack could recurse: parsed without recursion, refused.
  std::string body = "{\"a\":" + nested(1000000) + ",\"b\":" + nested(3) + "}";
  CHECK(reading_at_pointer(body, "/b", 1000).reading == "[[[]]]");
  auto too_deep = reading_at_pointer(body, "/a", 1000);
  CHECK(too_deep.failure == source_failure::bad_output);
  CHECK(too_deep.problem == "the value at '/a' is nested deeper than 64 levels");
}
