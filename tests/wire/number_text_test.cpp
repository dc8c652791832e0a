#include <catch2/catch.hpp>

#include "wire/json_depth.hpp"
#include "wire/number_text.hpp"
#include "wire/text_excerpt.hpp"

using namespace happy;

TEST_CASE("a whole unsigned decimal fits 64 bits or is refused") {
  CHECK(parse_unsigned("0") == 0u);
  CHECK(parse_unsigned("18446744073709551615") == 18446744073709551615u);
  CHECK_FALSE(parse_unsigned("18446744073709551616"));   // 2^64
  CHECK_FALSE(parse_unsigned("000000000000000000042"));  // 21 digits, though the value is small
  for (auto bad : {"+42", "-1", " 42", "42 ", "4x2", "", "0x10"}) CHECK_FALSE(parse_unsigned(bad));
}

TEST_CASE("a decimal is the whole text and finite") {
  CHECK(parse_decimal("0.52") == 0.52);
  CHECK(parse_decimal("-3") == -3.0);
  CHECK(parse_decimal("1e3") == 1000.0);
  for (auto bad : {"+1", "inf", "nan", "1e999", "0.5?", "", " 1"}) CHECK_FALSE(parse_decimal(bad));
}

TEST_CASE("an excerpt is short and printable") {
  CHECK(excerpt("line one\nline two") == "line one line two");
  CHECK(excerpt("abc\x01\xff") == "abc??");
  CHECK(excerpt("0123456789", 4) == "0123...");
  CHECK(excerpt("trailing   ") == "trailing");
}

TEST_CASE("nesting is measured the same in text and in a parsed value") {
  for (std::string text : {"1", "[]", "[[1],{\"a\":[2]}]", "\"[[[\"", "{\"a\":{\"b\":{}}}"}) {
    rapidjson::Document doc;
    doc.Parse(text.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    auto depth = nesting_depth(text);
    CHECK_FALSE(nests_deeper_than(doc, depth));
    if (depth > 0) CHECK(nests_deeper_than(doc, depth - 1));
  }
}
