#include <catch2/catch.hpp>

#include "net/history_json.hpp"
#include "net/refusal_answer.hpp"
#include "net/topic_list_json.hpp"

using namespace happy;

namespace {
bool anyone(const std::string&) { return true; }
}  // namespace

TEST_CASE("an unknown topic is a 404 that lists the topics there are") {
  auto answer = answer_for({subscribe_refusal::reason::unknown_topic, "nope", {"bench", "sales"}}, anyone);
  CHECK(answer.status == 404);
  CHECK(answer.json_body == R"({"error":"unknown topic 'nope'","topics":["bench","sales"]})");
}

TEST_CASE("the 404 names no topic the caller may not read") {
  auto answer = answer_for({subscribe_refusal::reason::unknown_topic, "nope", {"bench", "secret"}},
                           [](const std::string& topic) { return topic != "secret"; });
  CHECK(answer.json_body == R"({"error":"unknown topic 'nope'","topics":["bench"]})");
}

TEST_CASE("a subscription refused while shutting down is a 503") {
  auto answer = answer_for({subscribe_refusal::reason::shutting_down, "bench", {}}, anyone);
  CHECK(answer.status == 503);
  CHECK(answer.json_body == R"({"error":"service is shutting down"})");
}

TEST_CASE("GET /topics: a topic without a generator has interval_ms null") {
  std::vector<topic_stats> topics{{"bench", 7, 2, 0, 5}, {"happiness", 3, 0, 5000, 3}};
  CHECK(topic_list_json(topics) ==
        R"([{"name":"bench","seq":7,"subscribers":2,"interval_ms":null,"history":5,"retention_ms":null},)"
        R"({"name":"happiness","seq":3,"subscribers":0,"interval_ms":5000,"history":3,"retention_ms":null}])");
  CHECK_THAT(topic_list_json(topics, 86400000), Catch::Contains(R"("history":5,"retention_ms":86400000})"));
}

TEST_CASE("GET /topics/<name>/history: numbers as min/avg/max, object members as fields") {
  history_series series{"t", 0, 10, 5, {}};
  series.buckets.push_back({2, 3, {{"", 1, 2, 3, 3}}});
  series.buckets.push_back({7, 1, {{"cpu", 4, 4, 4, 1}, {"mem", 0.5, 0.5, 0.5, 1}}});
  CHECK(history_json(series) ==
        R"({"topic":"t","from":0,"to":10,"bucket_ms":5,"buckets":[)"
        R"({"time":2,"count":3,"min":1.0,"avg":2.0,"max":3.0},)"
        R"({"time":7,"count":1,"fields":{"cpu":{"min":4.0,"avg":4.0,"max":4.0,"count":1},)"
        R"("mem":{"min":0.5,"avg":0.5,"max":0.5,"count":1}}}]})");
}
